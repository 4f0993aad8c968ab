"""``active_plan``: the one definition (docs/plans.md, "the daily run's active_plan").

A loan has an active plan on ``as_of`` when a plan *governs* it and is *performing*:

- the plan is accepted or active and has started (``start_date <= as_of``): an offered
  plan the borrower has not accepted governs nothing (the script panel used to count
  offered plans too; docs/plans.md and the strategy mean a plan in force);
- the loan is active on the plan's own ledger state (not paid off or written off);
- the plan is not in breach of its missed-payment rule (:func:`is_broken`) that day.

Scalar (:func:`is_active_plan`) and vectorised (:func:`active_plans`), tested row by row.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from forbear.domain.plans.lifecycle import is_broken
from forbear.domain.plans.model import PlanStatus

IN_FORCE = (PlanStatus.ACCEPTED.value, PlanStatus.ACTIVE.value)

# One row per plan the flag may concern, with its own missed-payment rule.
PLAN_RULES: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "status": pl.String(),
    "start_date": pl.Date(),
    "days_late": pl.Int32(),
    "tolerance": pl.Int64(),
}

ACTIVE_PLAN: dict[str, pl.DataType] = {"loan_id": pl.Int64(), "active_plan": pl.Boolean()}


def is_active_plan(
    as_of: date,
    *,
    plan_status: str,
    start_date: date | None,
    loan_status: str | None,
    oldest_unpaid_due_date: date | None,
    overdue_total: int,
    days_late: int,
    tolerance: int,
) -> bool:
    """One plan and the loan's ledger state on ``as_of`` (on the plan's schedule)."""
    if plan_status not in IN_FORCE or start_date is None or start_date > as_of:
        return False
    if loan_status != "active":
        return False
    return not is_broken(
        as_of, oldest_unpaid_due_date, overdue_total, days_late=days_late, tolerance=tolerance
    )


def active_plans(plans: pl.LazyFrame, states: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """``ACTIVE_PLAN`` for every loan of ``states`` (``STATES``: the ledger on the schedule
    in force), from ``plans`` (``PLAN_RULES``)."""
    day = pl.lit(as_of)
    oldest = pl.col("oldest_unpaid_due_date")
    broken = (
        oldest.is_not_null()
        & ((day - oldest).dt.total_days() > pl.col("days_late"))
        & (pl.col("overdue_total") > pl.col("tolerance"))
    )
    in_force = plans.filter(
        pl.col("status").is_in(IN_FORCE)
        & pl.col("start_date").is_not_null()
        & (pl.col("start_date") <= day)
    ).select("loan_id", "days_late", "tolerance")
    performing = (
        states.select("loan_id", "status", "oldest_unpaid_due_date", "overdue_total")
        .join(in_force, on="loan_id", how="inner")
        .filter((pl.col("status") == "active") & ~broken)
        .select("loan_id")
        .unique()
        .with_columns(_hit=pl.lit(True))
    )
    return (
        states.select("loan_id")
        .join(performing, on="loan_id", how="left")
        .select("loan_id", active_plan=pl.col("_hit").fill_null(False))
        .cast(pl.Schema(ACTIVE_PLAN))
        .sort("loan_id")
    )
