"""The borrower situation: one pure function that says, per loan, what is owed now and
when, what governs the loan, which holds are open, whether it is time-barred, and the
flags the strategy reads. Every reader (the agent's account page and the API, the
portal, the script panel, the legal queue) reads this, computed from the facts at the
moment of reading, so a plan accepted, a payment posted or a hold placed is visible at
once rather than after the next daily run.

Frames in, frames out; no I/O and no clock: ``as_of`` (the business date) and ``at``
(the moment, UTC) are arguments. The rules each have one home, called from here:

- the ledger with plans applied: :func:`forbear.domain.plans.ledger.governing_plans`,
  :func:`~forbear.domain.plans.ledger.apply_plans`,
  :func:`forbear.domain.ledger.account_states`,
  :func:`~forbear.domain.plans.ledger.restore_totals`;
- holds: :mod:`forbear.domain.holds`; limitation: :mod:`forbear.domain.legal.limitation`;
- ``active_plan``: :mod:`forbear.domain.plans.flags`; ``active_promise`` and
  ``broken_promises_90d``: :func:`forbear.domain.promises.promise_flags`.

``governed_by`` is ``plan`` while a plan governs the loan (its schedule is the ledger's),
else ``promise`` while a promise to pay is active, else ``contract``. ``needs_work`` is
what the agent's page shows: an active loan with money overdue, no hold that stops work,
no performing plan, no active promise and not time-barred.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from forbear.domain.holds import hold_open_expr, marks_hardship_expr, stops_work_expr
from forbear.domain.ledger import SMALL_BOOK, account_states
from forbear.domain.ledger.schema import STATES
from forbear.domain.ledger.state import DEFAULT_BUCKETS, BucketScheme
from forbear.domain.legal.limitation import limitation_date_expr, time_barred_expr
from forbear.domain.plans.flags import PLAN_RULES, active_plans
from forbear.domain.plans.ledger import (
    PLAN_LINES,
    PLAN_PERIODS,
    apply_plans,
    governing_plans,
    restore_totals,
)
from forbear.domain.promises import DEFAULT_POLICY, RECORDS, PromisePolicy, promise_flags

# One row per loan and its borrower.
OWNERS: dict[str, pl.DataType] = {"loan_id": pl.Int64(), "borrower_id": pl.Int64()}

# Holds as the situation shows them: ``HOLDS`` with the hold's id and Forbear's own
# reason code (never what a person typed: that stays encrypted).
SITUATION_HOLDS: dict[str, pl.DataType] = {
    "hold_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "kind": pl.String(),
    "channel": pl.String(),
    "contact_point_id": pl.Int64(),
    "since": pl.Datetime("us", "UTC"),
    "until": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
}

# Limitation inputs per loan (a subset of the gate's ``FLAGS``).
LIMITATION_FACTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "last_due_date": pl.Date(),
    "last_demand_at": pl.Datetime("us", "UTC"),
}

# One row per loan: the ledger state (STATES, on the schedule in force) and these.
LOAN_SITUATION: dict[str, pl.DataType] = {
    **STATES,
    "borrower_id": pl.Int64(),
    "governed_by": pl.String(),  # contract | plan | promise
    "plan_id": pl.Int64(),  # the plan governing the loan, if any
    "promise_on": pl.Date(),  # the active promise's date, if any
    "promise_amount": pl.Int64(),
    "hold_any": pl.Boolean(),  # an open hold stops work on the loan
    "hardship": pl.Boolean(),  # an open vulnerable hold
    "disputed": pl.Boolean(),  # an open dispute hold
    "limitation_date": pl.Date(),
    "limitation_expired": pl.Boolean(),
    "active_plan": pl.Boolean(),
    "active_promise": pl.Boolean(),
    "broken_promises_90d": pl.Int32(),
    "needs_work": pl.Boolean(),
}

# One row per (loan, open hold covering it).
OPEN_HOLDS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "hold_id": pl.Int64(),
    "kind": pl.String(),
    "channel": pl.String(),
    "reason": pl.String(),
    "since": pl.Datetime("us", "UTC"),
    "all_loans": pl.Boolean(),
}


@dataclass(frozen=True)
class Facts:
    """What the situation is computed from (frames follow the named schemas)."""

    loans: pl.DataFrame  # ledger LOANS
    owners: pl.DataFrame  # OWNERS
    products: pl.DataFrame  # ledger PRODUCTS
    instalments: pl.DataFrame  # ledger INSTALMENTS (the contract's)
    payments: pl.DataFrame  # ledger PAYMENTS (all of them)
    plan_periods: pl.DataFrame  # PLAN_PERIODS
    plan_lines: pl.DataFrame  # PLAN_LINES of the plans that may govern
    plan_rules: pl.DataFrame  # PLAN_RULES
    promises: pl.DataFrame  # promises RECORDS
    holds: pl.DataFrame  # SITUATION_HOLDS
    limitation: pl.DataFrame  # LIMITATION_FACTS


@dataclass(frozen=True)
class Situation:
    as_of: date
    at: datetime
    loans: pl.DataFrame  # LOAN_SITUATION, ordered by loan_id (started loans only)
    holds: pl.DataFrame  # OPEN_HOLDS, by loan and hold

    def loan(self, loan_id: int) -> dict[str, Any] | None:
        found = self.loans.filter(pl.col("loan_id") == loan_id)
        return None if found.is_empty() else found.row(0, named=True)

    def holds_of(self, loan_id: int) -> list[dict[str, Any]]:
        return self.holds.filter(pl.col("loan_id") == loan_id).to_dicts()


def empty_facts() -> Facts:
    from forbear.domain.ledger.schema import INSTALMENTS, LOANS, PAYMENTS, PRODUCTS

    def e(schema: dict[str, pl.DataType]) -> pl.DataFrame:
        return pl.DataFrame(schema=schema)

    return Facts(
        e(LOANS),
        e(OWNERS),
        e(PRODUCTS),
        e(INSTALMENTS),
        e(PAYMENTS),
        e(PLAN_PERIODS),
        e(PLAN_LINES),
        e(PLAN_RULES),
        e(RECORDS),
        e(SITUATION_HOLDS),
        e(LIMITATION_FACTS),
    )


def states_in_force(
    facts: Facts, as_of: date, buckets: BucketScheme, *, small: int = SMALL_BOOK
) -> pl.DataFrame:
    """The ledger state of every started loan on the schedule in force (``STATES``) with
    ``plan_id`` of the governing plan (``small``: :func:`account_states`' scalar path up
    to that many loans)."""
    governing = governing_plans(facts.plan_periods, as_of)
    loans, instalments, payments = apply_plans(
        facts.loans, facts.instalments, facts.payments, governing, facts.plan_lines
    )
    result = account_states(
        loans.lazy(),
        facts.products.lazy(),
        instalments.lazy(),
        payments.lazy(),
        as_of,
        buckets,
        small=small,
    )
    states = restore_totals(result.states.collect(), facts.payments, governing)
    return states.join(governing.select("loan_id", "plan_id"), on="loan_id", how="left")


def open_holds(holds: pl.DataFrame, owners: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """``OPEN_HOLDS``: each hold open at ``at`` against every loan it covers (a hold with
    a null ``loan_id`` covers every loan of the borrower)."""
    live = holds.filter(hold_open_expr(at))
    on_loan = live.filter(pl.col("loan_id").is_not_null()).join(
        owners.select("loan_id"), on="loan_id", how="inner"
    )
    on_all = (
        live.filter(pl.col("loan_id").is_null())
        .drop("loan_id")
        .join(owners, on="borrower_id", how="inner")
    )
    cols = [pl.col(c) for c in SITUATION_HOLDS if c not in ("borrower_id",)]
    out = pl.concat(
        [
            on_loan.select(*cols, all_loans=pl.lit(False)),
            on_all.select(*cols, all_loans=pl.lit(True)),
        ],
        how="vertical_relaxed",
    )
    return out.select(
        "loan_id",
        "hold_id",
        "kind",
        "channel",
        "reason",
        "since",
        "all_loans",
        "contact_point_id",
    ).sort("loan_id", "hold_id")


def situation(
    facts: Facts,
    as_of: date,
    at: datetime,
    *,
    limitation_years: int,
    buckets: BucketScheme = DEFAULT_BUCKETS,
    promise_policy: PromisePolicy = DEFAULT_POLICY,
    ledger_small: int = SMALL_BOOK,
) -> Situation:
    """The situation of every loan of ``facts`` on ``as_of`` at ``at`` (module docstring).
    ``ledger_small``: the ledger's scalar path up to that many loans (the caller knows
    when its facts are few payments over many loans; same integers either way)."""
    states = states_in_force(facts, as_of, buckets, small=ledger_small)
    frame = situation_of_states(
        states,
        facts.owners,
        facts.holds,
        facts.plan_rules,
        facts.promises,
        facts.limitation,
        as_of,
        at,
        limitation_years=limitation_years,
        promise_policy=promise_policy,
    )
    shown = open_holds(facts.holds, facts.owners, at).select(
        pl.col(c).cast(t) for c, t in OPEN_HOLDS.items()
    )
    return Situation(as_of=as_of, at=at, loans=frame, holds=shown)


def situation_of_states(
    states: pl.DataFrame,
    owners: pl.DataFrame,
    holds: pl.DataFrame,
    plan_rules: pl.DataFrame,
    promises: pl.DataFrame,
    limitation: pl.DataFrame,
    as_of: date,
    at: datetime,
    *,
    limitation_years: int,
    promise_policy: PromisePolicy = DEFAULT_POLICY,
) -> pl.DataFrame:
    """``LOAN_SITUATION`` from ledger states already computed on the schedule in force
    (``STATES``, with ``plan_id`` of the governing plan if known): what the daily run
    can call with the states it computed once, instead of running the ledger again."""
    from forbear.domain.compliance.schema import HoldKind

    if "plan_id" not in states.columns:
        states = states.with_columns(plan_id=pl.lit(None, dtype=pl.Int64))
    covering = open_holds(holds, owners, at)

    def flag(rows: pl.DataFrame, name: str) -> pl.DataFrame:
        return rows.select("loan_id").unique().with_columns(pl.lit(True).alias(name))

    stopping = flag(covering.filter(stops_work_expr()), "hold_any")
    hardship = flag(covering.filter(marks_hardship_expr()), "hardship")
    disputed = flag(covering.filter(pl.col("kind") == HoldKind.DISPUTE.value), "disputed")
    limits = limitation.select("loan_id", limitation_date_expr(limitation_years))
    plans = active_plans(plan_rules.lazy(), states.lazy(), as_of).collect()
    flags = promise_flags(promises.lazy(), as_of, promise_policy).collect()
    active_promise = _active_promise(promises, as_of, promise_policy)
    return (
        states.join(owners, on="loan_id", how="left")
        .join(stopping, on="loan_id", how="left")
        .join(hardship, on="loan_id", how="left")
        .join(disputed, on="loan_id", how="left")
        .join(limits, on="loan_id", how="left")
        .join(plans, on="loan_id", how="left")
        .join(flags, on="loan_id", how="left")
        .join(active_promise, on="loan_id", how="left")
        .with_columns(
            pl.col("hold_any").fill_null(False),
            pl.col("hardship").fill_null(False),
            pl.col("disputed").fill_null(False),
            pl.col("active_plan").fill_null(False),
            pl.col("active_promise").fill_null(False),
            pl.col("broken_promises_90d").fill_null(0),
            time_barred_expr(pl.col("limitation_date"), as_of).alias("limitation_expired"),
        )
        .with_columns(
            governed_by=pl.when(pl.col("plan_id").is_not_null())
            .then(pl.lit("plan"))
            .when(pl.col("active_promise"))
            .then(pl.lit("promise"))
            .otherwise(pl.lit("contract")),
            needs_work=(pl.col("status") == "active")
            & (pl.col("overdue_total") > 0)
            & ~pl.col("hold_any")
            & ~pl.col("active_plan")
            & ~pl.col("active_promise")
            & ~pl.col("limitation_expired"),
        )
        .select(pl.col(c).cast(t) for c, t in LOAN_SITUATION.items())
        .sort("loan_id")
    )


def _active_promise(records: pl.DataFrame, as_of: date, policy: PromisePolicy) -> pl.DataFrame:
    """The newest promise that makes ``active_promise`` true, per loan: its date and
    amount (the same test as :func:`promise_flags`)."""
    from datetime import timedelta

    day = pl.lit(as_of)
    unresolved = pl.col("resolved_on").is_null() | (pl.col("resolved_on") > day)
    deadline = pl.col("promised_on") + pl.lit(timedelta(days=policy.grace_days))
    return (
        records.filter((pl.col("taken_on") <= day) & unresolved & (deadline >= day))
        .sort("loan_id", "promise_id")
        .group_by("loan_id", maintain_order=True)
        .last()
        .select("loan_id", promise_on=pl.col("promised_on"), promise_amount=pl.col("amount"))
    )
