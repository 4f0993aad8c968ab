"""The scheduler tests' book: a small generated book in a database of its own, committed
(the workers are separate engines and processes, so nothing may hide in a rolled-back
transaction): a temp SQLite file, or a PostgreSQL database made for the module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from clocks import SETUP_AT, SETUP_DAY
from forbear.services import templates
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.products import load_products
from forbear.store import migrate
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from forbear.store.runs import Run

BOOK_DAY = date(2026, 11, 27)
TEST_KEY = bytes(range(32))


@dataclass(frozen=True)
class BookDb:
    backend: str
    url: str  # with the password: separate engines and processes connect to it
    directory: Path  # the SQLite file's directory, or an empty data directory

    def engine(self) -> Engine:
        return make_engine(self.url)


def fill(engine: Engine, files: tuple[Path, Path]) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
        templates.install_library(conn, now=SETUP_AT)  # what the messages are rendered from
        import_loans(conn, PiiVault(TEST_KEY), files[0], now=SETUP_AT)
        import_payments(conn, files[1], zone="Asia/Shanghai", now=SETUP_AT)


def runs_of(engine: Engine, day: date) -> list[str]:
    """The statuses of ``day``'s runs, sorted."""
    with engine.connect() as conn:
        rows = conn.execute(select(Run.status).where(Run.as_of == day)).scalars().all()
    return sorted(rows)


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Run)).scalar_one())
