"""Composition root: settings, database, vault and services are wired here, once.

The CLI, the web app and the batch all start from :func:`bootstrap`; nothing else reads
settings or builds engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from forbear.clock import Clock, system_clock
from forbear.clock import today as clock_today
from forbear.domain.errors import ConfigurationError
from forbear.settings import Environment, Keyring, Settings
from forbear.store import audit, migrate
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine, ping, read_only


@dataclass
class Forbear:
    """Everything an entry point needs, built once."""

    settings: Settings
    engine: Engine
    vault: PiiVault
    sessions: sessionmaker[Session]
    clock: Clock = field(default=system_clock)

    def now(self) -> datetime:
        """The current moment (UTC) by this application's clock."""
        return self.clock()

    def today(self) -> date:
        """The lender's business day by this application's clock."""
        return clock_today(self.clock, self.settings.zone)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One database transaction for a use case: committed on success, rolled back on
        any error, so a failed request, import or run leaves nothing behind.

        On SQLite it begins ``BEGIN IMMEDIATE`` (writers queue; :mod:`forbear.store.db`).
        Its audit events are appended at its end (:func:`forbear.store.audit.deferred`):
        the audit chain's lock is then always the last lock a transaction takes (no
        deadlock with a per-debtor or per-loan lock taken after an audited step) and is
        held only for the final insert and the commit."""
        with self.engine.begin() as conn, audit.deferred(conn):
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction on one snapshot (deferred on SQLite: it takes no write
        lock and never waits for a writer). Must not write."""
        with read_only(self.engine.connect()) as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with a one-line error instead of a traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"FORBEAR_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None


def vault_from(keyring: Keyring) -> PiiVault:
    """A vault that encrypts with the keyring's current key and reads every older one."""
    return PiiVault(
        keyring.current_key,
        key_version=keyring.current,
        previous_keys=keyring.previous_keys(),
        index_key=keyring.index_key,
    )


def bootstrap(settings: Settings | None = None, *, auto_migrate: bool | None = None) -> Forbear:
    """Wire Forbear. The embedded database is migrated automatically outside production;
    in production the schema must already be current (``forbear db upgrade``)."""
    settings = settings or load_settings()
    if settings.database_url is None or settings.environment is not Environment.PRODUCTION:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = settings.load_keyring()
    vault = vault_from(keyring)
    engine = make_engine(settings.resolved_database_url)
    ping(engine)
    if auto_migrate is None:
        auto_migrate = settings.environment is not Environment.PRODUCTION
    if auto_migrate:
        # the vault of these settings, for migrations that encrypt existing data (0016)
        migrate.upgrade(engine, vault=vault)
    else:
        migrate.require_up_to_date(engine)
    return Forbear(
        settings=settings,
        engine=engine,
        vault=vault,
        sessions=sessionmaker(engine, expire_on_commit=False),
    )
