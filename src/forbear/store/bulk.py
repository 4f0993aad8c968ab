"""Bulk I/O between the database and Polars frames (DESIGN.md: bulk paths never go row
by row through the ORM).

Every function takes a SQLAlchemy :class:`Connection` and works inside the caller's
transaction; none commits. Frames follow the contracts in
:mod:`forbear.domain.ledger.schema` exactly (names, order and dtypes).

- Reading: a Core ``select``; on PostgreSQL the result streams out through
  ``COPY (...) TO STDOUT`` as CSV straight into ``pl.read_csv``; on SQLite the rows are
  fetched and turned into typed columns. Both end in an explicit cast to the contract.
- Writing: :func:`write_frame` uses psycopg's ``COPY ... FROM STDIN`` on PostgreSQL and a
  chunked Core ``insert()`` executemany on SQLite.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, Table, delete, select

from forbear.domain.ledger import schema as contracts
from forbear.domain.products import ProductTerms
from forbear.store.models import (
    AccountScore,
    AccountState,
    Base,
    Instalment,
    Loan,
    Payment,
    Product,
)

SQLITE_CHUNK_ROWS = 10_000
_STATE_COLUMNS = [getattr(AccountState, name) for name in contracts.STATES]


def read_loans(conn: Connection, loan_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Every loan (or ``loan_ids``) as ``LOANS`` (with its product's code), by ``loan_id``."""
    stmt = (
        select(
            Loan.id.label("loan_id"),
            Product.code.label("product_code"),
            Loan.principal,
            Loan.term_months,
            Loan.annual_rate_bp,
            Loan.start_date,
            Loan.first_due_date,
            Loan.written_off_on,
        )
        .join(Product, Product.id == Loan.product_id)
        .order_by(Loan.id)
    )
    if loan_ids is not None:
        stmt = stmt.where(Loan.id.in_([int(i) for i in loan_ids]))
    return read_frame(conn, stmt, contracts.LOANS)


def read_instalments(conn: Connection, loan_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Schedules as ``INSTALMENTS``, ordered by ``(loan_id, seq)``; all loans or ``loan_ids``."""
    stmt = select(
        Instalment.loan_id,
        Instalment.seq,
        Instalment.due_date,
        Instalment.principal,
        Instalment.interest,
        Instalment.fee,
    ).order_by(Instalment.loan_id, Instalment.seq)
    if loan_ids is not None:
        stmt = stmt.where(Instalment.loan_id.in_([int(i) for i in loan_ids]))
    return read_frame(conn, stmt, contracts.INSTALMENTS)


def read_payments(
    conn: Connection, up_to: date | None = None, loan_ids: Sequence[int] | None = None
) -> pl.DataFrame:
    """Payments as ``PAYMENTS`` (``payment_id`` is ``payments.id``), paid on or before
    ``up_to`` if given (of ``loan_ids`` if given), ordered by ``(loan_id, paid_on,
    payment_id)``."""
    stmt = select(
        Payment.id.label("payment_id"), Payment.loan_id, Payment.paid_on, Payment.amount
    ).order_by(Payment.loan_id, Payment.paid_on, Payment.id)
    if up_to is not None:
        stmt = stmt.where(Payment.paid_on <= up_to)
    if loan_ids is not None:
        stmt = stmt.where(Payment.loan_id.in_([int(i) for i in loan_ids]))
    return read_frame(conn, stmt, contracts.PAYMENTS)


def read_products_terms(conn: Connection) -> list[ProductTerms]:
    """The terms of every product, ordered by code, validated again on the way out."""
    rows = conn.execute(select(Product.terms).order_by(Product.code)).scalars().all()
    return [ProductTerms.model_validate(terms) for terms in rows]


def read_states(conn: Connection, as_of: date) -> pl.DataFrame:
    """The stored account states of ``as_of`` as ``STATES``, ordered by ``loan_id``."""
    stmt = select(*_STATE_COLUMNS).where(AccountState.as_of == as_of).order_by(AccountState.loan_id)
    return read_frame(conn, stmt, contracts.STATES)


def replace_states(conn: Connection, as_of: date, states_df: pl.DataFrame) -> int:
    """Replace the account states of ``as_of`` with ``states_df`` (``STATES``): deletes that
    date's rows, then inserts, so recomputing a date is idempotent. Returns the row count."""
    frame = _conform(states_df, contracts.STATES, "states")
    if frame.height and not (frame["as_of"] == as_of).all():
        raise ValueError(f"every row of the states frame must have as_of = {as_of.isoformat()}")
    conn.execute(delete(AccountState).where(AccountState.as_of == as_of))
    return write_frame(conn, AccountState.__tablename__, frame)


def write_frame(conn: Connection, table_name: str, df: pl.DataFrame) -> int:
    """Insert every row of ``df`` into ``table_name`` (its columns must be columns of the
    table; the rest take their defaults). Returns the number of rows written."""
    table = _table(table_name)
    unknown = [name for name in df.columns if name not in table.columns]
    if unknown:
        raise ValueError(f"{table_name} has no column(s) {', '.join(unknown)}")
    if df.height == 0:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_in(conn, table, df)
    else:
        insert = table.insert()
        for start in range(0, df.height, SQLITE_CHUNK_ROWS):
            conn.execute(insert, df.slice(start, SQLITE_CHUNK_ROWS).to_dicts())
    return df.height


def read_frame(
    conn: Connection, stmt: Select[*tuple[Any, ...]], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Run ``stmt`` (whose result columns are named as ``schema``) into a typed frame."""
    names = [column.key for column in stmt.selected_columns]
    if names != list(schema):
        raise ValueError(f"query columns {names} do not match the contract {list(schema)}")
    if conn.dialect.name == "postgresql":
        return _copy_out(conn, stmt, schema)
    rows = conn.execute(stmt).all()
    if not rows:
        return contracts.empty(schema)
    columns = list(zip(*rows, strict=True))
    return pl.DataFrame(
        [
            pl.Series(name, values, dtype=dtype, strict=True)
            for (name, dtype), values in zip(schema.items(), columns, strict=True)
        ]
    )


def _table(table_name: str) -> Table:
    try:
        return Base.metadata.tables[table_name]
    except KeyError:
        raise ValueError(f"unknown table {table_name!r}") from None


def _conform(df: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
    missing = [name for name in schema if name not in df.columns]
    if missing:
        raise ValueError(f"the {what} frame lacks column(s) {', '.join(missing)}")
    return df.select([pl.col(name).cast(dtype, strict=True) for name, dtype in schema.items()])


def _copy_in(conn: Connection, table: Table, df: pl.DataFrame) -> None:
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in df.columns)
    statement = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in df.iter_rows():
            copy.write_row(row)
    _advance_sequence(conn, table, df)


def _advance_sequence(conn: Connection, table: Table, df: pl.DataFrame) -> None:
    """COPY with explicit ids leaves the id sequence behind: move it past the largest id,
    or the next ORM insert would collide."""
    autoincrement = table.autoincrement_column
    if autoincrement is None or autoincrement.name not in df.columns:
        return
    preparer = conn.dialect.identifier_preparer
    column = preparer.quote(autoincrement.name)
    name = preparer.format_table(table)
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{name}', '{autoincrement.name}'), "
        f"COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)"
    )


def _copy_out(
    conn: Connection, stmt: Select[*tuple[Any, ...]], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    buffer = io.BytesIO()
    driver = conn.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(
            f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)", compiled.params
        ) as copy,
    ):
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return contracts.empty(schema)
    buffer.seek(0)
    # Read with the contract's types; strings first for dates, which CSV carries as ISO text.
    frame = pl.read_csv(
        buffer,
        has_header=False,
        new_columns=list(schema),
        schema={name: dtype for name, dtype in schema.items()},
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


LOAN_BORROWERS: dict[str, pl.DataType] = {"loan_id": pl.Int64(), "borrower_id": pl.Int64()}

# One row per (as_of, loan, model kind): ``account_scores``; reason_codes is a JSON list.
SCORES: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "loan_id": pl.Int64(),
    "kind": pl.String(),
    "model_version_id": pl.Int64(),
    "score": pl.Float64(),
    "score_int": pl.Int64(),
    "tier": pl.String(),
    "pd": pl.Float64(),
    "reason_codes": pl.String(),
}


def read_loan_borrowers(conn: Connection) -> pl.DataFrame:
    """``loan_id, borrower_id`` of every loan (features count a borrower's other loans)."""
    stmt = select(Loan.id.label("loan_id"), Loan.borrower_id).order_by(Loan.id)
    return read_frame(conn, stmt, LOAN_BORROWERS)


def replace_scores(conn: Connection, as_of: date, kind: str, scores: pl.DataFrame) -> int:
    """Replace the scores of ``(as_of, kind)`` with ``scores`` (``SCORES``): idempotent."""
    frame = _conform(scores, SCORES, "scores")
    if frame.height and not ((frame["as_of"] == as_of) & (frame["kind"] == kind)).all():
        raise ValueError(f"every score row must have as_of = {as_of.isoformat()}, kind = {kind}")
    conn.execute(delete(AccountScore).where(AccountScore.as_of == as_of, AccountScore.kind == kind))
    return write_frame(conn, AccountScore.__tablename__, frame)


def read_scores(conn: Connection, as_of: date) -> pl.DataFrame:
    """The stored scores of ``as_of`` as ``SCORES``, ordered by ``(kind, loan_id)``."""
    stmt = (
        select(*(getattr(AccountScore, name) for name in SCORES))
        .where(AccountScore.as_of == as_of)
        .order_by(AccountScore.kind, AccountScore.loan_id)
    )
    return read_frame(conn, stmt, SCORES)
