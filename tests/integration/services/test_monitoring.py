"""Monitoring and the model report on a small demo book, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from clocks import SETUP_AT, SETUP_DAY
from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.scoring.artefact import ModelKind
from forbear.services import models
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.services.monitoring import find_model, monitor_model, write_report
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_monitoring")

AS_OF = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(1_200, AS_OF, 7, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def book_with_model(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[tuple[Engine, int]]:
    """The book imported and a behaviour model trained and activated, once per backend
    (each test rolls its changes back)."""
    with book_database(request.param, tmp_path_factory, "monitoring") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
            trained = models.train_on_book(conn, ModelKind.BEHAVIOUR, as_of=AS_OF, now=NOW)
            models.activate(conn, trained.model.id, now=NOW)
        yield engine, trained.model.id


@pytest.fixture
def connection(book_with_model: tuple[Engine, int]) -> Iterator[Connection]:
    """On the module's book (this overrides the empty database's ``connection``)."""
    with rolled_back(book_with_model[0]) as conn:
        yield conn


@pytest.fixture
def with_model(book_with_model: tuple[Engine, int]) -> int:
    return book_with_model[1]


def test_monitoring_compares_training_with_the_latest_book_and_a_matured_cohort(
    connection: Connection, with_model: int
) -> None:
    run = monitor_model(connection, "behaviour", AS_OF)
    assert run.model.id == with_model
    result = run.result
    assert result.rows > 500
    assert result.score_psi is not None and 0 <= result.score_psi < 1
    assert set(result.feature_psi["feature"]) == {f.name for f in run.artefact.features}
    # the latest cohort whose 90-day window has matured by the as-of date
    assert run.matured_on is not None and (AS_OF - run.matured_on).days >= 90
    assert result.performance is not None and result.performance.auc > 0.6
    assert (
        result.bad_rates is not None and result.bad_rates["rows"].sum() == result.performance.rows
    )
    # the same model by its id gives the same answer
    assert monitor_model(connection, str(with_model), AS_OF).result.score_psi == result.score_psi


def test_a_model_drifts_when_the_population_changes(
    connection: Connection, with_model: int
) -> None:
    """A later book (a year on, most loans matured or paid off) shifts the features."""
    later = monitor_model(connection, "behaviour", date(2027, 11, 29))
    codes = {w.code for w in later.result.warnings}
    assert "feature_psi" in codes or "score_psi" in codes


def test_the_report_is_one_offline_html_file(
    connection: Connection, with_model: int, tmp_path: Path
) -> None:
    path = write_report(monitor_model(connection, "behaviour", AS_OF), tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    # nothing is loaded from the network: no external script, stylesheet, image or frame
    assert not re.search(r"""<(script|link|img|iframe)[^>]*(src|href)=["']?(https?:)?//""", html)
    assert "ROC" in html and "KS" in html


def test_unknown_models_and_wrong_arguments_are_refused(
    connection: Connection, with_model: int, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        find_model(connection, "999")
    with pytest.raises(NotFound, match="early_warning"):
        find_model(connection, "early_warning")
    with pytest.raises(ValidationError, match="version id or one of"):
        find_model(connection, "credit-score")
    run = monitor_model(connection, "behaviour", AS_OF)
    with pytest.raises(ValidationError, match=r"\.html"):
        write_report(run, tmp_path / "r.pdf")
