"""The day's inputs besides the book: the active strategy, yesterday's work queue and
carried actions (with how many days each has been carried), and the kernel's frames."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, or_, select, union

from forbear.batch import kernel
from forbear.batch.contacts import SCRIPTS, borrower_zones, contact_points, emergency_points
from forbear.batch.kernel import DayFrames
from forbear.store import bulk
from forbear.store import contacts as contact_store
from forbear.store.runs import Decision, WorkQueueItem

# How far back the run looks to count the days an action has been carried.
CARRY_LOOKBACK_DAYS = 30

ACTIONS = kernel.ACTIONS


def active(conn: Connection) -> tuple[int | None, Any]:
    """The active strategy's version id (None for the shipped default) and strategy."""
    from forbear.services.strategies import active_strategy

    strategy, info = active_strategy(conn)
    return (None if info is None else int(info.id)), strategy


def previous_day(conn: Connection, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Yesterday's work queue and yesterday's carried (allowed, unscheduled) actions."""
    yesterday = as_of - timedelta(days=1)
    wq = WorkQueueItem
    queue = bulk.read_frame(
        conn,
        select(wq.loan_id, wq.borrower_id, wq.agent_id, wq.team_id, wq.channel, wq.rank).where(
            wq.as_of == yesterday
        ),
        {
            "loan_id": pl.Int64(),
            "borrower_id": pl.Int64(),
            "agent_id": pl.String(),
            "team_id": pl.String(),
            "channel": pl.String(),
            "rank": pl.Int64(),
        },
    )
    d = Decision
    carried = bulk.read_frame(
        conn,
        select(*(getattr(d, name) for name in ACTIONS)).where(
            d.as_of == yesterday, d.carried.is_(True)
        ),
        ACTIONS,
    )
    streaks = carried_streaks(
        bulk.read_frame(
            conn,
            select(d.as_of, d.loan_id, d.action_index).where(
                d.as_of >= yesterday - timedelta(days=CARRY_LOOKBACK_DAYS - 1),
                d.as_of <= yesterday,
                d.carried.is_(True),
            ),
            {"as_of": pl.Date(), "loan_id": pl.Int64(), "action_index": pl.Int64()},
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
    from forbear.services.accounts import build_accounts, day_end, day_facts

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
        flags=flags_at(conn, last, facts.flags, day_end(as_of)),
        holds=facts.holds,
        emergency=emergency_points(conn),
        scripts=location_scripts(conn),
    ).conformed()


def location_scripts(conn: Connection) -> pl.DataFrame:
    """SCRIPTS: the approved ``third_party`` templates and whether each is the
    no-disclosure script, judged by the same function as a contact made online
    (:func:`forbear.services.contacts.gate.no_disclosure_script`: for third parties and
    through the third-party content check). Any other code a location message names
    counts as disclosing the debt."""
    from forbear.domain.compliance.schema import Channel
    from forbear.services.contacts.gate import no_disclosure_script
    from forbear.services.templates import list_templates
    from forbear.store.templates import TemplateStatus

    rows = [
        {
            "template": t.code,
            "no_disclosure": no_disclosure_script(conn, Channel(t.channel), t.code),
        }
        for t in list_templates(conn)
        if t.status == TemplateStatus.APPROVED.value and t.audience == "third_party"
    ]
    return pl.DataFrame(rows, schema=SCRIPTS)


REREAD_ALL_ABOVE = 0.25  # share of the book's loans above which flags_at reads all again


def flags_at(
    conn: Connection, at: datetime, known: pl.DataFrame, known_at: datetime
) -> pl.DataFrame:
    """FLAGS as of ``at`` (the gate's moment), given ``known``: FLAGS as of ``known_at``
    (the ACCOUNT frame's). A loan's row is the same at both moments unless a fact FLAGS
    judges by its moment (an agency placement starting or ending, a notice, a demand, an
    assignment, the debtor found unreachable) lies between the two: only those loans'
    borrowers are read again (the whole book's query is a second or more on the 100k
    book), and their rows replace ``known``'s."""
    if at == known_at:
        return known
    loans = _loans_with_flag_facts_between(conn, at, known_at)
    if not loans:
        return known
    if len(loans) > REREAD_ALL_ABOVE * known.height:  # one whole read is cheaper
        return contact_store.read_flags(
            conn, at=at, last_due=known.select("loan_id", "last_due_date")
        )
    owners = known.filter(pl.col("loan_id").is_in(sorted(loans)))["borrower_id"]
    fresh = contact_store.read_flags(conn, at=at, borrower_ids=owners.unique().to_list())
    return (
        pl.concat([known.filter(~pl.col("loan_id").is_in(fresh["loan_id"].implode())), fresh])
        .sort("loan_id")
        .select(known.columns)
    )


def _loans_with_flag_facts_between(conn: Connection, a: datetime, b: datetime) -> set[int]:
    """The loans with a moment :func:`forbear.store.contacts.read_flags` compares with its
    ``at`` in ``(min(a, b), max(a, b)]``. (Each of its tests, ``moment <= at`` or
    ``moment > at``, gives the same answer at both ends exactly when its moment is not in
    there.)"""
    lo, hi = min(a, b), max(a, b)

    def within(column: Any) -> Any:
        return and_(column > lo, column <= hi)

    placed, notice = contact_store.AgencyAssignment, contact_store.AccountNotice
    demand, flags = contact_store.Demand, contact_store.AccountFlags
    checks = union(
        select(placed.loan_id).where(or_(within(placed.from_at), within(placed.to_at))),
        select(notice.loan_id).where(within(notice.at)),
        select(demand.loan_id).where(within(demand.at)),
        select(flags.loan_id).where(
            or_(within(flags.assigned_at), within(flags.debtor_unreachable_since))
        ),
    )
    return {int(loan_id) for loan_id in conn.execute(checks).scalars()}


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
