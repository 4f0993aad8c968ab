"""Matching payments to promises: :func:`judge` (the scalar specification), and
:func:`match_promises` / :func:`changes` (the vectorised rule tested against it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from forbear.domain.money import BP_PER_UNIT
from forbear.domain.promises.frames import CHANGES, MATCHED, PROMISES
from forbear.domain.promises.policy import DEFAULT_POLICY, RANK, PromisePolicy, PromiseStatus


@dataclass(frozen=True, slots=True)
class Decision:
    status: PromiseStatus
    amount_paid: int
    resolved_on: date | None
    deadline: date


def counts(
    paid_on: date, paid_at: datetime | None, taken_on: date, taken_at: datetime, deadline: date
) -> bool:
    """Does a payment count towards a promise? From the moment the promise was taken (by
    day when the payment has no time) through the deadline."""
    if paid_on > deadline or paid_on < taken_on:
        return False
    if paid_on > taken_on or paid_at is None:
        return True
    return paid_at >= taken_at


def judge(
    *,
    amount: int,
    taken_at: datetime,
    taken_on: date,
    promised_on: date,
    payments: Iterable[tuple[int, date, datetime | None, int]],
    as_of: date,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> Decision:
    """One promise's decision as of ``as_of``; ``payments`` are the loan's
    ``(payment_id, paid_on, paid_at, amount)``. The readable specification of
    :func:`match_promises`."""
    deadline = policy.deadline(promised_on)
    last_day = min(deadline, as_of)
    counted = sorted(
        (pay_day, payment_id, paid)
        for payment_id, pay_day, pay_at, paid in payments
        if pay_day <= last_day and counts(pay_day, pay_at, taken_on, taken_at, deadline)
    )
    threshold = policy.threshold(amount)
    total = 0
    kept_on: date | None = None
    for pay_day, _payment_id, paid in counted:
        total += paid
        if kept_on is None and total >= threshold:
            kept_on = pay_day
    if kept_on is not None:
        by_then = sum(paid for pay_day, _, paid in counted if pay_day <= kept_on)
        return Decision(PromiseStatus.KEPT, by_then, kept_on, deadline)
    if as_of > deadline:
        status = (
            PromiseStatus.PARTLY_KEPT if total >= policy.floor(amount) else PromiseStatus.BROKEN
        )
        return Decision(status, total, deadline + timedelta(days=1), deadline)
    return Decision(PromiseStatus.OPEN, total, None, deadline)


# --- matching: the vectorised rule --------------------------------------------------------


def _tolerance(amount: pl.Expr, policy: PromisePolicy) -> pl.Expr:
    share = amount * policy.tolerance_bp // BP_PER_UNIT
    cap = amount * policy.tolerance_cap_bp // BP_PER_UNIT
    return pl.min_horizontal(pl.max_horizontal(share, pl.lit(policy.tolerance_min)), cap)


def match_promises(
    promises: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> pl.LazyFrame:
    """Every promise's decision as of ``as_of`` (``MATCHED``): :func:`judge` for a whole
    frame of promises at once, on the payments of their loans (``PROMISE_PAYMENTS``)."""
    amount = pl.col("amount")
    p = promises.select(list(PROMISES)).with_columns(
        deadline=pl.col("promised_on") + pl.duration(days=policy.grace_days),
        threshold=pl.max_horizontal(amount - _tolerance(amount, policy), pl.lit(1, pl.Int64)),
        floor=pl.max_horizontal(
            -((-amount * policy.partial_floor_bp) // BP_PER_UNIT), pl.lit(1, pl.Int64)
        ),
    )
    day = pl.col("paid_on")
    in_window = (
        (day <= pl.min_horizontal(pl.col("deadline"), pl.lit(as_of)))
        & (day >= pl.col("taken_on"))
        & (
            (day > pl.col("taken_on"))
            | pl.col("paid_at").is_null()
            | (pl.col("paid_at") >= pl.col("taken_at"))
        )
    )
    counted = (
        p.select("promise_id", "loan_id", "taken_at", "taken_on", "deadline", "threshold")
        .join(
            payments.select(
                "payment_id", "loan_id", "paid_on", "paid_at", pl.col("amount").alias("paid")
            ),
            on="loan_id",
            how="inner",
        )
        .filter(in_window)
        .sort("promise_id", "paid_on", "payment_id")
        .with_columns(running=pl.col("paid").cum_sum().over("promise_id"))
        .with_columns(
            kept_on=pl.when(pl.col("running") >= pl.col("threshold"))
            .then(pl.col("paid_on"))
            .min()
            .over("promise_id")
        )
        .group_by("promise_id")
        .agg(
            total=pl.col("paid").sum(),
            kept_on=pl.col("kept_on").first(),
            by_kept=pl.col("paid").filter(pl.col("paid_on") <= pl.col("kept_on")).sum(),
        )
    )
    kept = pl.col("kept_on").is_not_null()
    late = pl.lit(as_of) > pl.col("deadline")
    return (
        p.join(counted, on="promise_id", how="left")
        .with_columns(pl.col("total").fill_null(0), pl.col("by_kept").fill_null(0))
        .select(
            "promise_id",
            pl.when(kept)
            .then(pl.lit(PromiseStatus.KEPT.value))
            .when(late & (pl.col("total") >= pl.col("floor")))
            .then(pl.lit(PromiseStatus.PARTLY_KEPT.value))
            .when(late)
            .then(pl.lit(PromiseStatus.BROKEN.value))
            .otherwise(pl.lit(PromiseStatus.OPEN.value))
            .alias("status"),
            pl.when(kept).then(pl.col("by_kept")).otherwise(pl.col("total")).alias("amount_paid"),
            pl.when(kept)
            .then(pl.col("kept_on"))
            .when(late)
            .then(pl.col("deadline") + pl.duration(days=1))
            .alias("resolved_on"),
            "deadline",
        )
        .select(pl.col(name).cast(dtype) for name, dtype in MATCHED.items())
        .sort("promise_id")
    )


def changes(stored: pl.LazyFrame, matched: pl.LazyFrame) -> pl.LazyFrame:
    """The updates a fresh match asks for (``CHANGES``), given the stored ``promise_id,
    status, amount_paid``. Decisions only move forward:

    - ``resolved``: an open promise is now kept, partly kept or broken;
    - ``progressed``: an open promise has more paid towards it;
    - ``revised``: a broken or partly kept promise turns out better (a payment in its
      window was posted late), or has more paid towards it.

    A kept or cancelled promise never changes; a match that is worse than what is stored
    (a run for an earlier date) changes nothing.
    """
    rank = pl.col("status").replace_strict(RANK, default=-1)
    old_rank = pl.col("old_status").replace_strict(RANK, default=-1)
    was_open = pl.col("old_status") == PromiseStatus.OPEN.value
    was_resolved = pl.col("old_status").is_in(
        [PromiseStatus.BROKEN.value, PromiseStatus.PARTLY_KEPT.value]
    )
    more_paid = pl.col("amount_paid") > pl.col("old_paid")
    change = (
        pl.when(was_open & (pl.col("status") != PromiseStatus.OPEN.value))
        .then(pl.lit("resolved"))
        .when(was_open & more_paid)
        .then(pl.lit("progressed"))
        .when(
            was_resolved
            & ((rank > old_rank) | ((rank == old_rank) & more_paid))
            & (pl.col("status") != PromiseStatus.OPEN.value)
        )
        .then(pl.lit("revised"))
    )
    return (
        matched.join(
            stored.select(
                "promise_id",
                pl.col("status").alias("old_status"),
                pl.col("amount_paid").alias("old_paid"),
            ),
            on="promise_id",
            how="inner",
        )
        .with_columns(change=change)
        .filter(pl.col("change").is_not_null())
        .select(pl.col(name).cast(dtype) for name, dtype in CHANGES.items())
        .sort("promise_id")
    )


# --- what the strategy and the dashboard read ---------------------------------------------
