"""Copy a whole Forbear database into an empty PostgreSQL database (``forbear db copy``).

The way off the embedded SQLite database (docs/database.md): every table, in
foreign-key order, in bulk (batched reads, batched multi-row inserts through the
declared column types, never row by row through the ORM), ids preserved; then the
PostgreSQL sequences are set past the largest id, and the copy is checked before it
is committed: the row count of every table equals the source's, and the audit trail's
hash chain verifies on the target (:func:`forbear.store.audit.verify`) with the same
head hash as the source's.

**All or nothing.** Everything on the target happens in ONE transaction (PostgreSQL's
DDL is transactional, so an entirely empty target is migrated in that same transaction):
any failure, a refused check included, leaves the target as it was. The source is read
in one snapshot (a deferred, read-only transaction on SQLite, REPEATABLE READ on
PostgreSQL), so writers are not blocked -- but what they write after the snapshot is
not copied: stop the web app and the jobs first.

Refusals (one line each, no data in them): a target that is not PostgreSQL
(:class:`ValidationError`), a source or target schema at another revision than this
release's (:class:`StorageUnavailable`), a target that holds any row or tables Forbear
does not know (:class:`Conflict`). A database error during the copy is reported by
table and error class only: a driver's message can quote the row (personal data).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text
from sqlalchemy.exc import ArgumentError, DBAPIError

from forbear.domain.errors import Conflict, StorageUnavailable, ValidationError
from forbear.store import audit, migrate
from forbear.store.db import make_engine, normalise_url, read_only, safe_url
from forbear.store.models import Base

BATCH_ROWS = 5_000
"""Rows read and inserted per batch (the inserts go as multi-row statements)."""

# Serialises two copies into the same target (a transaction-scoped advisory lock).
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"forbear.db.copy").digest()[:8], signed=True)

Progress = Callable[[str, int], None]
"""Called with a table's name and its rows copied so far."""


@dataclass(frozen=True)
class CopyReport:
    source: str  # URLs with the password hidden
    target: str
    revision: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied (= on both sides)
    sequences_reset: int = 0
    audit_events: int = 0
    audit_head: str = audit.GENESIS_HASH
    migrated_target: bool = False
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def open_target(url: str) -> Engine:
    """An engine for the target URL, refusing anything but PostgreSQL before connecting
    (a SQLite URL would otherwise create an empty file)."""
    try:
        parsed = normalise_url(url.strip())
    except ArgumentError:
        raise ValidationError("--to", "not a database URL (postgresql://user@host/db)") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValidationError("--to", "the target must be a PostgreSQL database (postgresql://...)")
    return make_engine(parsed)


def tables() -> list[Table]:
    """Forbear's tables in foreign-key order (parents first)."""
    return list(Base.metadata.sorted_tables)


def copy_database(
    source: Engine,
    target: Engine,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every row of ``source`` into the empty PostgreSQL database ``target`` (see the
    module docstring); returns what was copied, after the target has committed."""
    started = time.perf_counter()
    if target.dialect.name != "postgresql":
        raise ValidationError("--to", "the target must be a PostgreSQL database (postgresql://...)")
    head = migrate.head_revision()
    assert head is not None
    with _snapshot(source) as src:
        revision = MigrationContext.configure(src).get_current_revision()
        if revision != head:
            raise StorageUnavailable(
                f"source database {safe_url(source)} is at revision {revision!r}, this release "
                f"ships {head!r}: run `forbear db upgrade` on it first"
            )
        with target.begin() as dst:
            dst.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            migrated = _prepare_target(dst, target, head)
            rows = {t.name: _copy_table(src, dst, t, batch_rows, progress) for t in tables()}
            sequences = _reset_sequences(dst)
            _check_counts(src, dst, rows)
            events, head_hash = _check_audit(src, dst)
            dst.exec_driver_sql("ANALYZE")
    return CopyReport(
        source=safe_url(source),
        target=safe_url(target),
        revision=head,
        rows=rows,
        sequences_reset=sequences,
        audit_events=events,
        audit_head=head_hash,
        migrated_target=migrated,
        seconds=time.perf_counter() - started,
    )


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent read of the source that never takes its write lock."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            reader = read_only(conn)
        else:
            reader = conn.execution_options(isolation_level="REPEATABLE READ")
        with reader.begin():
            yield reader


def _prepare_target(dst: Connection, target: Engine, head: str) -> bool:
    """Refuse a target that is not empty or at another revision; migrate one that has no
    tables at all (in this transaction). Returns whether it was migrated."""
    names = set(inspect(dst).get_table_names())
    migrated = False
    if not names:
        config = migrate.alembic_config()
        config.attributes["connection"] = dst
        command.upgrade(config, head)
        migrated = True
        names = set(inspect(dst).get_table_names())
    revision = MigrationContext.configure(dst).get_current_revision()
    if revision != head:
        raise StorageUnavailable(
            f"target database {safe_url(target)} is at revision {revision!r}, not {head!r} "
            "like the source: give an empty database, or one migrated to this release "
            "(`forbear db upgrade` with FORBEAR_DATABASE_URL set to it)"
        )
    known = {t.name for t in tables()}
    strangers = sorted(names - known - {"alembic_version"})
    if strangers:
        raise Conflict(
            f"target database {safe_url(target)} has tables Forbear does not know "
            f"({', '.join(strangers[:5])}): copy only into an empty database"
        )
    missing = sorted(known - names)
    if missing:
        raise StorageUnavailable(
            f"target database {safe_url(target)} lacks tables ({', '.join(missing[:5])}) "
            "although its revision is current: give an empty database"
        )
    for t in tables():
        if dst.execute(select(select(t).exists())).scalar():
            raise Conflict(
                f"target database {safe_url(target)} is not empty (table {t.name} has rows): "
                "copy only into an empty database"
            )
    return migrated


def _copy_table(
    src: Connection, dst: Connection, table: Table, batch_rows: int, progress: Progress | None
) -> int:
    """Stream ``table`` in primary-key order, ``batch_rows`` at a time, into the target.
    Values go through the declared column types both ways (UTC timestamps, booleans,
    JSON text, encrypted bytes), so what lands is what the application would write."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = src.execute(select(table).order_by(*order).execution_options(yield_per=batch_rows))
    copied = 0
    for part in result.mappings().partitions():
        batch: list[dict[str, Any]] = [dict(row) for row in part]
        try:
            dst.execute(insert(table), batch)
        except DBAPIError as exc:
            # The driver's message may quote a value: name the table and the error only.
            kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
            state = getattr(exc.orig, "sqlstate", None)
            raise StorageUnavailable(
                f"copying table {table.name} failed after {copied} rows: {kind}"
                + (f" (SQLSTATE {state})" if state else "")
                + "; nothing was committed to the target"
            ) from None
        copied += len(batch)
        if progress is not None:
            progress(table.name, copied)
    if progress is not None and copied == 0:
        progress(table.name, 0)
    return copied


def _reset_sequences(dst: Connection) -> int:
    """Set every sequence owned by a column (serial or identity) past that column's
    largest value, so the next insert gets a fresh id. Returns how many were set."""
    owned = dst.execute(
        text(
            "SELECT c.relname AS table_name, a.attname AS column_name, "
            "pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS sequence "
            "FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND a.attnum > 0 AND NOT a.attisdropped "
            "AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL"
        )
    ).all()
    quote = dst.dialect.identifier_preparer.quote
    for row in owned:
        top = dst.execute(
            text(f"SELECT MAX({quote(row.column_name)}) FROM {quote(row.table_name)}")
        ).scalar()
        # is_called=false: the next nextval() returns exactly this value
        dst.execute(
            text("SELECT setval(:seq, :value, false)"),
            {"seq": row.sequence, "value": int(top or 0) + 1},
        )
    return len(owned)


def _check_counts(src: Connection, dst: Connection, copied: dict[str, int]) -> None:
    for t in tables():
        before = src.execute(select(func.count()).select_from(t)).scalar_one()
        after = dst.execute(select(func.count()).select_from(t)).scalar_one()
        if not before == after == copied[t.name]:
            raise StorageUnavailable(
                f"table {t.name}: {before} rows in the source, {after} in the target after "
                "the copy; nothing was committed to the target"
            )


def _check_audit(src: Connection, dst: Connection) -> tuple[int, str]:
    """The chain verifies on the target and ends at the source's head."""
    result = audit.verify(dst)
    if not result.ok:
        raise StorageUnavailable(
            f"the audit chain does not verify on the target ({len(result.problems)} "
            f"problem(s), first at seq {result.first_broken_seq}); nothing was committed"
        )
    table = audit.AuditEvent.__table__
    head = src.execute(select(table.c.hash).order_by(table.c.seq.desc()).limit(1)).scalar()
    expected = head if head is not None else audit.GENESIS_HASH
    if result.head_hash != expected:
        raise StorageUnavailable(
            "the audit chain on the target does not end at the source's head; nothing was committed"
        )
    return result.checked, result.head_hash


__all__ = ["BATCH_ROWS", "CopyReport", "copy_database", "open_target", "tables"]
