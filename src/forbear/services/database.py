"""The database itself, for operators: its schema revision, upgrading it, copying it.

The command line calls these instead of :mod:`forbear.store` (the layers are checked by
import-linter: see docs/architecture.md). Each function opens its own engine from a URL,
checks that the database answers, and says what it found; nothing here needs the
encryption keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from forbear.store import migrate
from forbear.store.copy import CopyReport, copy_database, open_target
from forbear.store.db import make_engine, ping, safe_url


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands: ``url`` is shown without its password."""

    url: str
    current: str | None
    shipped: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.shipped


def schema_status(url: str) -> SchemaStatus:
    """The schema revision of the database at ``url`` and the one this release ships."""
    engine = make_engine(url)
    try:
        ping(engine)
        return SchemaStatus(
            safe_url(engine), migrate.current_revision(engine), migrate.head_revision()
        )
    finally:
        engine.dispose()


def upgrade(url: str) -> SchemaStatus:
    """Migrate the database at ``url`` to the schema this release ships."""
    engine = make_engine(url)
    try:
        ping(engine)
        migrate.upgrade(engine)
        return SchemaStatus(
            safe_url(engine), migrate.current_revision(engine), migrate.head_revision()
        )
    finally:
        engine.dispose()


def copy(source_url: str, target_url: str) -> CopyReport:
    """Copy the whole database at ``source_url`` into the empty PostgreSQL database at
    ``target_url`` in one transaction, and verify it (row counts, audit chain). The
    target is checked first, so a wrong target URL fails before the source is read."""
    target = open_target(target_url)
    try:
        ping(target)
        source = make_engine(source_url)
        try:
            ping(source)
            return copy_database(source, target)
        finally:
            source.dispose()
    finally:
        target.dispose()


__all__ = ["CopyReport", "SchemaStatus", "copy", "schema_status", "upgrade"]
