"""The daily run (DESIGN.md, "The daily run", steps 1-7) on the local engine.

:func:`run_day` works inside the caller's ONE transaction and commits nothing, so a run
that fails at any point leaves the database as it was; :func:`run_day_phased` (what
``forbear run`` calls) splits it so that no write lock is held while the day is
computed. It is idempotent for a date: the date's decisions and work queue are deleted
and rewritten (the same inputs give the same decisions), and the outbox only gains the
messages whose ``dedupe_key`` it lacks (rows already sent stay as they are).

Every whole-book step is a Polars frame in, a frame out; nothing loops over accounts in
Python. The order within the day:

1-2. the collection state and the book: repayment plans activated, completed or broken
     (:func:`forbear.services.plans.daily_update`; a plan changes what the ledger
     counts as due); the book read once (:func:`forbear.services.book.load_day`: each
     table once, as Arrow) and the ledger run once over it
     (:func:`forbear.services.book.day_ledger`), its states stored; promises to pay
     matched to payments (:func:`forbear.services.promises.daily_update`); the legal
     review queue (:func:`forbear.services.legal.refresh_queue`) assessed with the
     ACCOUNT frame's inputs and refreshed in the last write; each idempotent for the date;
3.   the active book models: :func:`forbear.services.models.book_scores` on features from
     that same ledger run (skipped, with a note, when no model is active);
4.   the ACCOUNT frame, the active strategy's segments, arms and treatments, and the
     day's actions; yesterday's carried (allowed, unscheduled) actions re-enter;
5-6. every planned contact goes through the compliance gate as one whole-day plan (at
     ``CONTACT_HOUR`` local time, party debtor, the debtor's primary contact point of
     the channel's kind); capacity is then allocated to the allowed work, with
     yesterday's work queue as ``previous`` so an agent keeps a borrower;
7.   decisions, work queues and outbox, a run record with the summary, an audit event.

Gating before allocating means capacity is never spent on a contact the gate blocks;
the gate still sees the whole day's plan, so its frequency counters are conservative.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, update

from forbear.batch import kernel
from forbear.batch.book_day import (
    BookDay,
    Prepared,
    StatesStore,
    compute_book,
    load_scoring,
    match_promises,
    scoring_notes,
    settle_plans,
    states_store,
    store_book,
    store_day_beside,
)
from forbear.batch.contacts import decide_contacts, plan
from forbear.batch.decisions import (
    OUTBOX_CHANNELS,
    capacity_input,
    decisions_frame,
    dedupe_key,
    due_moments,
    summarise,
)
from forbear.batch.engines import ACTOR, CONTACT_HOUR, ENGINES, EngineUnavailable
from forbear.batch.inputs import active, carried_streaks, day_frames, previous_day
from forbear.clock import Clock, system_clock
from forbear.domain.compliance import content
from forbear.services.contacts import lender_rules
from forbear.store import audit, bulk
from forbear.store import snapshot as arrow_reader
from forbear.store.db import read_only
from forbear.store.locks import LockSpace, lock
from forbear.store.runs import (
    Decision,
    OutboxMessage,
    OutboxOrigin,
    OutboxStatus,
    Run,
    RunStatus,
    WorkQueueItem,
    delete_day,
    outbox_keys,
)

__all__ = [  # what callers import from here (the run's parts live in their modules)
    "ACTOR",
    "CONTACT_HOUR",
    "ENGINES",
    "EngineUnavailable",
    "RunResult",
    "capacity_input",
    "carried_streaks",
    "day_frames",
    "decide_contacts",
    "plan",
    "run_day",
    "run_day_phased",
    "snapshot",
]

_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class RunResult:
    run_id: int
    as_of: date
    engine: str
    strategy_version_id: int | None
    decisions: pl.DataFrame
    work_queue: pl.DataFrame
    outbox_added: int
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Computed:
    """What steps 4-6 leave for the write phase."""

    version_id: int | None
    decisions: pl.DataFrame
    assigned: pl.DataFrame
    capacity_use: list[dict[str, Any]]
    legal_accounts: pl.DataFrame
    zones: pl.DataFrame  # borrower_id, timezone of the day's planned contacts' debtors
    hour: time  # the day's contact hour, local to each debtor


def check_engine(engine: str) -> None:
    if engine == "local":
        return
    if engine == "spark":
        from forbear.batch import spark_engine

        spark_engine.require()  # pyspark and Java 17+, else a one-line refusal
        return
    raise EngineUnavailable("--engine", f"{engine!r} is not one of {', '.join(ENGINES)}")


def run_day(
    conn: Connection,
    as_of: date,
    *,
    data_dir: Path,
    engine: str = "local",
    hour: time = CONTACT_HOUR,
    capacity: Any = None,
    now: datetime | None = None,
    clock: Clock = system_clock,
) -> RunResult:
    """Decide the day for the whole book in the caller's ONE transaction (see the module
    docstring). ``capacity`` defaults to :func:`forbear.domain.capacity.default_capacity`.
    Operators' runs go through :func:`run_day_phased`, which holds no write lock while
    it computes."""
    check_engine(engine)
    started = now or clock()
    with audit.deferred(conn):
        plan_counts = settle_plans(conn, as_of)
        book_day = compute_book(conn, as_of)
        prepared = store_book(conn, as_of, book_day, plan_counts, started)
        computed = _compute(conn, as_of, data_dir, engine, hour, capacity, prepared, book_day)
        return _write(conn, as_of, engine, prepared, computed, clock)


def run_day_phased(
    db: Engine,
    as_of: date,
    *,
    data_dir: Path,
    engine: str = "local",
    hour: time = CONTACT_HOUR,
    capacity: Any = None,
    now: datetime | None = None,
    clock: Clock = system_clock,
) -> RunResult:
    """The daily run as short write transactions around read-only computing, so that the
    web app keeps writing while it runs (DESIGN.md "Concurrency"):

    1. (write) repayment plans activated, completed or broken -- first, because a plan
       changes what the ledger counts as due;
    2. (read) the ledger's states and the active models' scores, on one snapshot;
    3. (write) those stored, then promises matched and the legal queue refreshed;
    4. (read) strategy, gate and capacity, on one snapshot;
    5. (write) the run record, decisions, work queue, outbox and audit: a run is there
       whole or not at all.

    Each step of 1-3 is idempotent for the date, so a run killed between transactions
    leaves no run, decisions, queue or outbox for the date ("as before"), and the rerun
    completes it. Read-only transactions begin deferred on SQLite: no write lock is held
    while the ledger, the models or the kernel work. Audit events of each write are
    appended at its very end (:func:`forbear.store.audit.deferred`), so the chain's lock
    is held only for that insert and the commit. A contact made while the day computes
    is not in its snapshot; the gate at the moment of contact sees it."""
    check_engine(engine)
    started = now or clock()
    # the compiled ledger loads beside the plans' write and the book's first reads, where
    # the run otherwise waits for the database (the plans' few loans take the scalar path)
    warming = threading.Thread(target=_warm_ledger, name="daily-run-ledger", daemon=True)
    warming.start()
    try:
        # the Arrow reader of each read phase and the writer of the states and scores
        # start (and load their driver) during the write before: a worker holds no
        # snapshot until its phase opens; the first phase's reader serves the second
        arrow_reader.prewarm_snapshot_reader(db, workers=2)
        with db.begin() as conn, audit.deferred(conn):
            plan_counts = settle_plans(conn, as_of)
        load_scoring()  # while the reader starts
        # the content filter's tables load beside the reading and the ledger, for the
        # location scripts' check in the ACCOUNT frame (batch.inputs.location_scripts)
        with _stored_as_computed(db, as_of) as store:
            with snapshot(db) as conn, _Beside(content.warm):
                book_day = compute_book(conn, as_of, store=store)
            arrow_reader.prewarm_snapshot_reader(db)
            with db.begin() as conn, audit.deferred(conn):
                notes = scoring_notes(book_day)
                prepared = match_promises(conn, as_of, plan_counts, started, notes)
            # the states and scores are stored by a second connection while the day is
            # decided on this snapshot (opened first: it waits for no writer), which reads
            # the ones computed above, never the stored ones; on PostgreSQL the states were
            # stored as they were computed, and the scores follow
            storing = (
                _Beside(store_day_beside, db, as_of, book_day)
                if store is None
                else _Beside(store.finish, book_day.scores)
            )
            with snapshot(db) as conn, storing:
                computed = _compute(
                    conn, as_of, data_dir, engine, hour, capacity, prepared, book_day
                )
        with db.begin() as conn, audit.deferred(conn):
            return _write(conn, as_of, engine, prepared, computed, clock)
    finally:
        arrow_reader.close_spare_readers()
        warming.join()


def _warm_ledger() -> None:
    """:func:`forbear.domain.ledger.warm_compiled`; an error is left to the run's own first
    walk, which raises it."""
    from forbear.domain.ledger import warm_compiled

    with contextlib.suppress(Exception):
        warm_compiled()


@contextmanager
def _stored_as_computed(db: Engine, as_of: date) -> Iterator[StatesStore | None]:
    """:func:`forbear.batch.book_day.states_store` for the block, rolled back if the block
    fails (the block finishes it otherwise)."""
    store = states_store(db, as_of)
    try:
        yield store
    except BaseException:
        if store is not None:
            store.abort()
        raise


class _Beside:
    """Run ``work(*args)`` in a thread for the duration of the block; on leaving, wait for
    it and raise its error (the block's own error first)."""

    def __init__(self, work: Any, *args: Any) -> None:
        self._error: BaseException | None = None

        def target() -> None:
            try:
                work(*args)
            except BaseException as error:  # re-raised in the caller's thread
                self._error = error

        self._thread = threading.Thread(target=target, name="daily-run-beside", daemon=True)

    def __enter__(self) -> _Beside:
        self._thread.start()
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        self._thread.join()
        if self._error is not None and error is None:
            raise self._error


@contextmanager
def snapshot(db: Engine) -> Iterator[Connection]:
    """A read-only transaction on one snapshot of the database, read in bulk through the
    Arrow reader (:func:`forbear.store.snapshot.arrow_snapshot`): deferred on SQLite (no
    write lock), REPEATABLE READ READ ONLY on PostgreSQL (one snapshot for every
    statement, not one per statement)."""
    conn = read_only(db.connect())
    if db.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with conn, conn.begin(), arrow_reader.arrow_snapshot(conn):
        yield conn


def _compute(
    conn: Connection,
    as_of: date,
    data_dir: Path,
    engine: str,
    hour: time,
    capacity: Any,
    prepared: Prepared,
    book_day: BookDay,
) -> _Computed:
    """Steps 4-6; reads only. The day's states, scores and borrowers come from
    :func:`compute_book` (what :func:`store_book` stored), not read back."""
    from forbear.domain.capacity import allocate, default_capacity
    from forbear.domain.capacity import summary as capacity_summary
    from forbear.domain.strategy import compile_strategy

    # 4 + 6: accounts, strategy, today's actions (+ yesterday's carried work) and the
    # compliance gate over the whole day's plan, through the engine's kernel
    version_id, strategy = active(conn)
    compiled = compile_strategy(strategy)
    from forbear.services import legal
    from forbear.services.accounts import day_facts

    previous_queue, carried = previous_day(conn, as_of)
    scores = (
        bulk.read_scores(conn, as_of)
        if book_day.scores is None
        else bulk.scores_frame(list(book_day.scores.values()))
    )
    facts = day_facts(
        conn,
        as_of,
        states=book_day.states,
        borrowers=book_day.borrowers,
        last_due=book_day.last_due,
    )
    frames = day_frames(conn, as_of, hour, carried, facts=facts, scores=scores)
    legal_accounts = legal.legal_accounts(conn, as_of, facts=facts)
    rules = lender_rules(data_dir, conn)
    if engine == "spark":
        from forbear.batch import spark_engine

        decided = spark_engine.decide_frames(frames, strategy, rules, as_of, hour, data_dir)
    else:
        decided = kernel.decide(frames, compiled, rules, as_of, hour)
    assigned, gated = decided.assigned, decided.gated
    # 5: capacity over the allowed work (non-contacts such as legal review included)
    fits = capacity_input(gated, assigned, carried)
    config = capacity or default_capacity()
    allocated = allocate(fits, config, previous_queue.select("loan_id", "agent_id"))
    capacity_use = capacity_summary(allocated, config).to_dicts()
    plan_cols = ["scheduled", "agent_id", "team_id", "carried", "rank"]
    decisions = decisions_frame(gated, allocated, assigned, as_of, version_id, plan_cols)
    sends = set(decisions.filter(pl.col("scheduled"))["borrower_id"].to_list())
    zones = frames.zones.filter(pl.col("borrower_id").is_in(list(sends)))
    return _Computed(version_id, decisions, assigned, capacity_use, legal_accounts, zones, hour)


def _write(
    conn: Connection,
    as_of: date,
    engine: str,
    prepared: Prepared,
    computed: _Computed,
    clock: Clock,
) -> RunResult:
    """Step 7 (see :func:`run_day_phased`). Two runs of one date write one at a time."""
    version_id, decisions, assigned = computed.version_id, computed.decisions, computed.assigned
    started, notes, collection = prepared.started, prepared.notes, prepared.collection
    capacity_use = computed.capacity_use
    lock(conn, LockSpace.KEY, f"daily-run:{as_of.isoformat()}")
    from forbear.services import legal

    collection = {
        **collection,
        "legal_queue": legal.refresh_queue(conn, as_of, ACTOR, accounts=computed.legal_accounts),
    }
    conn.execute(
        update(Run)
        .where(Run.as_of == as_of, Run.status == RunStatus.COMPLETED.value)
        .values(status=RunStatus.SUPERSEDED.value)
    )
    run_id = int(
        conn.execute(
            insert(Run)
            .values(
                as_of=as_of,
                strategy_version_id=version_id,
                engine=engine,
                status=RunStatus.RUNNING.value,
                started_at=started,
            )
            .returning(Run.id)
        ).scalar_one()
    )
    delete_day(conn, as_of)
    rows = decisions.with_columns(run_id=pl.lit(run_id, dtype=pl.Int64))
    decision_cols = [c.name for c in Decision.__table__.columns]
    bulk.write_frame(conn, Decision.__tablename__, rows.select(decision_cols))
    agents = rows.filter(
        pl.col("scheduled") & pl.col("agent_id").is_not_null() & pl.col("allowed").fill_null(True)
    )
    queue = agents.select(
        "as_of",
        "loan_id",
        "action_index",
        "run_id",
        "agent_id",
        "team_id",
        "borrower_id",
        pl.col("rank").cast(pl.Int64),
        "channel",
        "template",
        "carried",
        "contact_point_id",
    ).sort("agent_id", "rank", "loan_id", "action_index")
    bulk.write_frame(conn, WorkQueueItem.__tablename__, queue)
    sends = rows.filter(
        pl.col("scheduled")
        & pl.col("allowed").fill_null(False)
        & pl.col("channel").is_in([c.value for c in OUTBOX_CHANNELS])
        & pl.col("agent_id").is_null()
    )
    created = clock()
    due = due_moments(sends, computed.zones, as_of, computed.hour)
    outbox = due.select(
        "as_of",
        "loan_id",
        "borrower_id",
        "action_index",
        "channel",
        "template",
        "contact_point_id",
        "due_at",
        dedupe_key=dedupe_key(due),
        status=pl.lit(OutboxStatus.QUEUED.value),
        created_at=pl.lit(created, dtype=_UTC),
        origin=pl.lit(OutboxOrigin.RUN.value),
        next_attempt_at=pl.col("due_at"),
        tries=pl.lit(0, dtype=pl.Int64),
        reason_rules=pl.lit("[]"),
    )
    existing = outbox_keys(conn, as_of)
    fresh = outbox.filter(~pl.col("dedupe_key").is_in(list(existing)))
    added = bulk.write_frame(conn, OutboxMessage.__tablename__, fresh)
    summary = summarise(rows, assigned, added)
    summary["capacity"] = capacity_use
    summary.update(collection)
    summary["notes"] = notes
    summary["strategy_version_id"] = version_id
    summary["work_queue"] = queue.height
    summary["outbox_total"] = len(existing) + added
    conn.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            status=RunStatus.COMPLETED.value,
            finished_at=clock(),
            summary=json.loads(json.dumps(summary, default=str)),
        )
    )
    audit.record(
        conn,
        action="run.complete",
        actor=ACTOR,
        subject_type="run",
        subject_id=run_id,
        payload={
            "as_of": as_of.isoformat(),
            "engine": engine,
            "strategy_version_id": version_id,
            "accounts": summary["accounts"],
            "decisions": rows.height,
            "contacts_allowed": summary["contacts"]["allowed"],
            "contacts_blocked": summary["contacts"]["blocked"],
            "work_queue": queue.height,
            "outbox_added": added,
        },
    )
    return RunResult(
        run_id=run_id,
        as_of=as_of,
        engine=engine,
        strategy_version_id=version_id,
        decisions=rows,
        work_queue=queue,
        outbox_added=added,
        summary=summary,
        notes=notes,
    )
