"""The ACCOUNT frame (``forbear.domain.strategy.schema.ACCOUNT``) built from the book.

Shared by the strategy pre-launch check and the daily run: ledger states (computed and
stored first if the date has none), scores of that date, open holds, limitation status.

- ``hold_any``: an open hold on the borrower or the loan that stops collection work:
  every kind except ``vulnerable`` (which means *careful* treatment: it sets ``hardship``),
  channel-specific opt-outs and one third party's refusal (the gate handles those per
  contact).
- ``limitation_expired``: the limitation period (the pack's ``limitation`` rule, 3 years
  in CN) counted from the later of the last instalment's due date and the last demand.
- ``active_plan``: a repayment plan governs the loan and is performing
  (:func:`forbear.services.plans.plan_flags`);
- ``active_promise``, ``broken_promises_90d``: an open promise to pay whose date (plus
  grace) has not passed, and the promises broken in the last 90 days
  (:func:`forbear.services.promises.promise_flags`). Both read what is stored: the daily
  run resolves plans and promises for the date first.
- ``days_in_segment``: null here (the daily run knows it from earlier decisions; the
  compiled strategy estimates it otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import polars as pl
from sqlalchemy import Connection

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.holds import hold_open_expr, marks_hardship_expr, stops_work_expr
from forbear.domain.legal.limitation import limitation_date_of, time_barred_expr
from forbear.domain.strategy.schema import ACCOUNT
from forbear.services.book import states_for
from forbear.services.situation import DEFAULT_LIMITATION_YEARS, limitation_years
from forbear.store import bulk
from forbear.store.contacts import read_flags, read_holds

# the limitation period's one home is forbear.services.situation; kept importable here
__all__ = [
    "DEFAULT_LIMITATION_YEARS",
    "DayFacts",
    "assemble_accounts",
    "build_accounts",
    "day_end",
    "day_facts",
    "limitation_years",
]


@dataclass(frozen=True)
class DayFacts:
    """What the ACCOUNT frame and the legal queue read for a day, read once and shared:
    the day's ``states`` (``STATES``), each loan's borrower (``loan_id, borrower_id``),
    every hold (``HOLDS``), the FLAGS as known at the end of the day (``flags``), and the
    plan and promise flags (:func:`forbear.services.plans.plan_flags`,
    :func:`forbear.services.promises.promise_flags`)."""

    states: pl.DataFrame
    borrowers: pl.DataFrame
    holds: pl.DataFrame
    flags: pl.DataFrame
    plans: pl.DataFrame
    promises: pl.DataFrame


def day_end(as_of: date) -> datetime:
    """The moment the ACCOUNT frame judges holds and flags at: the day's last second."""
    return datetime.combine(as_of, time(23, 59, 59), UTC)


def day_facts(
    conn: Connection,
    as_of: date,
    *,
    states: pl.DataFrame | None = None,
    borrowers: pl.DataFrame | None = None,
    last_due: pl.DataFrame | None = None,
) -> DayFacts:
    """:class:`DayFacts` of ``as_of``; the daily run hands over the ``states``,
    ``borrowers`` and each loan's last contract due date (``last_due``) it holds
    (otherwise the stored states are read, computed first if the date has none, and the
    due dates come from the schedules)."""
    from forbear.services.plans import plan_flags
    from forbear.services.promises import promise_flags

    return DayFacts(
        states=states if states is not None else states_for(conn, as_of).states,
        borrowers=borrowers if borrowers is not None else bulk.read_loan_borrowers(conn),
        holds=read_holds(conn),
        flags=read_flags(conn, at=day_end(as_of), last_due=last_due),
        plans=plan_flags(conn, as_of, states=states),
        promises=promise_flags(conn, as_of),
    )


def build_accounts(
    conn: Connection,
    as_of: date,
    rules: CompiledRules | None = None,
    *,
    facts: DayFacts | None = None,
    scores: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One ACCOUNT row per loan as of ``as_of``, ordered by ``loan_id``. The daily run
    hands over the day's ``facts`` and ``scores`` (``bulk.SCORES``) it holds; whatever is
    not given is read."""
    if facts is None:
        facts = day_facts(conn, as_of)
    if scores is None:
        scores = bulk.read_scores(conn, as_of)
    return assemble_accounts(
        facts.states.lazy(),
        facts.borrowers.lazy(),
        scores.lazy(),
        facts.holds.lazy(),
        facts.flags.lazy(),
        as_of,
        limitation_years(rules),
        plans=facts.plans.lazy(),
        promises=facts.promises.lazy(),
    ).collect()


def assemble_accounts(
    states: pl.LazyFrame,
    borrowers: pl.LazyFrame,
    scores: pl.LazyFrame,
    holds: pl.LazyFrame,
    flags: pl.LazyFrame,
    as_of: date,
    years: int = DEFAULT_LIMITATION_YEARS,
    *,
    plans: pl.LazyFrame | None = None,
    promises: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The pure part of :func:`build_accounts` (frames in, ACCOUNT out). ``plans``
    (``loan_id, active_plan``) and ``promises`` (``loan_id, active_promise,
    broken_promises_90d``) cover the loans that have any; absent loans get false / 0."""
    if plans is None:
        plans = pl.LazyFrame(schema={"loan_id": pl.Int64(), "active_plan": pl.Boolean()})
    if promises is None:
        promises = pl.LazyFrame(
            schema={
                "loan_id": pl.Int64(),
                "active_promise": pl.Boolean(),
                "broken_promises_90d": pl.Int32(),
            }
        )
    at = day_end(as_of)

    def score(kind: str, **cols: str) -> pl.LazyFrame:
        return scores.filter(pl.col("kind") == kind).select(
            "loan_id", *(pl.col(src).alias(dst) for dst, src in cols.items())
        )

    # the one definitions of "open at t" and "stops work" (forbear.domain.holds)
    open_holds = holds.filter(hold_open_expr(at))
    stopping = open_holds.filter(stops_work_expr())
    vulnerable = open_holds.filter(marks_hardship_expr())
    base = states.join(borrowers, on="loan_id", how="left")

    def flag_for(h: pl.LazyFrame, name: str) -> pl.LazyFrame:
        # a hold with a null loan_id covers every loan of the borrower
        by_loan = h.filter(pl.col("loan_id").is_not_null()).select("loan_id").unique()
        by_borrower = h.filter(pl.col("loan_id").is_null()).select("borrower_id").unique()
        keys = base.select("loan_id", "borrower_id")
        hit = pl.concat(
            [
                keys.join(by_loan, on="loan_id", how="semi"),
                keys.join(by_borrower, on="borrower_id", how="semi"),
            ]
        )
        return hit.select("loan_id").unique().with_columns(pl.lit(True).alias(name))

    # the one definition of limitation (forbear.domain.legal.limitation, CN.LIMITATION)
    limitation = limitation_date_of(pl.col("last_due_date"), pl.col("last_demand_at"), years)
    limits = flags.select(
        "loan_id", time_barred_expr(limitation, as_of).alias("limitation_expired")
    )
    return (
        base.join(score("behaviour", behaviour_tier="tier"), on="loan_id", how="left")
        .join(score("early_warning", ew_tier="tier", ew_pd="pd"), on="loan_id", how="left")
        .join(score("propensity", propensity="pd"), on="loan_id", how="left")
        .join(flag_for(stopping, "hold_any"), on="loan_id", how="left")
        .join(flag_for(vulnerable, "hardship"), on="loan_id", how="left")
        .join(limits, on="loan_id", how="left")
        .join(plans.select("loan_id", "active_plan"), on="loan_id", how="left")
        .join(
            promises.select("loan_id", "active_promise", "broken_promises_90d"),
            on="loan_id",
            how="left",
        )
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            (pl.col("next_due_date") - pl.lit(as_of)).dt.total_days().alias("days_to_due"),
            pl.col("outstanding_principal").alias("outstanding"),
            pl.col("hold_any").fill_null(False),
            pl.col("hardship").fill_null(False),
            pl.col("limitation_expired").fill_null(False),
            pl.col("active_plan").fill_null(False),
            pl.col("active_promise").fill_null(False),
            pl.col("broken_promises_90d").fill_null(0),
            pl.lit(None, dtype=pl.Int32).alias("days_in_segment"),
        )
        .select(pl.col(c).cast(t) for c, t in ACCOUNT.items())
        .sort("loan_id")
    )
