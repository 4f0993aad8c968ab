"""The daily run reads the book once and runs the ledger once (issue 12): what it derives
from that one run equals what the separate readers and the second ledger run gave before,
loan by loan, on a book with repayment plans and loans on an older contract version (the
loans whose ledger inputs differ from their contract book)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Connection, Engine

from clocks import SETUP_AT, SETUP_DAY
from forbear.domain.scoring.features import book_features
from forbear.services import book, models
from forbear.services.accounts import build_accounts, day_facts
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.history import seed_plans
from forbear.sim.products import load_products
from forbear.store import bulk
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_book_read_once")

AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(1_200, AS_OF, 20261127, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def rebased_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    """The generated book, then a new version of the CASH contract (the loans made before
    stay on version 1), then the demo's repayment plans: once per backend."""
    with book_database(request.param, tmp_path_factory, "read_once") as engine:
        with engine.begin() as conn:
            products = load_products()
            import_products(conn, products, "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
            changed = [
                p.model_copy(update={"grace_days": p.grace_days + 2}) if p.code == "CASH" else p
                for p in products
            ]
            import_products(conn, changed, "CASH v2", effective_from=SETUP_DAY)
            assert seed_plans(conn, AS_OF, seed=7) > 0
        yield engine


@pytest.fixture
def rebased_book(rebased_engine: Engine) -> Iterator[Connection]:
    """That book; each test's changes rolled back."""
    with rolled_back(rebased_engine) as conn:
        yield conn


def test_one_ledger_run_gives_the_states_and_the_features_of_two(
    rebased_book: Connection,
) -> None:
    conn = rebased_book
    day = book.load_day(conn, AS_OF)
    governed = set(day.inputs.governing["loan_id"].to_list())
    rebased = set(day.rebased().to_list())
    assert governed and rebased > governed  # plans, and loans on CASH version 1
    ledger = book.day_ledger(day)

    # the states: as the ledger over the separately read inputs
    assert_frame_equal(ledger.states, book.ledger_states(conn, AS_OF))

    # the features: as the second ledger run over the contract book gave them
    shared = models.day_features(day, ledger)
    separate = book_features(models.load_book(conn, up_to=AS_OF), AS_OF)
    assert_frame_equal(shared, separate)
    assert shared.filter(pl.col("loan_id").is_in(list(rebased))).height > 0


def test_the_account_frame_from_the_days_facts_is_the_one_read_back(
    rebased_book: Connection,
) -> None:
    conn = rebased_book
    day = book.load_day(conn, AS_OF)
    states = book.day_ledger(day, contract=False).states
    book.store_states(conn, AS_OF, states)
    facts = day_facts(conn, AS_OF, states=states, borrowers=day.borrowers)
    shared = build_accounts(conn, AS_OF, facts=facts, scores=bulk.scores_frame([]))
    assert_frame_equal(shared, build_accounts(conn, AS_OF))
    assert shared["active_plan"].any()


def test_the_book_read_range_by_range_gives_what_it_gives_whole(
    rebased_book: Connection,
) -> None:
    """Memory holds one range of loans at a time; the states and the features (whose
    ``other_loans`` counts a borrower's loans in every range) are the whole book's."""
    conn = rebased_book
    whole = book.load_day(conn, AS_OF)
    whole_ledger = book.day_ledger(whole)
    head = book.read_head(conn, AS_OF)
    assert len(head.buckets(200)) > 3
    states, features = [], []
    for day in book.iter_days(conn, head, per_bucket=200):
        ledger = book.day_ledger(day)
        states.append(ledger.states)
        features.append(models.day_features(day, ledger))
    assert_frame_equal(pl.concat(states).sort("loan_id"), whole_ledger.states.sort("loan_id"))
    together = models.whole_book(features, head.loans.select("loan_id", "borrower_id"))
    assert_frame_equal(together, models.day_features(whole, whole_ledger))
    assert together["other_loans"].max() > 0
