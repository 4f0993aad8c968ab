"""What the strategy and the dashboard read of the promises: flags per loan, an active
promise, a promise broken recently, kept rates."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.promises.frames import FLAGS, KEPT_RATES
from forbear.domain.promises.policy import (
    DEFAULT_POLICY,
    RESOLVED,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)


def promise_flags(
    records: pl.LazyFrame, as_of: date, policy: PromisePolicy = DEFAULT_POLICY
) -> pl.LazyFrame:
    """Per loan with a promise (``FLAGS``, ordered by loan_id), as known on ``as_of``:

    - ``active_promise``: a promise taken by ``as_of``, not resolved or cancelled by then,
      whose promised date plus grace has not passed;
    - ``broken_promises_90d``: promises broken (known by ``as_of``) whose promised date is
      in the ``broken_lookback_days`` up to ``as_of``. Partly kept ones are not counted.
    """
    day = pl.lit(as_of)
    deadline = pl.col("promised_on") + pl.duration(days=policy.grace_days)
    unresolved = pl.col("resolved_on").is_null() | (pl.col("resolved_on") > day)
    since = as_of - timedelta(days=policy.broken_lookback_days)
    broken = (
        (pl.col("status") == PromiseStatus.BROKEN.value)
        & (pl.col("resolved_on") <= day)
        & (pl.col("promised_on") > pl.lit(since))
        & (pl.col("promised_on") <= day)
    )
    return (
        records.filter(pl.col("taken_on") <= day)
        .group_by("loan_id")
        .agg(
            active_promise=(unresolved & (deadline >= day)).any(),
            broken_promises_90d=broken.sum(),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in FLAGS.items())
        .sort("loan_id")
    )


def is_active_promise(
    taken_on: date, promised_on: date, resolved_on: date | None, as_of: date, policy: PromisePolicy
) -> bool:
    """The scalar form of ``active_promise`` for one promise (:func:`promise_flags`)."""
    if taken_on > as_of or (resolved_on is not None and resolved_on <= as_of):
        return False
    return promised_on + timedelta(days=policy.grace_days) >= as_of


def is_broken_recently(
    status: str,
    promised_on: date,
    resolved_on: date | None,
    as_of: date,
    policy: PromisePolicy,
) -> bool:
    """The scalar form of what ``broken_promises_90d`` counts (:func:`promise_flags`): a
    promise broken (known by ``as_of``) whose *promised date* is in the lookback window.
    The window is the promise's date, not the day it was found broken (docs/promises.md):
    a promise for a date 100 days ago found broken today is not a recent broken promise
    (the script panel used to count by resolution date; it now reads these flags)."""
    since = as_of - timedelta(days=policy.broken_lookback_days)
    return (
        status == PromiseStatus.BROKEN.value
        and resolved_on is not None
        and resolved_on <= as_of
        and since < promised_on <= as_of
    )


def kept_rates(records: pl.LazyFrame, start: date, end: date) -> pl.DataFrame:
    """Promise-kept rates for promises dated ``start``..``end`` (``KEPT_RATES``): one row
    per source (every source, zeros included) and an ``all`` row. Cancelled promises are
    left out; rates are over the resolved ones."""
    if end < start:
        raise ValidationError("end", "must not be before start")
    status = pl.col("status")
    resolved = status.is_in([s.value for s in RESOLVED])

    def tally() -> list[pl.Expr]:
        return [
            pl.len().alias("promises"),
            (status == PromiseStatus.OPEN.value).sum().alias("open"),
            (status == PromiseStatus.KEPT.value).sum().alias("kept"),
            (status == PromiseStatus.PARTLY_KEPT.value).sum().alias("partly_kept"),
            (status == PromiseStatus.BROKEN.value).sum().alias("broken"),
            resolved.sum().alias("resolved"),
            pl.col("amount").filter(resolved).sum().alias("amount_promised"),
            pl.col("amount_paid").filter(resolved).sum().alias("amount_paid"),
        ]

    chosen = records.filter(
        (pl.col("promised_on") >= pl.lit(start))
        & (pl.col("promised_on") <= pl.lit(end))
        & (status != PromiseStatus.CANCELLED.value)
    )
    by_source = chosen.group_by("source").agg(tally())
    overall = chosen.select(tally()).with_columns(source=pl.lit("all"))
    sources = pl.LazyFrame({"source": [s.value for s in PromiseSource]}).with_row_index("_order")
    table = pl.concat(
        [sources.join(by_source, on="source", how="left").sort("_order"), overall],
        how="diagonal_relaxed",
    )
    counts_ = ["promises", "open", "kept", "partly_kept", "broken", "resolved"]
    money = ["amount_promised", "amount_paid"]
    return (
        table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts_ + money)
        .with_columns(
            kept_rate=pl.when(pl.col("resolved") > 0).then(pl.col("kept") / pl.col("resolved")),
            amount_rate=pl.when(pl.col("amount_promised") > 0).then(
                pl.col("amount_paid") / pl.col("amount_promised")
            ),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in KEPT_RATES.items())
        .collect()
    )
