"""The demo book: a synthetic lender's book pushed through the real import path."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from forbear.domain import portfolio
from forbear.domain.products import ProductTerms
from forbear.services import book
from forbear.services.imports import ImportReport, import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.store.crypto import PiiVault

Step = Callable[[str], None]


def month_end_before(day: date) -> date:
    """The last day of the month before ``day``'s month."""
    return day.replace(day=1) - timedelta(days=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass
class DemoResult:
    as_of: date
    reports: list[ImportReport]
    today: book.StatesResult
    roll_from: date
    roll_to: date
    rolls: pl.DataFrame
    loans_file: Path
    payments_file: Path


def build_demo(
    transaction: Callable[[], AbstractContextManager[Connection]],
    vault: PiiVault,
    *,
    directory: Path,
    products: list[ProductTerms],
    borrowers: int,
    seed: int,
    as_of: date,
    zone: str,
    step: Step = lambda _label: None,
) -> DemoResult:
    """Generate, import, compute states for today and for the last two month ends.

    ``transaction`` opens one database transaction (a context manager yielding a
    Connection); each import runs in its own, so a failure leaves the earlier ones.
    """
    step("generating the synthetic book")
    demo = generate_book(borrowers, as_of, seed, products)
    directory.mkdir(parents=True, exist_ok=True)
    loans_file, payments_file = write_files(demo, directory, fmt="csv")
    reports = []
    step("importing products")
    with transaction() as conn:
        reports.append(import_products(conn, products, "demo products"))
    step("importing loans")
    with transaction() as conn:
        reports.append(import_loans(conn, vault, loans_file))
    step("importing payments")
    with transaction() as conn:
        reports.append(import_payments(conn, payments_file, zone=zone))
    roll_to = month_end_before(as_of)
    roll_from = month_end_before(roll_to)
    step(f"computing account states for {roll_from}, {roll_to} and {as_of}")
    with transaction() as conn:
        first = book.compute_states(conn, roll_from)
        last = book.compute_states(conn, roll_to)
        today = book.compute_states(conn, as_of)
    rolls = portfolio.roll_rates(first.states.lazy(), last.states.lazy(), first.buckets.labels)
    return DemoResult(
        as_of=as_of,
        reports=reports,
        today=today,
        roll_from=roll_from,
        roll_to=roll_to,
        rolls=rolls,
        loans_file=loans_file,
        payments_file=payments_file,
    )
