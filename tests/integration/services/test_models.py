"""Model use cases on a small demo book, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, Engine

from clocks import SETUP_AT, SETUP_DAY
from forbear.domain.errors import ForbearError, NotFound, ValidationError
from forbear.domain.scoring.artefact import ModelKind, load_artefact
from forbear.services import models
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import bulk
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_models")

AS_OF = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    products = load_products()
    demo = generate_book(1_500, AS_OF, 20261129, products)
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    """The book imported once per backend (each test rolls its changes back)."""
    with book_database(request.param, tmp_path_factory, "models") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    with rolled_back(book_engine) as conn:
        yield conn


def test_train_activate_rollback_score(book: Connection, tmp_path: Path) -> None:
    conn = book
    behaviour = models.train_on_book(conn, ModelKind.BEHAVIOUR, as_of=AS_OF, months=6, now=NOW)
    assert behaviour.model.status == "candidate" and behaviour.model.version == 1
    assert behaviour.rows > 1_000 and len(behaviour.observation_dates) == 6
    assert behaviour.artefact.metrics.auc > 0.6
    early = models.train_on_book(conn, ModelKind.EARLY_WARNING, as_of=AS_OF, now=NOW)
    assert early.artefact.metrics.auc > 0.6
    print(f"AUC behaviour {behaviour.artefact.metrics.auc:.3f}")
    print(f"AUC early warning {early.artefact.metrics.auc:.3f}")

    # stored and reloaded equal
    again = models.artefact_of(conn, behaviour.model.id)
    assert again == behaviour.artefact

    models.activate(conn, behaviour.model.id, now=NOW)
    second = models.train_on_book(conn, ModelKind.BEHAVIOUR, as_of=AS_OF, months=4, now=NOW)
    assert second.model.version == 2
    models.activate(conn, second.model.id, now=NOW)
    states = {m.id: m.status for m in models.list_models(conn)}
    assert states[behaviour.model.id] == "retired" and states[second.model.id] == "active"
    back = models.rollback(conn, ModelKind.BEHAVIOUR, now=NOW)
    assert back.id == behaviour.model.id and back.status == "active"
    states = {m.id: m.status for m in models.list_models(conn)}
    assert states[second.model.id] == "retired"
    models.activate(conn, early.model.id, now=NOW)

    stored = models.score_book(conn, AS_OF)
    assert stored["behaviour"] > stored["early_warning"] > 0
    scores = bulk.read_scores(conn, AS_OF)
    assert scores.height == sum(stored.values())
    assert models.score_book(conn, AS_OF) == stored  # idempotent for a date

    behind = scores.filter(pl.col("kind") == "behaviour").sort("score").row(0, named=True)
    online = models.score_account(conn, behind["loan_id"], AS_OF)["behaviour"]
    assert online["score"] == pytest.approx(behind["score"])
    assert online["score_int"] == behind["score_int"] and online["tier"] == behind["tier"]
    assert online["reason_codes"] == load_reasons(behind["reason_codes"])

    out = models.export(conn, behaviour.model.id, tmp_path / "b.json")
    assert load_artefact(out.read_text()) == behaviour.artefact


def load_reasons(text: str) -> list[str]:
    import json

    return list(json.loads(text))


def test_one_active_model_per_kind_is_enforced_by_the_database(book: Connection) -> None:
    from sqlalchemy import update

    from forbear.store.models import ModelVersion

    trained = models.train_on_book(
        book, ModelKind.EARLY_WARNING, as_of=AS_OF, months=3, now=SETUP_AT
    )
    twin = models.train_on_book(book, ModelKind.EARLY_WARNING, as_of=AS_OF, months=2, now=SETUP_AT)
    models.activate(book, trained.model.id, now=SETUP_AT)
    with pytest.raises(Exception), book.begin_nested():  # noqa: B017 - the driver's IntegrityError
        book.execute(
            update(ModelVersion).where(ModelVersion.id == twin.model.id).values(status="active")
        )


def test_application_target_must_be_binary_and_present(
    connection: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "apps.csv"
    pl.DataFrame({"age": [20, 30, 40, 50] * 50, "bad": [0, 1, 2, 0] * 50}).write_csv(path)
    with pytest.raises(ValidationError, match="bad"):
        models.train_application(connection, path, "bad", now=SETUP_AT)
    with pytest.raises(ValidationError, match="nope"):
        models.train_application(connection, path, "nope", now=SETUP_AT)
    with pytest.raises(ForbearError, match="no such file"):
        models.train_application(connection, tmp_path / "missing.csv", "bad", now=SETUP_AT)
    assert models.list_models(connection) == []


def test_rollback_without_history_is_not_found(connection: Connection) -> None:
    with pytest.raises(NotFound):
        models.rollback(connection, ModelKind.BEHAVIOUR, now=SETUP_AT)
