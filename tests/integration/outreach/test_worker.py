"""``forbear worker``'s schedule on a real book and the real daily run, driven by a
stepped clock (no real hours of sleep): the day runs at ``run_at`` local time, once per
business date, by the leader only; two workers started together run it once (SQLite and
PostgreSQL, separate engines)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from forbear.batch.daily import run_day_phased
from forbear.channels.worker import Schedule, Worker
from forbear.services.outreach.leader import leader_for
from forbear.services.runs import latest_run
from forbear.store.db import read_only
from outreach_book import BookDb, runs_of

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_worker")

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEDULE = Schedule(time(6, 0), SHANGHAI)


class SteppedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at.astimezone(UTC)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), SHANGHAI)


class Recorder:
    """The real daily run, with a note of each date it was asked to run."""

    def __init__(self, engine: Engine, data_dir: Path, clock: SteppedClock) -> None:
        self.engine, self.data_dir, self.clock = engine, data_dir, clock
        self.days: list[date] = []

    def __call__(self, day: date) -> object:
        self.days.append(day)
        return run_day_phased(self.engine, day, data_dir=self.data_dir, clock=self.clock)


def day_done_on(engine: Engine):  # type: ignore[no-untyped-def]
    def done(day: date) -> bool:
        with read_only(engine.connect()) as conn, conn.begin():
            return latest_run(conn, day, day) is not None

    return done


def make_worker(
    engine: Engine, book: BookDb, clock: SteppedClock, tmp: Path, **options: object
) -> tuple[Worker, Recorder]:
    recorder = Recorder(engine, tmp, clock)
    worker = Worker(
        schedule=SCHEDULE,
        clock=clock,
        leader=leader_for(engine, book.directory),
        run_day=recorder,
        day_done=day_done_on(engine),
        dispatch=None,
        **options,  # type: ignore[arg-type]
    )
    return worker, recorder


def test_two_workers_started_together_run_the_day_once(book_db: BookDb, tmp_path: Path) -> None:
    day = date(2026, 11, 28)
    clock = SteppedClock(local(day, 7))
    engines = [book_db.engine(), book_db.engine()]  # two workers, two connection pools
    try:
        workers = [make_worker(e, book_db, clock, tmp_path) for e in engines]
        start = threading.Barrier(2)
        ticks: list[object] = [None, None]

        def turn(i: int) -> None:
            start.wait()
            ticks[i] = workers[i][0].tick()

        threads = [threading.Thread(target=turn, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ran = [t.ran for t in ticks]  # type: ignore[attr-defined]
        assert sorted(ran, key=str) == [day, None] or sorted(ran, key=str) == [None, day]
        follower = ticks[ran.index(None)]
        assert follower.skipped == "follower"  # type: ignore[attr-defined]
        assert sum(len(r.days) for _, r in workers) == 1
        assert runs_of(engines[0], day) == ["completed"]
        # the leader stops; the other takes over, sees the completed day and leaves it
        leader = workers[ran.index(day)][0]
        leader.leader.release()
        again = workers[ran.index(None)][0].tick()
        assert again.leading and again.ran is None and again.skipped == "completed"
        assert runs_of(engines[0], day) == ["completed"]
        assert sum(len(r.days) for _, r in workers) == 1
        for w, _ in workers:
            w.leader.release()
    finally:
        for e in engines:
            e.dispose()


def test_the_day_runs_at_run_at_local_time_once_per_business_date(
    book_db: BookDb, tmp_path: Path
) -> None:
    day = date(2026, 11, 30)
    clock = SteppedClock(local(day, 5, 59))
    engine = book_db.engine()
    try:
        worker, recorder = make_worker(engine, book_db, clock, tmp_path)
        tick = worker.tick()
        assert tick.due is None and tick.ran is None and recorder.days == []
        assert runs_of(engine, day) == []
        clock.at = local(day, 6, 0)  # run_at: the day is due
        assert worker.tick().ran == day
        assert runs_of(engine, day) == ["completed"]
        for step in (local(day, 6, 5), local(day, 23, 59)):
            clock.at = step
            assert worker.tick().ran is None
        clock.at = local(day + timedelta(days=1), 5, 0)  # the next day, before run_at
        assert worker.tick().ran is None
        clock.at = local(day + timedelta(days=1), 6, 30)
        assert worker.tick().ran == day + timedelta(days=1)
        assert recorder.days == [day, day + timedelta(days=1)]
        assert runs_of(engine, day) == ["completed"]
        assert runs_of(engine, day + timedelta(days=1)) == ["completed"]
        assert worker.stats.runs_completed == 2 and worker.stats.last_run_day == day + timedelta(
            days=1
        )
        worker.leader.release()
    finally:
        engine.dispose()


def test_a_worker_started_late_runs_a_missing_day_and_never_a_completed_one_unless_asked(
    book_db: BookDb, tmp_path: Path
) -> None:
    day = date(2026, 12, 2)
    clock = SteppedClock(local(day, 15))  # started long after run_at
    engine = book_db.engine()
    try:
        worker, _ = make_worker(engine, book_db, clock, tmp_path)
        assert worker.tick().ran == day  # no completed run yet: now
        worker.leader.release()
        # a restart the same day: the day is done
        late, late_recorder = make_worker(engine, book_db, clock, tmp_path)
        tick = late.tick()
        assert tick.ran is None and tick.skipped == "completed" and late_recorder.days == []
        late.leader.release()
        # asked for it (--run-now): it runs again, once, and the earlier run is superseded
        asked, asked_recorder = make_worker(engine, book_db, clock, tmp_path, force_day=day)
        assert asked.tick().ran == day
        assert asked.tick().ran is None
        assert asked_recorder.days == [day]
        assert runs_of(engine, day) == ["completed", "superseded"]
        asked.leader.release()
    finally:
        engine.dispose()


def test_a_failed_run_is_tried_again_after_the_pause_not_at_once(
    book_db: BookDb, tmp_path: Path
) -> None:
    day = date(2026, 12, 4)
    clock = SteppedClock(local(day, 6, 1))
    engine = book_db.engine()
    attempts: list[date] = []

    def flaky(d: date) -> object:
        attempts.append(d)
        if len(attempts) == 1:
            raise ConnectionError("the database went away")  # the first try fails
        return run_day_phased(engine, d, data_dir=tmp_path, clock=clock)

    try:
        worker = Worker(
            schedule=SCHEDULE,
            clock=clock,
            leader=leader_for(engine, book_db.directory),
            run_day=flaky,
            day_done=day_done_on(engine),
            dispatch=None,
            retry_seconds=600,
        )
        assert worker.tick().failed
        assert runs_of(engine, day) == []
        clock.at = local(day, 6, 5)
        tick = worker.tick()
        assert tick.skipped == "retry" and attempts == [day]
        clock.at = local(
            day,
            6,
            11,
        )
        assert worker.tick().ran == day
        assert attempts == [day, day] and runs_of(engine, day) == ["completed"]
        assert worker.stats.runs_failed == 1 and worker.stats.runs_completed == 1
        worker.leader.release()
    finally:
        engine.dispose()


def test_the_dispatcher_keeps_going_after_a_failing_pass_and_stops_on_request(
    book_db: BookDb, tmp_path: Path
) -> None:
    clock = SteppedClock(local(date(2026, 12, 6), 3))  # before run_at: no run
    engine = book_db.engine()
    passes: list[int] = []
    worker_box: list[Worker] = []

    def dispatch() -> int:
        passes.append(1)
        if len(passes) == 2:
            raise TimeoutError("a provider hung")
        if len(passes) >= 5:
            worker_box[0].stop()  # SIGTERM's handler does the same
        return 3 if len(passes) < 4 else 0

    try:
        worker = Worker(
            schedule=SCHEDULE,
            clock=clock,
            leader=leader_for(engine, book_db.directory),
            run_day=lambda d: pytest.fail("nothing is due"),
            day_done=day_done_on(engine),
            dispatch=dispatch,
            poll_seconds=0.05,
        )
        worker_box.append(worker)
        worker.run()  # returns once stopped
        assert len(passes) >= 5
        assert worker.stats.dispatch_errors == 1
        assert worker.stats.dispatched == 3 * 2  # passes 1 and 3; pass 2 failed
        assert not worker.leader.holds()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("at", "due", "next_start"),
    [
        (datetime(2026, 12, 1, 21, 59, tzinfo=UTC), None, datetime(2026, 12, 1, 22, 0, tzinfo=UTC)),
        (
            datetime(2026, 12, 1, 22, 0, tzinfo=UTC),
            date(2026, 12, 2),
            datetime(2026, 12, 1, 22, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
            date(2026, 12, 2),
            datetime(2026, 12, 2, 22, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_schedule_reads_the_lenders_local_time(
    at: datetime, due: date | None, next_start: datetime
) -> None:
    schedule = Schedule.parse("06:00", SHANGHAI)  # 06:00 Shanghai is 22:00 UTC the day before
    assert schedule.due_day(at) == due
    assert schedule.next_start(at) == next_start


def test_a_database_that_does_not_answer_does_not_end_the_worker(tmp_path: Path) -> None:
    from forbear.services.outreach.leader import AdvisoryLeader
    from forbear.store.db import make_engine

    # nothing listens on port 1: every question to the database fails
    engine = make_engine(
        "postgresql://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    clock = SteppedClock(local(date(2026, 12, 8), 7))
    turns: list[int] = []
    worker_box: list[Worker] = []

    def day_done(d: date) -> bool:
        pytest.fail("never reached: the leadership cannot be asked for")

    def dispatch() -> int:
        turns.append(1)
        if len(turns) >= 3 and worker_box[0].stats.schedule_errors >= 2:
            worker_box[0].stop()
        return 0

    try:
        worker = Worker(
            schedule=SCHEDULE,
            clock=clock,
            leader=AdvisoryLeader(engine),
            run_day=lambda d: pytest.fail("nothing may run"),
            day_done=day_done,
            dispatch=dispatch,
            poll_seconds=0.05,
        )
        worker_box.append(worker)
        worker.run()  # returns when stopped, not with the database's error
        assert worker.stats.schedule_errors >= 2 and worker.stats.runs_completed == 0
    finally:
        engine.dispose()
