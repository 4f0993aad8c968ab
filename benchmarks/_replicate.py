"""A big book made from a smaller one: every borrower's rows copied ``factor - 1`` more
times under fresh ids, inside the database (``INSERT ... SELECT``; PostgreSQL or
SQLite), for ``benchmarks/run_end_to_end.py``.

Building a demo book through the real import path costs about a CPU second per 60
borrowers here (the 100,000-borrower book took 25 minutes at load 10), so a
1,000,000-borrower book would take hours; ten copies of the 100,000-borrower book take
minutes and give the daily run the same work per borrower (the same loans, schedules,
payments, contact points, promises, plans, legal queue and history of snapshots and
scores) at ten times the size. Copy ``k`` of a row gets ``id + k * span`` for its own id
and for every reference to a copied table (``span``: one more than the table's largest
id), and its unique text columns (the lender's references) get ``~k`` appended. Tables
that hold no borrower's data (products, contracts, models, templates, import batches,
staff, the audit trail) are not copied: the copies share them.

What differs from a book of a million distinct borrowers: the copies' encrypted personal
data and blind indexes repeat (ten borrowers share a phone number's blind index), which
the daily run does not read.
"""

from __future__ import annotations

from sqlalchemy import Connection, Integer, String, Table, UniqueConstraint, text

from forbear.store.models import Base

# The tables copied: a borrower's own rows and everything that hangs off them. Anything
# else (configuration, staff, the audit chain, imports) is shared by the copies.
COPIED = (
    "borrowers",
    "loans",
    "instalments",
    "payments",
    "contact_points",
    "account_states",
    "account_scores",
    "promises",
    "plans",
    "plan_lines",
    "legal_queue",
    "legal_cases",
    "legal_case_events",
    "legal_case_costs",
    "demands",
)


def _tables() -> list[Table]:
    by_name = {t.name: t for t in Base.metadata.sorted_tables}
    missing = [name for name in COPIED if name not in by_name]
    if missing:
        raise SystemExit(f"replicate: unknown tables {missing}")
    return [t for t in Base.metadata.sorted_tables if t.name in COPIED]  # FK order


def _spans(conn: Connection, tables: list[Table]) -> dict[str, int]:
    spans = {}
    for table in tables:
        if "id" in table.c and isinstance(table.c.id.type, Integer):
            top = conn.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table.name}"')).scalar()
            spans[table.name] = int(top or 0) + 1
    return spans


def _unique_text(table: Table, spans: dict[str, int]) -> set[str]:
    """The text columns of a unique constraint or index that no shifted id keeps unique
    (the lender's references): the copies append ``~k`` to them."""
    groups = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    groups += [list(i.columns) for i in table.indexes if i.unique]
    names: set[str] = set()
    for columns in groups:
        shifted = any(
            (c.name == "id" and table.name in spans)
            or any(fk.column.table.name in spans for fk in c.foreign_keys)
            for c in columns
        )
        if not shifted:
            names |= {c.name for c in columns if isinstance(c.type, String)}
    return names


def _select_list(table: Table, spans: dict[str, int], k: int) -> str:
    texts = _unique_text(table, spans)
    out = []
    for column in table.columns:
        name = f'"{column.name}"'
        targets = {fk.column.table.name for fk in column.foreign_keys}
        copied_target = next((t for t in targets if t in spans), None)
        if column.name == "id" and table.name in spans:
            out.append(f"{name} + {k * spans[table.name]}")
        elif copied_target is not None:
            out.append(f"{name} + {k * spans[copied_target]}")
        elif column.name in texts:
            out.append(f"{name} || '~{k}'")
        else:
            out.append(name)
    return ", ".join(out)


def replicate(conn: Connection, factor: int) -> dict[str, int]:
    """Copy the book's borrowers ``factor - 1`` more times (see the module docstring), in
    the caller's transaction; returns each table's rows afterwards."""
    if factor < 2:
        return {}
    tables = _tables()
    spans = _spans(conn, tables)
    # the copies' references are the originals' shifted: no need to check each of some
    # thirty million foreign keys one row at a time (a superuser setting; benchmark only)
    # (SQLite: a plain connection does not check foreign keys; the caller opens one)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    for table in tables:
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        for k in range(1, factor):
            conn.execute(
                text(
                    f'INSERT INTO "{table.name}" ({columns}) '
                    f'SELECT {_select_list(table, spans, k)} FROM "{table.name}"'
                    + (f" WHERE id < {spans[table.name]}" if table.name in spans else "")
                    + _original_rows(table, spans)
                )
            )
    for table in tables:  # sequences past the copies' ids (SQLite takes max(id) + 1)
        if postgres and table.name in spans:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{table.name}"))'
                )
            )
    conn.execute(text("ANALYZE"))
    return {
        t.name: int(conn.execute(text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar() or 0)
        for t in tables
    }


def _original_rows(table: Table, spans: dict[str, int]) -> str:
    """For a table without an id of its own: only the rows of the original book (those
    whose reference to a copied table is below that table's span)."""
    if table.name in spans:
        return ""
    for column in table.columns:
        for fk in column.foreign_keys:
            target = fk.column.table.name
            if target in spans:
                return f' WHERE "{column.name}" < {spans[target]}'
    raise SystemExit(f"replicate: {table.name} has neither an id nor a copied reference")
