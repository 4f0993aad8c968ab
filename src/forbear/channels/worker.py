"""``forbear worker``: the daily run at its local time, and the dispatcher all the time.

Two loops share one stop event:

- the **schedule** (the calling thread): at ``Settings.run_at`` in the lender's zone it
  starts the daily run of that business date. Once per date: a worker started after
  ``run_at`` on a day without a completed run runs it at once; a day that has a completed
  run is never run again unless the operator asks (``--run-now``). Only the **leader**
  (:mod:`forbear.services.outreach.leader`: an advisory lock on PostgreSQL, a file lock on
  SQLite) starts runs, so two workers never run the same day twice; a follower asks for
  the leadership each turn and takes over when the leader is gone. A run that fails is
  tried again after ``retry_seconds``, not in a tight loop.
- the **dispatcher** (a thread of its own, so a long daily run never holds messages
  back): one pass of the outbox after another, resting ``poll_seconds`` when a pass had
  nothing to do. Every worker dispatches, leader or not.

The clock is passed in (:mod:`forbear.clock`): tests drive the schedule with a stepped
clock and :meth:`Worker.tick`, never with real hours of sleep. :meth:`Worker.stop` (the
command line calls it on SIGTERM and SIGINT) lets the run or the pass under way finish
and ends both loops; the leadership is released on the way out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from forbear.clock import Clock
from forbear.services.outreach.leader import Leader

log = logging.getLogger("forbear.worker")

DailyRun = Callable[[date], object]
"""Runs the daily job of a business date (``forbear.batch.daily.run_day_phased``)."""
DayDone = Callable[[date], bool]
"""Whether a business date already has a completed daily run."""
DispatchPass = Callable[[], int]
"""One pass of the dispatcher over the due outbox; answers how many messages it handled."""


@dataclass(frozen=True)
class Schedule:
    """The daily run's local time in the lender's zone."""

    run_at: time
    zone: tzinfo

    @classmethod
    def parse(cls, run_at: str, zone: tzinfo) -> Schedule:
        return cls(time.fromisoformat(run_at), zone)

    def due_day(self, now: datetime) -> date | None:
        """The business date whose run is due at ``now``: today (local) once ``run_at``
        has passed, else None (yesterday's was due yesterday)."""
        local = now.astimezone(self.zone)
        return local.date() if local.time().replace(tzinfo=None) >= self.run_at else None

    def next_start(self, now: datetime) -> datetime:
        """The next moment, at or after ``now``, when a run falls due."""
        local = now.astimezone(self.zone)
        start = datetime.combine(local.date(), self.run_at, self.zone)
        if start < local:
            start = datetime.combine(local.date() + timedelta(days=1), self.run_at, self.zone)
        return start


@dataclass(frozen=True)
class Tick:
    """What one turn of the schedule did."""

    at: datetime
    leading: bool
    due: date | None
    ran: date | None = None
    failed: bool = False
    skipped: str | None = None  # why a due day was not run: "follower", "completed", "retry"


class WorkerStats:
    """What the worker has done, for its metrics (``forbear.channels.metrics``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leading = False
        self.runs_completed = 0
        self.runs_failed = 0
        self.last_run_day: date | None = None
        self.last_run_seconds: float | None = None
        self.schedule_errors = 0
        self.dispatch_passes = 0
        self.dispatch_errors = 0
        self.dispatched = 0
        self.last_pass_at: datetime | None = None


class Worker:
    """The schedule and the dispatcher of one worker process (see the module docstring)."""

    def __init__(
        self,
        *,
        schedule: Schedule,
        clock: Clock,
        leader: Leader,
        run_day: DailyRun,
        day_done: DayDone,
        dispatch: DispatchPass | None,
        poll_seconds: float = 5.0,
        retry_seconds: float = 300.0,
        force_day: date | None = None,
        stats: WorkerStats | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        if poll_seconds <= 0 or retry_seconds <= 0:
            raise ValueError("poll_seconds and retry_seconds must be positive")
        self.schedule = schedule
        self.clock = clock
        self.leader = leader
        self.run_day = run_day
        self.day_done = day_done
        self.dispatch = dispatch
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.force_day = force_day
        self.stats = stats or WorkerStats()
        self.on_stop = on_stop  # e.g. the dispatcher's own stop: a pass under way ends soon
        self.stopping = threading.Event()
        self._done: date | None = None  # the latest date known to be run
        self._retry_at: datetime | None = None

    # --- the schedule -----------------------------------------------------------------

    def tick(self) -> Tick:
        """One turn: run the due day if this worker leads and the day has no completed
        run (or was asked for with ``force_day``)."""
        now = self.clock()
        forced = self.force_day
        due = forced or self.schedule.due_day(now)
        if due is None or (due == self._done and forced is None):
            return Tick(now, self.leader.holds(), due)
        if self._retry_at is not None and now < self._retry_at:
            return Tick(now, self.leader.holds(), due, skipped="retry")
        leading = self.leader.try_acquire()
        with self.stats.lock:
            self.stats.leading = leading
        if not leading:
            return Tick(now, False, due, skipped="follower")
        if forced is None and self.day_done(due):
            self._done = due
            return Tick(now, True, due, skipped="completed")
        if not self.leader.holds():  # lost between the question and the run
            return Tick(now, False, due, skipped="follower")
        log.info("daily run of %s starting", due)
        try:
            self.run_day(due)
        except Exception:
            log.exception("daily run of %s failed; next try in %.0f s", due, self.retry_seconds)
            self._retry_at = now + timedelta(seconds=self.retry_seconds)
            with self.stats.lock:
                self.stats.runs_failed += 1
            return Tick(now, True, due, failed=True)
        finished = self.clock()
        self._done, self._retry_at, self.force_day = due, None, None
        with self.stats.lock:
            self.stats.runs_completed += 1
            self.stats.last_run_day = due
            self.stats.last_run_seconds = max(0.0, (finished - now).total_seconds())
        log.info("daily run of %s completed", due)
        return Tick(now, True, due, ran=due)

    def schedule_loop(self) -> None:
        """Turn after turn until stopped, resting until the next start (at most
        ``poll_seconds``, so a follower asks for the leadership again soon). A turn that
        fails (the database away) is logged and counted; the next turn tries again."""
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # the database away, the leader's connection refused, ...
                log.exception("schedule turn failed; next turn in %.0f s", self.poll_seconds)
                with self.stats.lock:
                    self.stats.schedule_errors += 1
            now = self.clock()
            rest = (self.schedule.next_start(now) - now).total_seconds()
            self.stopping.wait(min(max(rest, 0.0), self.poll_seconds))

    # --- the dispatcher ---------------------------------------------------------------

    def dispatch_pass(self) -> int:
        """One dispatcher pass (0 without a dispatcher); a failing pass is logged and
        counted, never the end of the worker."""
        if self.dispatch is None:
            return 0
        try:
            handled = self.dispatch()
        except Exception:
            log.exception("dispatcher pass failed")
            with self.stats.lock:
                self.stats.dispatch_errors += 1
            return 0
        with self.stats.lock:
            self.stats.dispatch_passes += 1
            self.stats.dispatched += handled
            self.stats.last_pass_at = self.clock()
        return handled

    def dispatch_loop(self) -> None:
        while not self.stopping.is_set():
            if self.dispatch_pass() == 0:
                self.stopping.wait(self.poll_seconds)

    # --- the whole worker -------------------------------------------------------------

    def once(self) -> Tick:
        """One turn of the schedule and one dispatcher pass (``forbear worker --once``,
        for cron), then the leadership released."""
        try:
            tick = self.tick()
            self.dispatch_pass()
            return tick
        finally:
            self.leader.release()

    def run(self) -> None:
        """Both loops until :meth:`stop`; the leadership released at the end."""
        dispatcher = threading.Thread(target=self.dispatch_loop, name="forbear-dispatch")
        dispatcher.start()
        try:
            self.schedule_loop()
        finally:
            self.stopping.set()
            dispatcher.join()
            self.leader.release()
            with self.stats.lock:
                self.stats.leading = False

    def stop(self) -> None:
        """Finish what is under way and end (safe from a signal handler)."""
        self.stopping.set()
        if self.on_stop is not None:
            self.on_stop()


class DispatcherPass:
    """The worker's dispatcher (:class:`forbear.channels.dispatcher.Dispatcher`), one
    :meth:`~forbear.channels.dispatcher.Dispatcher.run_once` per call: it sends what is
    due and returns how many messages it handled.

    Made on the first call and kept. On SQLite it holds the single-dispatcher lock
    (:func:`forbear.services.outreach.claims.single_dispatcher`) from then on; while
    another process holds it, a call does nothing and answers 0 (a warning once), and a
    later call tries again, so a second worker on SQLite schedules and takes over the
    sending when the first is gone. On PostgreSQL every worker dispatches (``SKIP
    LOCKED``)."""

    def __init__(
        self, forbear: Any, *, batch: int | None = None, worker_id: str | None = None
    ) -> None:
        self.forbear = forbear
        self.batch = batch
        self.worker_id = worker_id
        self._stack: ExitStack | None = None
        self._dispatcher: Any = None
        self._warned = False
        self._stopped = False

    def open(self) -> bool:
        """Make the dispatcher now (its channels file and adapters checked: a mistake is a
        :class:`~forbear.domain.errors.ConfigurationError` at once). False while another
        dispatcher holds this SQLite database."""
        from forbear.channels.dispatcher import Dispatcher
        from forbear.services.outreach.claims import DispatcherBusy, single_dispatcher

        if self._dispatcher is not None:
            return True
        engine = self.forbear.engine
        stack = ExitStack()
        try:
            stack.enter_context(
                single_dispatcher(
                    engine.dialect.name, engine.url.database, Path(self.forbear.settings.data_dir)
                )
            )
        except DispatcherBusy:
            stack.close()
            if not self._warned:
                log.warning("another dispatcher runs on this SQLite database: waiting")
                self._warned = True
            return False
        try:
            self._dispatcher = stack.enter_context(
                Dispatcher(self.forbear, worker_id=self.worker_id, batch=self.batch)
            )
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._warned = False
        return True

    def __call__(self) -> int:
        if self._stopped or not self.open():
            return 0
        return int(self._dispatcher.run_once())

    def stop(self) -> None:
        """Stop claiming (safe from a signal handler); the sends under way finish."""
        self._stopped = True
        if self._dispatcher is not None:
            self._dispatcher.stop()

    def totals(self) -> Any:
        """The dispatcher's counts (None before its first pass)."""
        return None if self._dispatcher is None else self._dispatcher.totals

    def close(self) -> None:
        """Wait for the answers, close the adapters, release the SQLite lock."""
        stack, self._stack, self._dispatcher = self._stack, None, None
        if stack is not None:
            stack.close()
