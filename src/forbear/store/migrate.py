"""Programmatic Alembic API; the migration scripts ship inside the package.

No ``alembic.ini`` is needed: :func:`alembic_config` builds the configuration in code and
points it at ``forbear/store/migrations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from forbear.domain.errors import StorageUnavailable
from forbear.store.db import make_engine, safe_url

if TYPE_CHECKING:
    from forbear.store.crypto import PiiVault

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _engine(engine_or_url: Engine | str | URL) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for the migration steps.

    SQLite: batch migrations rebuild a table (create a copy, drop, rename); with foreign
    keys enforced, dropping a referenced table (``borrowers``) fails, or worse, cascades
    deletes into its children. So enforcement is switched off for the migration (the
    PRAGMA only works outside a transaction, hence on the raw DBAPI connection), the
    whole database is checked with ``PRAGMA foreign_key_check`` before commit, and
    enforcement is switched back on.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StorageUnavailable(
                            f"migration left a dangling reference in table {broken[0]!r}"
                        )
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def upgrade(
    engine_or_url: Engine | str | URL, revision: str = "head", *, vault: PiiVault | None = None
) -> None:
    """Migrate the database to ``revision`` (default: the newest), in one transaction.

    ``vault``: for migrations that encrypt existing data (0016); without it they build the
    vault from the settings, as every entry point does."""
    engine, owned = _engine(engine_or_url)
    try:
        if revision == "head" and is_up_to_date(engine):
            # nothing to migrate: every entry point calls this on start, and the migration
            # transaction's whole-database foreign-key check costs seconds on a big book
            return
        config = alembic_config()
        with _migration_transaction(engine) as conn:
            config.attributes["connection"] = conn
            config.attributes["vault"] = vault
            command.upgrade(config, revision)
    finally:
        if owned:
            engine.dispose()


def downgrade(
    engine_or_url: Engine | str | URL, revision: str, *, vault: PiiVault | None = None
) -> None:
    engine, owned = _engine(engine_or_url)
    try:
        config = alembic_config()
        with _migration_transaction(engine) as conn:
            config.attributes["connection"] = conn
            config.attributes["vault"] = vault
            command.downgrade(config, revision)
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(script.get_heads())


def require_up_to_date(engine: Engine) -> None:
    """Refuse to run against a database that is not at the shipped head revision."""
    if not is_up_to_date(engine):
        raise StorageUnavailable(
            f"database at {safe_url(engine)} is at revision {current_revision(engine)!r}, "
            f"expected {head_revision()!r}: run `forbear db upgrade`"
        )
