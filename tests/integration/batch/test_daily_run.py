"""The daily run on a small generated book, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, func, select, update

from clocks import SETUP_AT, SETUP_DAY
from forbear.batch import daily
from forbear.domain.scoring.artefact import ModelKind
from forbear.services import contacts, models
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import bulk, runs
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_daily_run")

AS_OF = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(1_500, AS_OF, 20261127, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    """The book imported once per backend (each test rolls its changes back)."""
    with book_database(request.param, tmp_path_factory, "daily") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    with rolled_back(book_engine) as conn:
        yield conn


def _outbox(conn: Connection, as_of: date) -> pl.DataFrame:
    o = runs.OutboxMessage
    rows = conn.execute(
        select(o.id, o.loan_id, o.action_index, o.dedupe_key, o.status)
        .where(o.as_of == as_of)
        .order_by(o.id)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema=["id", "loan_id", "action_index", "dedupe_key", "status"],
        orient="row",
    )


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("run_id").sort("loan_id", "action_index")


def test_a_run_writes_decisions_queues_and_outbox_and_reruns_identically(
    book: Connection, tmp_path: Path
) -> None:
    conn = book
    trained = models.train_on_book(conn, ModelKind.BEHAVIOUR, as_of=AS_OF, months=6, now=NOW)
    models.activate(conn, trained.model.id, now=NOW)

    first = daily.run_day(conn, AS_OF, data_dir=tmp_path)
    decisions = runs.read_decisions(conn, AS_OF)
    assert decisions.height == first.decisions.height > 0
    assert decisions["segment"].null_count() == 0 and decisions["treatment"].null_count() == 0
    assert decisions["behaviour_tier"].is_not_null().any()  # scores reach the decisions
    assert decisions["reason_codes"].is_not_null().all()
    # strategy version: the active one or, with none stored, the shipped default (null)
    assert decisions["strategy_version_id"].n_unique() == 1
    contacts_ = decisions.filter(pl.col("channel") != "legal_review")
    assert contacts_["allowed"].null_count() == 0  # every planned contact has the gate's answer
    for row in contacts_.filter(~pl.col("allowed")).iter_rows(named=True):
        assert json.loads(row["blocked_by"])  # blocked ones name their rules
    assert contacts_["allowed"].any()

    outbox = _outbox(conn, AS_OF)
    assert outbox.height == first.outbox_added > 0
    assert outbox["dedupe_key"].n_unique() == outbox.height
    assert set(outbox["status"]) == {"queued"}
    sent = decisions.filter(pl.col("scheduled") & pl.col("allowed").fill_null(False))
    assert sent.height >= outbox.height

    status, summary = conn.execute(
        select(runs.Run.status, runs.Run.summary).where(runs.Run.as_of == AS_OF)
    ).one()
    assert status == "completed" and summary is not None
    assert summary["actions"] == decisions.height
    assert summary["by_segment"] and summary["by_treatment"]
    subject = conn.execute(
        select(AuditEvent.subject_id).where(AuditEvent.action == "run.complete")
    ).scalar_one()
    assert subject == str(first.run_id)

    # one message went out; a rerun keeps it sent and adds no row
    conn.execute(
        update(runs.OutboxMessage)
        .where(runs.OutboxMessage.id == int(outbox["id"][0]))
        .values(status="sent")
    )
    again = daily.run_day(conn, AS_OF, data_dir=tmp_path)
    assert again.outbox_added == 0
    assert _comparable(runs.read_decisions(conn, AS_OF)).equals(_comparable(decisions))
    after = _outbox(conn, AS_OF)
    assert after["dedupe_key"].to_list() == outbox["dedupe_key"].to_list()
    assert after["status"][0] == "sent"
    statuses = conn.execute(
        select(runs.Run.status, func.count())
        .where(runs.Run.as_of == AS_OF)
        .group_by(runs.Run.status)
    ).all()
    assert dict(statuses) == {"completed": 1, "superseded": 1}


def test_an_interrupted_run_leaves_nothing_of_that_date(
    book: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = book

    def boom(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("killed")

    # fails at the very end, after decisions, queues and outbox were written
    monkeypatch.setattr(daily.audit, "record", boom)
    with pytest.raises(RuntimeError, match="killed"), conn.begin_nested():
        daily.run_day(conn, AS_OF, data_dir=tmp_path)
    assert runs.read_decisions(conn, AS_OF).height == 0
    assert runs.read_work_queue(conn, AS_OF).height == 0
    assert _outbox(conn, AS_OF).height == 0
    assert conn.execute(select(func.count()).select_from(runs.Run)).scalar_one() == 0
    assert bulk.read_states(conn, AS_OF).height == 0


def test_contacts_outside_the_hours_are_blocked_with_the_rule(
    book: Connection, tmp_path: Path
) -> None:
    result = daily.run_day(book, AS_OF, data_dir=tmp_path, hour=time(23, 0))
    # the hours rule binds calls and messages that reach a phone; letters and app pushes
    # do not disturb at night
    gated = result.decisions.filter(pl.col("channel").is_in(["sms", "call", "ai_call"]))
    assert gated.height > 0 and not gated["allowed"].any()
    rules = {r for row in gated["blocked_by"] for r in json.loads(row)}
    assert rules and all(r.startswith("CN.") for r in rules), rules
    assert result.summary["contacts"]["blocked"] >= gated.height
    blocked = {row["rule"]: row["count"] for row in result.summary["blocked_by_rule"]}
    assert set(blocked) >= rules
    queued = _outbox(book, AS_OF).join(gated, on=["loan_id", "action_index"], how="semi")
    assert queued.height == 0


def test_an_account_with_a_hold_gets_no_contact(book: Connection, tmp_path: Path) -> None:
    conn = book
    with conn.begin_nested() as probe:
        planned = daily.run_day(conn, AS_OF, data_dir=tmp_path).decisions
        probe.rollback()
    targets = planned.filter(pl.col("allowed").fill_null(False))["loan_id"].unique().sort()[:5]
    assert targets.len() > 0
    for loan_id in targets:
        contacts.add_hold(
            conn,
            loan_id=int(loan_id),
            kind="do_not_contact",
            actor="test",
            since=datetime(2026, 11, 1, tzinfo=UTC),
            all_loans=True,
        )
    result = daily.run_day(conn, AS_OF, data_dir=tmp_path)
    held = result.decisions.filter(pl.col("loan_id").is_in(targets.to_list()))
    assert not held["allowed"].fill_null(False).any()
    assert not held.filter(pl.col("scheduled") & pl.col("allowed").fill_null(True)).height
    assert not _outbox(conn, AS_OF)["loan_id"].is_in(targets.to_list()).any()


def test_an_unknown_engine_is_refused_before_anything_runs(
    connection: Connection, tmp_path: Path
) -> None:
    with pytest.raises(daily.EngineUnavailable, match="'bogus' is not one of local, spark"):
        daily.run_day(connection, AS_OF, data_dir=tmp_path, engine="bogus")
    assert connection.execute(select(runs.Run.id)).first() is None


def test_a_promise_on_track_gets_only_plan_reminders_and_collection_state_is_summarised(
    book: Connection, tmp_path: Path
) -> None:
    from forbear.domain.strategy.schema import PLAN_SEGMENT, PLAN_TREATMENT
    from forbear.services import promises

    conn = book
    first = daily.run_day(conn, AS_OF, data_dir=tmp_path)
    overdue = (
        first.decisions.filter(pl.col("segment") != PLAN_SEGMENT)
        .join(
            bulk.read_states(conn, AS_OF).filter(pl.col("dpd") > 0).select("loan_id"),
            on="loan_id",
            how="semi",
        )["loan_id"]
        .unique()
        .sort()
    )
    assert overdue.len() > 0
    loan_id = int(overdue[0])
    promises.add_promise(
        conn,
        loan_id=loan_id,
        amount=100_00,
        promised_on=date(2026, 12, 3),
        source="agent",
        actor="test",
        as_of=AS_OF,
    )
    result = daily.run_day(conn, AS_OF, data_dir=tmp_path)
    mine = result.decisions.filter(pl.col("loan_id") == loan_id)
    assert set(mine["segment"]) <= {PLAN_SEGMENT}
    assert set(mine["treatment"]) <= {PLAN_TREATMENT}
    summary = conn.execute(
        select(runs.Run.summary).where(
            runs.Run.as_of == AS_OF, runs.Run.status == runs.RunStatus.COMPLETED.value
        )
    ).scalar_one()
    assert {"plans", "promises", "legal_queue"} <= set(summary)
