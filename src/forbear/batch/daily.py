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

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update

from forbear.batch import kernel
from forbear.batch.kernel import DayFrames
from forbear.domain.compliance import schema as gate_schema
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import Channel, Party
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import book, models
from forbear.services.contacts import CHANNEL_POINT_KIND, NEEDS_POINT, lender_rules
from forbear.store import audit, bulk
from forbear.store import contacts as contact_store
from forbear.store.db import read_only
from forbear.store.locks import LockSpace, lock
from forbear.store.models import Borrower, ContactPoint
from forbear.store.runs import (
    Decision,
    OutboxMessage,
    OutboxStatus,
    Run,
    RunStatus,
    WorkQueueItem,
    delete_day,
    outbox_keys,
)

ENGINES = ("local", "spark")
CONTACT_HOUR = time(10, 0)
ACTOR = "system:daily-run"
# How far back the run looks to count the days an action has been carried.
CARRY_LOOKBACK_DAYS = 30
# Blocked by the run itself, not by a compliance rule: the channel needs a contact point
# (phone, e-mail) and the debtor has none of that kind.
NO_CONTACT_POINT = "RUN.NO_CONTACT_POINT"
# Channels the outbox sends by itself; the rest (agent calls, visits, legal review) are
# agents' work.
OUTBOX_CHANNELS = frozenset(
    {Channel.SMS, Channel.EMAIL, Channel.APP_PUSH, Channel.IM, Channel.AI_CALL, Channel.LETTER}
)
_GATED = sorted(c.value for c in Channel)
_UTC = pl.Datetime("us", "UTC")

ACTIONS = kernel.ACTIONS


class EngineUnavailable(ValidationError):
    """The requested engine cannot run here."""


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


def _check_engine(engine: str) -> None:
    if engine == "local":
        return
    if engine == "spark":
        from forbear.batch import spark_engine

        spark_engine.require()  # pyspark and Java 17+, else a one-line refusal
        return
    raise EngineUnavailable("--engine", f"{engine!r} is not one of {', '.join(ENGINES)}")


def dedupe_key(frame: pl.LazyFrame | pl.DataFrame) -> pl.Expr:
    """sha256 of ``as_of|loan_id|action_index|channel|template`` (hex) as an expression."""
    del frame
    text = pl.concat_str(
        pl.col("as_of").cast(pl.String),
        pl.col("loan_id").cast(pl.String),
        pl.col("action_index").cast(pl.String),
        pl.col("channel"),
        pl.col("template").fill_null(""),
        separator="|",
    )
    return text.map_batches(
        lambda s: pl.Series(
            [hashlib.sha256(v.encode()).hexdigest() for v in s.to_list()], dtype=pl.String
        ),
        return_dtype=pl.String,
    )


def contact_points(conn: Connection) -> pl.DataFrame:
    """The debtor's primary contact point of each kind: ``borrower_id, kind,
    contact_point_id, provenance`` (primary first, then the lowest id)."""
    rows = conn.execute(
        select(
            ContactPoint.borrower_id,
            ContactPoint.kind,
            ContactPoint.id,
            ContactPoint.provenance,
            ContactPoint.is_primary,
        ).where(ContactPoint.owner_type == Party.DEBTOR.value)
    ).all()
    schema = {
        "borrower_id": pl.Int64(),
        "kind": pl.String(),
        "contact_point_id": pl.Int64(),
        "provenance": pl.String(),
        "is_primary": pl.Boolean(),
    }
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    return (
        frame.sort(
            ["borrower_id", "kind", "is_primary", "contact_point_id"],
            descending=[False, False, True, False],
        )
        .unique(["borrower_id", "kind"], keep="first", maintain_order=True)
        .drop("is_primary")
    )


def borrower_zones(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(select(Borrower.id, Borrower.timezone)).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"borrower_id": pl.Int64(), "timezone": pl.String()},
        orient="row",
    )


def plan(
    actions: pl.DataFrame,
    points: pl.DataFrame,
    zones: pl.DataFrame,
    as_of: date,
    hour: time = CONTACT_HOUR,
) -> pl.DataFrame:
    """The gate's PLANNED frame for the contact actions (a ``contact_id`` per row of
    ``actions``, in order), plus ``needs_point_missing`` for channels that need a point
    the debtor lacks. Non-contact actions (e.g. legal review) are not planned."""
    kinds = pl.DataFrame(
        {
            "channel": [c.value for c in CHANNEL_POINT_KIND],
            "kind": [k.value if k else None for k in CHANNEL_POINT_KIND.values()],
            "_needs": [c in NEEDS_POINT for c in CHANNEL_POINT_KIND],
        },
        schema={"channel": pl.String(), "kind": pl.String(), "_needs": pl.Boolean()},
    )
    local = datetime.combine(as_of, hour)
    p = (
        actions.with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
        .filter(pl.col("channel").is_in(_GATED))
        .join(kinds, on="channel", how="left")
        .join(points, on=["borrower_id", "kind"], how="left")
        .join(zones, on="borrower_id", how="left")
    )
    zone_list = sorted({z for z in p["timezone"].unique().to_list() if z})
    at = pl.lit(None, dtype=_UTC)
    for z in zone_list:
        moment = pl.lit(local).dt.replace_time_zone(z).dt.convert_time_zone("UTC")
        at = pl.when(pl.col("timezone") == z).then(moment).otherwise(at)
    return p.with_columns(
        at=at.cast(_UTC),
        party=pl.lit(Party.DEBTOR.value),
        agency_id=pl.lit(None, dtype=pl.Int64),
        discloses_debt=pl.lit(True),
        needs_point_missing=pl.col("_needs") & pl.col("contact_point_id").is_null(),
    ).select([*gate_schema.PLANNED, "needs_point_missing"])


def decide_contacts(
    actions: pl.DataFrame,
    planned: pl.DataFrame,
    history: pl.DataFrame,
    flags: pl.DataFrame,
    holds: pl.DataFrame,
    rules: Any,
) -> pl.DataFrame:
    """``actions`` with the gate's answer (``allowed, blocked_by, earliest_allowed_at``)
    and ``contact_point_id``; actions that are not contacts get ``allowed`` null."""
    to_gate = planned.filter(~pl.col("needs_point_missing")).drop("needs_point_missing")
    if to_gate.height:
        decided = gate(to_gate.lazy(), history.lazy(), flags.lazy(), holds.lazy(), rules).collect()
    else:
        decided = pl.DataFrame(schema={**gate_schema.PLANNED, **gate_schema.DECISION})
    missing = planned.filter(pl.col("needs_point_missing")).select(
        "contact_id",
        "contact_point_id",
        allowed=pl.lit(False),
        blocked_by=pl.lit([NO_CONTACT_POINT], dtype=pl.List(pl.String)),
        earliest_allowed_at=pl.lit(None, dtype=_UTC),
    )
    answers = pl.concat(
        [
            decided.select(
                "contact_id", "contact_point_id", "allowed", "blocked_by", "earliest_allowed_at"
            ),
            missing,
        ]
    )
    return (
        actions.with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
        .join(answers, on="contact_id", how="left")
        .with_columns(pl.col("blocked_by").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("contact_id")
    )


# --- the run ------------------------------------------------------------------------------


def _strategy(conn: Connection) -> tuple[int | None, Any]:
    """The active strategy's version id (None for the shipped default) and strategy."""
    from forbear.services.strategies import active_strategy

    strategy, info = active_strategy(conn)
    return (None if info is None else int(info.id)), strategy


def _previous_day(conn: Connection, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Yesterday's work queue and yesterday's carried (allowed, unscheduled) actions."""
    yesterday = as_of - timedelta(days=1)
    wq = WorkQueueItem
    queue_rows = conn.execute(
        select(wq.loan_id, wq.borrower_id, wq.agent_id, wq.team_id, wq.channel, wq.rank).where(
            wq.as_of == yesterday
        )
    ).all()
    queue = pl.DataFrame(
        [tuple(r) for r in queue_rows],
        schema={
            "loan_id": pl.Int64(),
            "borrower_id": pl.Int64(),
            "agent_id": pl.String(),
            "team_id": pl.String(),
            "channel": pl.String(),
            "rank": pl.Int64(),
        },
        orient="row",
    )
    d = Decision
    carried_rows = conn.execute(
        select(*(getattr(d, name) for name in ACTIONS)).where(
            d.as_of == yesterday, d.carried.is_(True)
        )
    ).all()
    carried = pl.DataFrame([tuple(r) for r in carried_rows], schema=ACTIONS, orient="row")
    streak_rows = conn.execute(
        select(d.as_of, d.loan_id, d.action_index).where(
            d.as_of >= yesterday - timedelta(days=CARRY_LOOKBACK_DAYS - 1),
            d.as_of <= yesterday,
            d.carried.is_(True),
        )
    ).all()
    streaks = carried_streaks(
        pl.DataFrame(
            [tuple(r) for r in streak_rows],
            schema={"as_of": pl.Date(), "loan_id": pl.Int64(), "action_index": pl.Int64()},
            orient="row",
        ),
        yesterday,
    )
    carried = carried.join(streaks, on=["loan_id", "action_index"], how="left").with_columns(
        pl.col("carried_days").fill_null(1)
    )
    return queue, carried


def carried_streaks(carried: pl.DataFrame, yesterday: date) -> pl.DataFrame:
    """``loan_id, action_index, carried_days``: for each action carried on ``yesterday``,
    on how many consecutive days up to ``yesterday`` it was carried (1 = only yesterday).
    ``carried`` holds the ``(as_of, loan_id, action_index)`` of the carried decisions of the
    last days."""
    keys = ["loan_id", "action_index"]
    return (
        carried.with_columns(_back=(pl.lit(yesterday) - pl.col("as_of")).dt.total_days())
        .sort([*keys, "_back"])
        .with_columns(_rank=pl.int_range(pl.len()).over(keys))
        .group_by(keys)
        .agg(
            carried_days=((pl.col("_back") != pl.col("_rank")).cum_sum() == 0).sum().cast(pl.Int64)
        )
        .filter(pl.col("carried_days") > 0)
    )


def _counts(frame: pl.DataFrame, *keys: str) -> list[dict[str, Any]]:
    if frame.height == 0:
        return []
    return (
        frame.group_by(*keys).agg(pl.len().alias("count")).sort(*keys, nulls_last=True).to_dicts()
    )


def summarise(decisions: pl.DataFrame, accounts: pl.DataFrame, outbox_added: int) -> dict[str, Any]:
    """Counts only (no personal data): what ``runs.summary`` stores and the CLI prints."""
    contacts = decisions.filter(pl.col("allowed").is_not_null())
    blocked = (
        contacts.filter(~pl.col("allowed"))
        .select(pl.col("blocked_by").str.json_decode(pl.List(pl.String)))
        .explode("blocked_by")
        .rename({"blocked_by": "rule"})
    )
    scheduled = decisions.filter(pl.col("scheduled"))
    return {
        "accounts": accounts.height,
        "actions": decisions.height,
        "by_segment": _counts(accounts, "segment"),
        "by_treatment": _counts(accounts, "treatment"),
        "by_arm": _counts(accounts, "arm"),
        "contacts": {
            "planned": contacts.height,
            "allowed": int(contacts["allowed"].sum()) if contacts.height else 0,
            "blocked": int((~contacts["allowed"]).sum()) if contacts.height else 0,
        },
        "blocked_by_rule": _counts(blocked, "rule"),
        "scheduled_by_channel": _counts(scheduled, "channel"),
        "scheduled_by_team": _counts(scheduled.filter(pl.col("team_id").is_not_null()), "team_id"),
        "carried_by_channel": _counts(decisions.filter(pl.col("carried")), "channel"),
        "outbox_added": outbox_added,
    }


@dataclass
class _Prepared:
    """What steps 1-3 leave for the compute phase."""

    started: datetime
    notes: list[str]
    collection: dict[str, dict[str, int]]


@dataclass
class _Computed:
    """What steps 4-6 leave for the write phase."""

    version_id: int | None
    decisions: pl.DataFrame
    assigned: pl.DataFrame
    capacity_use: list[dict[str, Any]]
    legal_accounts: pl.DataFrame


def run_day(
    conn: Connection,
    as_of: date,
    *,
    data_dir: Path,
    engine: str = "local",
    hour: time = CONTACT_HOUR,
    capacity: Any = None,
    now: datetime | None = None,
) -> RunResult:
    """Decide the day for the whole book in the caller's ONE transaction (see the module
    docstring). ``capacity`` defaults to :func:`forbear.domain.capacity.default_capacity`.
    Operators' runs go through :func:`run_day_phased`, which holds no write lock while
    it computes."""
    _check_engine(engine)
    started = now or datetime.now(UTC)
    with audit.deferred(conn):
        plan_counts = _settle_plans(conn, as_of)
        book_day = _compute_book(conn, as_of)
        prepared = _store_book(conn, as_of, book_day, plan_counts, started)
        computed = _compute(conn, as_of, data_dir, engine, hour, capacity, prepared, book_day)
        return _write(conn, as_of, engine, prepared, computed)


def run_day_phased(
    db: Engine,
    as_of: date,
    *,
    data_dir: Path,
    engine: str = "local",
    hour: time = CONTACT_HOUR,
    capacity: Any = None,
    now: datetime | None = None,
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
    _check_engine(engine)
    started = now or datetime.now(UTC)
    with db.begin() as conn, audit.deferred(conn):
        plan_counts = _settle_plans(conn, as_of)
    with snapshot(db) as conn:
        book_day = _compute_book(conn, as_of)
    with db.begin() as conn, audit.deferred(conn):
        prepared = _store_book(conn, as_of, book_day, plan_counts, started)
    with snapshot(db) as conn:
        computed = _compute(conn, as_of, data_dir, engine, hour, capacity, prepared, book_day)
    with db.begin() as conn, audit.deferred(conn):
        return _write(conn, as_of, engine, prepared, computed)


@contextmanager
def snapshot(db: Engine) -> Iterator[Connection]:
    """A read-only transaction on one snapshot of the database, read in bulk through the
    Arrow reader (:func:`forbear.store.bulk.arrow_snapshot`): deferred on SQLite (no
    write lock), REPEATABLE READ READ ONLY on PostgreSQL (one snapshot for every
    statement, not one per statement)."""
    conn = read_only(db.connect())
    if db.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with conn, conn.begin(), bulk.arrow_snapshot(conn):
        yield conn


@dataclass
class _BookDay:
    """Steps 2-3 computed, not yet stored: the ledger's states, the models' scores (None
    when no book model is active) and each loan's borrower, from the book read once."""

    states: pl.DataFrame
    scores: dict[str, pl.DataFrame] | None
    borrowers: pl.DataFrame


def _settle_plans(conn: Connection, as_of: date) -> dict[str, int]:
    """Step 1: plans first (an activated or broken plan changes what the ledger counts)."""
    from forbear.services import plans

    return plans.daily_update(conn, as_of, ACTOR)


def _compute_book(conn: Connection, as_of: date) -> _BookDay:
    """Steps 2-3 on the book as it stands; reads only. Every table of the book is read
    once, range of loan ids by range (:func:`forbear.services.book.iter_days`: memory
    holds one range, and the next one being read), and the ledger runs once
    (:func:`forbear.services.book.day_ledger`); the scoring features come from that same
    run, and the states and scores computed here are what the ACCOUNT frame reads."""
    head = book.read_head(conn, as_of)
    scoring = models.has_active_book_model(conn)
    states: list[pl.DataFrame] = []
    features: list[pl.DataFrame] = []
    days = (
        book.iter_days(conn, head)
        if head.loans.height
        else iter([book.load_bucket(conn, head, 0, -1)])
    )
    for day in days:  # the next range is being read on conn meanwhile: compute only
        ledger = book.day_ledger(day, contract=scoring)
        states.append(ledger.states)
        if scoring:
            features.append(models.day_features(day, ledger))
        del day, ledger
    borrowers = head.loans.select("loan_id", "borrower_id")
    scores: dict[str, pl.DataFrame] | None = None
    if scoring:
        whole = models.whole_book(features, borrowers)
        try:
            scores = models.book_scores(conn, as_of, features=whole)
        except NotFound:
            scores = None
    return _BookDay(pl.concat(states).sort("loan_id"), scores, borrowers)


def _store_book(
    conn: Connection,
    as_of: date,
    book_day: _BookDay,
    plan_counts: dict[str, int],
    started: datetime,
) -> _Prepared:
    """Store the day's states and scores, then match promises to payments; each
    idempotent for the date. (The legal review queue is assessed on the next snapshot,
    which sees the promises matched here, and refreshed in the run's last write.)"""
    from forbear.services import promises

    notes: list[str] = []
    book.store_states(conn, as_of, book_day.states)
    collection = {"plans": plan_counts}
    collection["promises"] = promises.daily_update(conn, as_of, ACTOR)
    if book_day.scores is None:
        notes.append("no active book model: scoring skipped (accounts are unscored)")
    else:
        for kind, rows in models.store_scores(conn, as_of, book_day.scores).items():
            notes.append(f"{kind}: {rows:,} accounts scored")
    return _Prepared(started, notes, collection)


def _compute(
    conn: Connection,
    as_of: date,
    data_dir: Path,
    engine: str,
    hour: time,
    capacity: Any,
    prepared: _Prepared,
    book_day: _BookDay,
) -> _Computed:
    """Steps 4-6; reads only. The day's states, scores and borrowers come from
    :func:`_compute_book` (what :func:`_store_book` stored), not read back."""
    from forbear.domain.capacity import allocate, default_capacity
    from forbear.domain.capacity import summary as capacity_summary
    from forbear.domain.strategy import compile_strategy

    # 4 + 6: accounts, strategy, today's actions (+ yesterday's carried work) and the
    # compliance gate over the whole day's plan, through the engine's kernel
    version_id, strategy = _strategy(conn)
    compiled = compile_strategy(strategy)
    from forbear.services import legal
    from forbear.services.accounts import day_facts

    previous_queue, carried = _previous_day(conn, as_of)
    scores = (
        bulk.read_scores(conn, as_of)
        if book_day.scores is None
        else bulk.scores_frame(list(book_day.scores.values()))
    )
    facts = day_facts(conn, as_of, states=book_day.states, borrowers=book_day.borrowers)
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
    decisions = _decisions(gated, allocated, assigned, as_of, version_id, plan_cols)
    return _Computed(version_id, decisions, assigned, capacity_use, legal_accounts)


def day_frames(
    conn: Connection,
    as_of: date,
    hour: time,
    carried: pl.DataFrame,
    *,
    facts: Any = None,
    scores: pl.DataFrame | None = None,
) -> DayFrames:
    """The kernel's inputs for the whole book from the database (one bucket). The daily
    run passes the day's :class:`forbear.services.accounts.DayFacts` and ``scores``
    (``bulk.SCORES``) it holds, so each table is read once (the holds serve the ACCOUNT
    frame and the gate)."""
    from forbear.services.accounts import build_accounts, day_facts

    if scores is None:
        scores = bulk.read_scores(conn, as_of)
    if facts is None:
        facts = day_facts(conn, as_of)
    accounts = build_accounts(conn, as_of, facts=facts, scores=scores).join(
        reason_codes(scores), on="loan_id", how="left"
    )
    zones = borrower_zones(conn)
    first, last = kernel.day_window(zones["timezone"].drop_nulls().to_list(), as_of, hour)
    return DayFrames(
        accounts=accounts,
        carried=carried,
        points=contact_points(conn),
        zones=zones,
        history=contact_store.read_history(conn, before=first),
        flags=contact_store.read_flags(conn, at=last),
        holds=facts.holds,
    ).conformed()


def reason_codes(scores: pl.DataFrame) -> pl.DataFrame:
    """``loan_id, reason_codes``: the behaviour model's reason codes of the day, else the
    early-warning model's (a JSON list as stored)."""
    by_kind = [
        scores.filter(pl.col("kind") == kind).select(
            "loan_id", pl.col("reason_codes").alias(f"_r{i}")
        )
        for i, kind in enumerate(("behaviour", "early_warning"))
    ]
    return (
        by_kind[0]
        .join(by_kind[1], on="loan_id", how="full", coalesce=True)
        .select("loan_id", reason_codes=pl.coalesce("_r0", "_r1"))
    )


def capacity_input(
    gated: pl.DataFrame, assigned: pl.DataFrame, carried: pl.DataFrame
) -> pl.DataFrame:
    """The allowed work (non-contacts such as legal review included) with what
    :func:`forbear.domain.capacity.allocate` reads: ``action_id``, ``lang``, ``skill``
    (legal for legal review, hardship for plan offers and hardship accounts, else
    collections), ``expected_recovery`` (propensity x overdue fen; the overdue amount when
    unscored) and ``carried_days`` (consecutive days the work has been carried, from
    :func:`carried_streaks`; 0 for today's new work)."""
    value = assigned.select(
        "loan_id",
        _col_or(assigned, "overdue_total", pl.Int64()).fill_null(0).alias("_overdue"),
        _col_or(assigned, "propensity", pl.Float64()).alias("_propensity"),
        _col_or(assigned, "hardship", pl.Boolean()).fill_null(False).alias("_hardship"),
    )
    again = carried.select(
        "loan_id",
        "action_index",
        _carried=(
            pl.col("carried_days").cast(pl.Int64)
            if "carried_days" in carried.columns
            else pl.lit(1, dtype=pl.Int64)
        ),
    )
    return (
        gated.filter(pl.col("allowed").fill_null(True))
        .join(value, on="loan_id", how="left")
        .join(again, on=["loan_id", "action_index"], how="left")
        .with_columns(
            action_id=pl.col("loan_id") * 1_000 + pl.col("action_index"),
            lang=pl.lit("zh"),
            skill=pl.when(pl.col("channel") == "legal_review")
            .then(pl.lit("legal"))
            .when((pl.col("purpose") == "offer_plan") | pl.col("_hardship").fill_null(False))
            .then(pl.lit("hardship"))
            .otherwise(pl.lit("collections")),
            expected_recovery=(
                pl.col("_overdue").fill_null(0).cast(pl.Float64)
                * pl.col("_propensity").fill_null(1.0)
            )
            .round(0)
            .cast(pl.Int64),
            carried_days=pl.col("_carried").fill_null(0).cast(pl.Int64),
        )
        .drop("_overdue", "_propensity", "_hardship", "_carried")
    )


def _col_or(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)


def _decisions(
    gated: pl.DataFrame,
    allocated: Any,
    assigned: pl.DataFrame,
    as_of: date,
    version_id: int | None,
    plan_cols: list[str],
) -> pl.DataFrame:
    alloc = allocated.collect() if isinstance(allocated, pl.LazyFrame) else allocated
    scores = assigned.select(
        "loan_id",
        *(
            pl.col(c) if c in assigned.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in (
                ("behaviour_tier", pl.String()),
                ("ew_pd", pl.Float64()),
                ("propensity", pl.Float64()),
            )
        ),
        (
            pl.col("reason_codes").cast(pl.String)
            if "reason_codes" in assigned.columns
            else pl.lit("[]")
        ).alias("reason_codes"),
    )
    return (
        gated.join(
            alloc.select("loan_id", pl.col("action_index").cast(pl.Int64), *plan_cols),
            on=["loan_id", "action_index"],
            how="left",
        )
        .join(scores, on="loan_id", how="left")
        .with_columns(
            as_of=pl.lit(as_of),
            strategy_version_id=pl.lit(version_id, dtype=pl.Int64),
            scheduled=pl.col("scheduled").fill_null(False),
            carried=pl.col("carried").fill_null(False),
            agent_id=pl.col("agent_id").cast(pl.String),
            team_id=pl.col("team_id").cast(pl.String),
            reason_codes=pl.col("reason_codes").fill_null("[]"),
            blocked_by=pl.col("blocked_by")
            .list.eval(pl.format('"{}"', pl.element()))
            .list.join(",")
            .map_batches(lambda s: "[" + s + "]", return_dtype=pl.String),
        )
        .sort("loan_id", "action_index")
    )


def _write(
    conn: Connection, as_of: date, engine: str, prepared: _Prepared, computed: _Computed
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
    ).sort("agent_id", "rank", "loan_id", "action_index")
    bulk.write_frame(conn, WorkQueueItem.__tablename__, queue)
    sends = rows.filter(
        pl.col("scheduled")
        & pl.col("allowed").fill_null(False)
        & pl.col("channel").is_in([c.value for c in OUTBOX_CHANNELS])
        & pl.col("agent_id").is_null()
    )
    created = datetime.now(UTC)
    outbox = sends.select(
        "as_of",
        "loan_id",
        "borrower_id",
        "action_index",
        "channel",
        "template",
        "contact_point_id",
        dedupe_key=dedupe_key(sends),
        status=pl.lit(OutboxStatus.QUEUED.value),
        created_at=pl.lit(created, dtype=_UTC),
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
            finished_at=datetime.now(UTC),
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
