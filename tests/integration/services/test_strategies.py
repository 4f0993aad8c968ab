"""Strategy use cases on a small demo book: check, add, activate, list (with audit)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from clocks import SETUP_AT, SETUP_DAY
from forbear.domain.strategy import default_text
from forbear.services import strategies
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import audit
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_strategies")

AS_OF = date(2026, 11, 29)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(800, AS_OF, 20261129, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    """The book imported once per backend (each test rolls its changes back)."""
    with book_database(request.param, tmp_path_factory, "strategies") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    with rolled_back(book_engine) as conn:
        yield conn


def test_check_reports_segments_blocked_contacts_and_overlaps(book: Connection) -> None:
    report = strategies.check(book, None, AS_OF, max_blocked_share=1.0)
    print(report.by_segment, report.blocked_by_rule, report.unreached, report.overlaps)
    assert report.accounts == int(report.by_segment["accounts"].sum())
    assert report.planned <= report.actions
    assert "current" not in report.unreached
    # m1 is split by the experiment into its three arms
    arms = set(report.by_segment.filter(segment="m1")["arm"].to_list())
    assert arms <= {"champion", "challenger", "control"} and arms
    with pytest.raises(strategies.StrategyCheckFailed) if report.blocked else _nothing():
        strategies.check(book, None, AS_OF, max_blocked_share=0.0)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def test_add_activate_list_with_audit(book: Connection, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(default_text(), encoding="utf-8")
    first = strategies.add_strategy(book, f, now=SETUP_AT)
    second = strategies.add_strategy(book, f, now=SETUP_AT)
    assert (first.version, second.version, first.status) == (1, 2, "candidate")
    assert strategies.active_strategy(book)[1] is None  # the shipped default
    strategies.activate(book, first.id, actor="tester", now=SETUP_AT)
    strategies.activate(book, second.id, actor="tester", now=SETUP_AT)
    status = {s.id: s.status for s in strategies.list_strategies(book)}
    assert status == {first.id: "retired", second.id: "active"}
    strategy, info = strategies.active_strategy(book)
    assert info is not None and info.id == second.id and strategy.name == "CN_default"
    actions = [e.action for e in audit.events(book)]
    assert actions.count("strategy.activate") == 2
