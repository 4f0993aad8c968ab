"""Engines for the two supported databases.

SQLite (the embedded default) gets WAL journal mode, foreign keys and a busy timeout on
every new connection, and the pysqlite driver's own transaction handling is switched off
so that SQLAlchemy emits ``BEGIN`` itself: without that, SAVEPOINTs and transactional DDL
(Alembic) do not work reliably on Python < 3.12.

**Write transactions begin with ``BEGIN IMMEDIATE``.** SQLite has one writer at a time. A
transaction that began deferred, read, and then writes must *upgrade* its read snapshot to
the write lock; if anyone committed since it read, SQLite refuses at once with "database
is locked" (SQLITE_BUSY_SNAPSHOT) and no busy timeout helps -- which is what made two
simultaneous web writes fail. Taking the write lock at ``BEGIN`` makes writers queue
instead (the busy timeout is how long one waits), and it is what serialises every
check-then-write on SQLite (:mod:`forbear.store.locks`). Beginning is retried while the
database stays locked, up to :data:`SQLITE_LOCK_WAIT_S` in all; nothing has happened in
the transaction yet, so a retry is always safe. Readers that never write (a long report,
the daily run's compute phase) ask for a deferred transaction with
:func:`read_only`: in WAL mode they see one consistent snapshot and never block a writer.

The database file, its WAL and shared-memory files are created readable by the owner
only (mode 0600): they hold personal data.

PostgreSQL goes through psycopg 3; a plain ``postgresql://`` URL is switched to the
``postgresql+psycopg://`` driver.

A failure to reach the database surfaces as :class:`StorageUnavailable` with a one-line
message that names the URL with its password hidden.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, ExceptionContext

from forbear.domain.errors import StorageUnavailable

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long one statement waits for SQLite's lock before it reports "database is locked"."""
SQLITE_LOCK_WAIT_S = 60.0
"""How long ``BEGIN IMMEDIATE`` keeps retrying (each try waits the busy timeout)."""
SQLITE_BEGIN_OPTION = "forbear_sqlite_begin"
"""Execution option naming how a SQLite transaction begins: ``IMMEDIATE`` (the default,
for anything that may write) or ``DEFERRED`` (read-only work; see :func:`read_only`)."""


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL); extra keyword arguments go to
    :func:`sqlalchemy.create_engine`. The bound values of a failing statement are left
    out of its error (``hide_parameters``): they may be personal data, and errors reach
    logs (the worker's tracebacks) and operators' consoles."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    kwargs.setdefault("hide_parameters", True)
    if backend == "sqlite":
        _private_files(parsed.database)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
    elif backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
    else:
        raise StorageUnavailable(f"unsupported database backend {backend!r}")
    _translate_connect_errors(engine)
    return engine


def safe_url(engine_or_url: Engine | str | URL) -> str:
    """The URL as text with its password replaced by ``***``."""
    if isinstance(engine_or_url, Engine):
        url = engine_or_url.url
    else:
        url = make_url(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    return url.render_as_string(hide_password=True)


def ping(engine: Engine) -> None:
    """Open and close one connection; raises :class:`StorageUnavailable` on failure."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy control transactions (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode == "DEFERRED":
            conn.exec_driver_sql("BEGIN")
            return
        _begin_immediate(conn)


def _begin_immediate(conn: Connection) -> None:
    """``BEGIN IMMEDIATE``, retried while the database stays locked (see the module
    docstring). Each try already waits up to the busy timeout inside SQLite."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
    pause = 0.01
    while True:
        raw = conn.connection.driver_connection
        assert raw is not None
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def read_only(conn: Connection) -> Connection:
    """``conn`` set to begin its next transaction deferred on SQLite (no write lock: the
    transaction reads one snapshot and must not write). Use for long reads only; a
    deferred transaction that writes after another writer committed fails at once."""
    return conn.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})


def _private_files(database: str | None) -> None:
    """Create the database file (and its WAL / shared-memory files when they appear,
    through the umask of this process's first connection) readable by the owner only;
    tighten an existing file's mode."""
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            os.chmod(candidate, 0o600)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _translate_connect_errors(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # Only failures to obtain a connection (or a lost one) mean "unavailable";
        # a constraint violation or a bad query keeps its own exception.
        if context.connection is not None and not context.is_disconnect:
            return
        raise StorageUnavailable(_unavailable_message(engine, context.original_exception))


def _unavailable_message(engine: Engine, exc: BaseException) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = engine.url.password
    if password:
        reason = reason.replace(str(password), "***")
    return f"database not reachable at {safe_url(engine)}: {reason}"
