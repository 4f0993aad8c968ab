"""Engines for the two supported databases.

SQLite (the embedded default) gets WAL journal mode, foreign keys and a busy timeout on
every new connection, and the pysqlite driver's own transaction handling is switched off
so that SQLAlchemy emits ``BEGIN`` itself: without that, SAVEPOINTs and transactional DDL
(Alembic) do not work reliably on Python < 3.12.

PostgreSQL goes through psycopg 3; a plain ``postgresql://`` URL is switched to the
``postgresql+psycopg://`` driver.

A failure to reach the database surfaces as :class:`StorageUnavailable` with a one-line
message that names the URL with its password hidden.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, ExceptionContext

from forbear.domain.errors import StorageUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5_000


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL); extra keyword arguments go to
    :func:`sqlalchemy.create_engine`."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
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
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


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
