"""Limitation (诉讼时效) of a debt: CN.LIMITATION; 民法典 arts. 188, 189, 195.

The period (3 years in the CN pack) runs for an instalment loan from the last
instalment's due date, and restarts with every demand, acknowledgement or suit; so every
demand is stored with its proof (``forbear.store.contacts.Demand``) and the limitation
date is recomputed from the latest one:

    limitation date = max(last instalment due date, date of the last demand) + years

This module is the one home of the rule: the borrower situation
(:mod:`forbear.domain.situation`), the legal queue and watch, the documents, the gate's
limitation rule and the ACCOUNT frame's ``limitation_expired`` all call it. A debt is
time-barred (:func:`time_barred`) on a day after its limitation date. Tests check the
scalar and the vectorised forms agree row by row.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl


def limitation_date(
    last_due_date: date | None, last_demand_at: datetime | None, years: int
) -> date | None:
    """The scalar form of :func:`limitation_date_expr` (for one case, and for tests)."""
    starts = [d for d in (last_due_date, last_demand_at.date() if last_demand_at else None) if d]
    if not starts:
        return None
    start = max(starts)
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a year without one: the last day of February
        return start.replace(year=start.year + years, day=28)


def limitation_date_of(last_due_date: pl.Expr, last_demand_at: pl.Expr, years: int) -> pl.Expr:
    """:func:`limitation_date` on any two columns (the gate names them its own way)."""
    start = pl.max_horizontal(last_due_date, last_demand_at.dt.date())
    return start.dt.offset_by(f"{years}y")


def limitation_date_expr(years: int) -> pl.Expr:
    """``limitation_date`` from a FLAGS frame's ``last_due_date`` and ``last_demand_at``."""
    return limitation_date_of(pl.col("last_due_date"), pl.col("last_demand_at"), years).alias(
        "limitation_date"
    )


def time_barred(limitation: date | None, on: date) -> bool:
    """Is the debt time-barred on ``on``? Yes from the day after its limitation date (the
    last day a claim may still be brought is the limitation date itself); a debt with no
    limitation date (no due date and no demand) is not."""
    return limitation is not None and on > limitation


def time_barred_expr(limitation: pl.Expr, on: date | pl.Expr) -> pl.Expr:
    """:func:`time_barred` on a ``limitation_date`` column (null = not barred)."""
    day = on if isinstance(on, pl.Expr) else pl.lit(on)
    return (day > limitation).fill_null(False)


def expiring(
    frame: pl.LazyFrame, as_of: date, within_days: int, *, include_expired: bool = True
) -> pl.LazyFrame:
    """Rows whose ``limitation_date`` is at most ``within_days`` after ``as_of``, with
    ``days_left`` (negative: already expired, kept by default: an open case on an expired
    debt needs a decision at once) and ``expired``, soonest first."""
    days_left = (pl.col("limitation_date") - pl.lit(as_of)).dt.total_days().cast(pl.Int32)
    low = None if include_expired else 0
    return (
        frame.with_columns(days_left.alias("days_left"))
        .filter(pl.col("days_left").is_between(low if low is not None else -(10**6), within_days))
        .with_columns((pl.col("days_left") < 0).alias("expired"))
        .sort("days_left", "loan_id")
    )
