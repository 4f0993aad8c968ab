"""What an active plan does to the ledger: the loan's effective schedule (frames in, frames out).

The plan that governs a loan on a date ``d`` is its latest plan (by start date) that
started on or before ``d`` and had not been broken or cancelled by ``d``: accepted or
active with ``start_date <= d``, completed, or broken/cancelled with ``ended_on > d``.
For such a loan the ledger runs on a *re-based* loan:

- its schedule is the plan's lines (the plan's own instalments and the contract ones it
  keeps; penalty carried from before the plan is scheduled in the ``fee`` component,
  which the waterfall pays right after penalty);
- only payments after the plan's ``base_date`` count against it: the plan was computed
  from the position after every payment up to that day;
- the loan starts on ``base_date``, with the plan's principal and number of lines (the
  level a prepayment keeps under ``shorten_term``).

So days past due, bucket and overdue amounts are the plan's: a deferred or restructured
loan whose new dates are met is current. When the plan breaks, it no longer governs from
that day: the contract schedule and every payment apply again (docs/plans.md).
:func:`restore_totals` puts the payments made before the plan back into ``paid_total``
and ``last_payment_date``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from forbear.domain.ledger.schema import INSTALMENTS, LOANS, PAYMENTS, STATES
from forbear.domain.plans.model import PlanStatus

# One row per plan that ever started: what governing_plans needs.
PLAN_PERIODS: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "status": pl.String(),
    "base_date": pl.Date(),
    "start_date": pl.Date(),
    "ended_on": pl.Date(),
}

# One row per line of a plan's effective schedule.
PLAN_LINES: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "seq": pl.Int32(),
    "kind": pl.String(),
    "due_date": pl.Date(),
    "principal": pl.Int64(),
    "interest": pl.Int64(),
    "fee": pl.Int64(),
    "penalty": pl.Int64(),
}

GOVERNING: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "plan_id": pl.Int64(),
    "base_date": pl.Date(),
}


def governing_plans(periods: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The plan governing each loan on ``as_of`` (``GOVERNING``), if any."""
    s = pl.col("status")
    started = pl.col("start_date").is_not_null() & (pl.col("start_date") <= as_of)
    in_force = s.is_in(
        [PlanStatus.ACCEPTED.value, PlanStatus.ACTIVE.value, PlanStatus.COMPLETED.value]
    ) | (
        s.is_in([PlanStatus.BROKEN.value, PlanStatus.CANCELLED.value])
        & (pl.col("ended_on") > as_of)
    )
    return (
        periods.filter(started & in_force)
        .sort("loan_id", "start_date", "plan_id")
        .group_by("loan_id", maintain_order=True)
        .last()
        .select(list(GOVERNING))
        .cast(pl.Schema(GOVERNING))
    )


def apply_plans(
    loans: pl.DataFrame,
    instalments: pl.DataFrame,
    payments: pl.DataFrame,
    governing: pl.DataFrame,
    lines: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(loans, instalments, payments)`` with every governed loan re-based on its plan."""
    if governing.is_empty():
        return loans, instalments, payments
    plan_lines = lines.join(governing, on="plan_id", how="inner")
    new_instalments = plan_lines.select(
        "loan_id",
        "seq",
        "due_date",
        "principal",
        "interest",
        (pl.col("fee") + pl.col("penalty")).alias("fee"),
    ).cast(pl.Schema(INSTALMENTS))
    kept = instalments.join(governing.select("loan_id"), on="loan_id", how="anti")
    effective_instalments = pl.concat([kept, new_instalments]).sort("loan_id", "seq")

    effective_payments = (
        payments.join(governing.select("loan_id", "base_date"), on="loan_id", how="left")
        .filter(pl.col("base_date").is_null() | (pl.col("paid_on") > pl.col("base_date")))
        .select(list(PAYMENTS))
    )

    shape = plan_lines.group_by("loan_id").agg(
        _principal=pl.col("principal").sum(),
        _count=pl.len().cast(pl.Int32),
        _first=pl.col("due_date").min(),
        _base=pl.col("base_date").first(),
    )
    effective_loans = (
        loans.join(shape, on="loan_id", how="left")
        .with_columns(
            principal=pl.coalesce("_principal", "principal"),
            term_months=pl.coalesce("_count", "term_months"),
            start_date=pl.coalesce("_base", "start_date"),
            first_due_date=pl.coalesce("_first", "first_due_date"),
        )
        .select(list(LOANS))
        .cast(pl.Schema(LOANS))
    )
    return effective_loans, effective_instalments, effective_payments


def restore_totals(
    states: pl.DataFrame, payments: pl.DataFrame, governing: pl.DataFrame
) -> pl.DataFrame:
    """Add the payments made up to each governed loan's base date back to its state."""
    if governing.is_empty():
        return states
    before = (
        payments.join(governing.select("loan_id", "base_date"), on="loan_id", how="inner")
        .filter(pl.col("paid_on") <= pl.col("base_date"))
        .group_by("loan_id")
        .agg(_paid=pl.col("amount").sum(), _last=pl.col("paid_on").max())
    )
    return (
        states.join(before, on="loan_id", how="left")
        .with_columns(
            paid_total=pl.col("paid_total") + pl.col("_paid").fill_null(0),
            last_payment_date=pl.coalesce("last_payment_date", "_last"),
        )
        .select(list(STATES))
        .cast(pl.Schema(STATES))
    )
