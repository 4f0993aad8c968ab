"""The worker's dispatcher is the real one (``forbear.channels.dispatcher``): after the day
runs, its due messages go out through the channels (here the sandbox, the embedded
default); on SQLite a second worker waits for the single-dispatcher lock and takes over
when the first is gone (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from forbear.bootstrap import Forbear, bootstrap
from forbear.channels.worker import DispatcherPass, Schedule, Worker
from forbear.services.outreach.leader import leader_for
from forbear.services.runs import latest_run
from forbear.settings import Environment, Settings
from forbear.store.runs import OutboxMessage
from outreach_book import BOOK_DAY, TEST_KEY, BookDb

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_worker_dispatch")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _forbear(book: BookDb, data_dir: Path, at: datetime) -> Forbear:
    settings = Settings(
        environment=Environment.TEST,
        data_dir=data_dir,
        database_url=book.url,
        encryption_key=SecretStr(base64.b64encode(TEST_KEY).decode()),
    )
    return dataclasses.replace(bootstrap(settings), clock=lambda: at)


def _worker(forbear: Forbear, book: BookDb, dispatch: DispatcherPass) -> Worker:
    def day_done(d: date) -> bool:
        with forbear.reading() as conn:
            return latest_run(conn, d, d) is not None

    from forbear.batch.daily import run_day_phased

    return Worker(
        schedule=Schedule(time(6), SHANGHAI),
        clock=forbear.clock,
        leader=leader_for(forbear.engine, book.directory),
        run_day=lambda d: run_day_phased(
            forbear.engine, d, data_dir=forbear.settings.data_dir, clock=forbear.clock
        ),
        day_done=day_done,
        dispatch=dispatch,
        on_stop=dispatch.stop,
    )


def test_once_runs_the_day_and_sends_its_due_messages(book_db: BookDb, tmp_path: Path) -> None:
    at = datetime.combine(BOOK_DAY, time(11), SHANGHAI).astimezone(UTC)  # contact hours
    forbear = _forbear(book_db, tmp_path, at)
    dispatch = DispatcherPass(forbear, worker_id="worker-test:1")
    try:
        worker = _worker(forbear, book_db, dispatch)
        assert worker.once().ran == BOOK_DAY
    finally:
        dispatch.close()
    with forbear.reading() as conn:
        o = OutboxMessage
        rows = conn.execute(
            select(
                o.dedupe_key, o.status, o.provider, o.due_at, o.reason_rules, o.last_error
            ).where(o.as_of == BOOK_DAY)
        ).all()
    due = [r for r in rows if r.due_at <= at]
    assert due, "the day queues a message due by 11:00"
    assert {r.status for r in due} <= {"sent", "cancelled", "failed"}
    sent = [r for r in due if r.status == "sent"]
    assert sent and worker.stats.dispatched >= len(sent), due
    assert {r.provider for r in sent} == {"sandbox"}
    written = {p.stem for p in (tmp_path / "sandbox").rglob("*.json")}
    assert {r.dedupe_key for r in sent} <= written
    forbear.close()


def test_a_second_sqlite_worker_waits_for_the_dispatcher_lock(
    book_db: BookDb, tmp_path: Path
) -> None:
    at = datetime.combine(BOOK_DAY, time(12), SHANGHAI).astimezone(UTC)
    first_app, second_app = _forbear(book_db, tmp_path, at), _forbear(book_db, tmp_path, at)
    first, second = DispatcherPass(first_app), DispatcherPass(second_app)
    try:
        assert first() >= 0  # dispatching: holds the lock on SQLite
        if book_db.backend == "sqlite":
            assert second() == 0 and second.totals() is None  # waits, does not fail
            first.close()
            second()  # the first is gone: it takes over
            assert second.totals() is not None
        else:  # PostgreSQL: both dispatch (SKIP LOCKED shares the rows)
            second()
            assert second.totals() is not None
    finally:
        first.close()
        second.close()
        first_app.close()
        second_app.close()


def test_stopping_the_worker_stops_its_dispatcher(book_db: BookDb, tmp_path: Path) -> None:
    at = datetime.combine(BOOK_DAY, time(3), SHANGHAI).astimezone(UTC)  # before run_at
    forbear = _forbear(book_db, tmp_path, at)
    dispatch = DispatcherPass(forbear)
    try:
        worker = _worker(forbear, book_db, dispatch)
        worker.stop()
        worker.run()  # returns at once: stopped before it began
        assert dispatch() == 0  # a stopped dispatcher claims nothing
    finally:
        dispatch.close()
        forbear.close()
