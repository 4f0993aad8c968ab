"""Targets of the book models and the stacked training frame.

Every target is judged on what happened after the observation date ``D``, from the same
settlement history as the features (:func:`forbear.domain.scoring.features.settlements`
run once at ``last``, the last date of the data):

- ``behaviour``: among loans active at ``D`` and not already 30+ dpd, the loan reaches
  30 dpd or more on some day of ``(D, D + window]`` (default 90 days).
- ``early_warning``: among loans current at ``D`` (dpd 0), the next instalment, the
  oldest one with anything unpaid at ``D`` (normally the first due after ``D``; one due
  on or before ``D`` still inside its grace days is the one they are about to miss), is
  not fully paid by its deadline (due date + grace days). The window is that deadline.
- ``propensity``: among loans overdue at ``D`` (dpd >= 1), the borrower pays at least
  one instalment's worth within ``(D, D + 30]``: payments in that span total at least
  the scheduled amount (principal + interest + fee) of the oldest unpaid instalment.
  Choice: an instalment rather than 30 % of the overdue amount, because it is what an
  agent asks for and does not shrink for the deepest arrears.

A row is used only when its outcome has matured (its window ends on or before ``last``);
the others are dropped and counted.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import Settled
from forbear.domain.scoring.artefact import ModelKind
from forbear.domain.scoring.features import (
    BookFrames,
    day_number,
    features_at,
    max_dpd,
    settlements,
    unsettled_on,
)

TARGET = "target"
BAD_DPD = 30
DEFAULT_WINDOW_DAYS: dict[ModelKind, int] = {
    ModelKind.BEHAVIOUR: 90,
    ModelKind.EARLY_WARNING: 45,  # only bounds the observation dates; maturity is per row
    ModelKind.PROPENSITY: 30,
}
BOOK_KINDS = (ModelKind.BEHAVIOUR, ModelKind.EARLY_WARNING, ModelKind.PROPENSITY)

DEFINITIONS: dict[ModelKind, str] = {
    ModelKind.BEHAVIOUR: "reaches 30+ dpd within {window} days (loans below 30 dpd)",
    ModelKind.EARLY_WARNING: "misses the next instalment's deadline (current loans)",
    ModelKind.PROPENSITY: "pays one instalment's worth within {window} days (overdue loans)",
}


def segment(kind: ModelKind) -> pl.Expr:
    """The accounts a book model is trained on and scores (on the ``dpd`` feature)."""
    if kind is ModelKind.BEHAVIOUR:
        return pl.col("dpd") < BAD_DPD
    if kind is ModelKind.EARLY_WARNING:
        return pl.col("dpd") == 0
    if kind is ModelKind.PROPENSITY:
        return pl.col("dpd") >= 1
    raise ValidationError("kind", f"{kind.value} is not a book model")


def scoring_segment(kind: ModelKind) -> pl.Expr:
    """Scoring covers every active loan for behaviour, the training segment otherwise."""
    return pl.lit(True) if kind is ModelKind.BEHAVIOUR else segment(kind)


def _targets(
    kind: ModelKind, settled: Settled, payments: pl.LazyFrame, observed: date, window: int
) -> pl.LazyFrame:
    """``loan_id, target, _matured`` for every loan with lines (segment not applied)."""
    d = day_number(observed)
    last = day_number(settled.last)
    lines = settled.lines.lazy()
    if kind is ModelKind.BEHAVIOUR:
        return max_dpd(lines, d + 1, d + window, "_max").select(
            "loan_id",
            (pl.col("_max") >= BAD_DPD).cast(pl.Int8).alias(TARGET),
            (d + window <= last).alias("_matured"),
        )
    oldest_open = lines.filter(unsettled_on(d)).sort("loan_id", "seq").group_by("loan_id").first()
    if kind is ModelKind.EARLY_WARNING:
        return oldest_open.select(
            "loan_id",
            unsettled_on(pl.col("deadline")).cast(pl.Int8).alias(TARGET),
            (pl.col("deadline") <= last).alias("_matured"),
        )
    paid = (
        payments.select("loan_id", pl.col("paid_on").cast(pl.Int32).alias("paid"), "amount")
        .filter((pl.col("paid") > d) & (pl.col("paid") <= d + window))
        .group_by("loan_id")
        .agg(_paid=pl.col("amount").sum())
    )
    return oldest_open.join(paid, on="loan_id", how="left").select(
        "loan_id",
        (pl.col("_paid").fill_null(0) >= pl.col("amount")).cast(pl.Int8).alias(TARGET),
        (d + window <= last).alias("_matured"),
    )


@dataclass(frozen=True, slots=True)
class TrainingSet:
    kind: ModelKind
    frame: pl.DataFrame  # features, loan_id, observation_date, target
    observation_dates: tuple[date, ...]
    window_days: int
    rows_out_of_segment: int  # active loans the target does not apply to
    rows_immature: int  # in segment, but the outcome window ends after the data

    @property
    def definition(self) -> str:
        return DEFINITIONS[self.kind].format(window=self.window_days)


def training_set(
    frames: BookFrames,
    kind: ModelKind,
    observation_dates: Sequence[date],
    last: date,
    window_days: int | None = None,
    *,
    settled: Settled | None = None,
) -> TrainingSet:
    """Features and target for each observation date, stacked (one ledger run at ``last``;
    none when the caller passes ``settled``, :func:`settlements` of ``frames`` at ``last``,
    which the three book models share)."""
    if kind not in BOOK_KINDS:
        raise ValidationError("kind", f"{kind.value} is not trained on the book")
    if not observation_dates:
        raise ValidationError("observation_dates", "give at least one observation date")
    if max(observation_dates) >= last:
        raise ValidationError("observation_dates", f"must all be before {last.isoformat()}")
    window = window_days if window_days is not None else DEFAULT_WINDOW_DAYS[kind]
    if window < 1:
        raise ValidationError("window", "must be at least one day")
    if settled is None:
        settled = settlements(frames, last)
    elif settled.last != last:
        raise ValidationError(
            "settled", f"is of {settled.last.isoformat()}, not {last.isoformat()}"
        )
    payments = frames.payments.filter(pl.col("paid_on") <= last)
    parts, outside, immature = [], 0, 0
    for observed in sorted(set(observation_dates)):
        feats = features_at(frames, settled, observed)
        inside = feats.filter(segment(kind))
        outside += feats.height - inside.height
        joined = inside.join(
            _targets(kind, settled, payments, observed, window).collect(), on="loan_id", how="left"
        )
        ripe = joined.filter(pl.col("_matured").fill_null(False))
        immature += joined.height - ripe.height
        parts.append(ripe.drop("_matured"))
    frame = pl.concat(parts) if parts else pl.DataFrame()
    return TrainingSet(
        kind=kind,
        frame=frame,
        observation_dates=tuple(sorted(set(observation_dates))),
        window_days=window,
        rows_out_of_segment=outside,
        rows_immature=immature,
    )


def month_ends(last: date, months: int, window_days: int) -> list[date]:
    """The ``months`` month ends whose outcome window has matured by ``last``, latest first
    reversed into date order: the usual observation dates of a book model."""
    if months < 1:
        raise ValidationError("months", "must be at least 1")
    latest = last - timedelta(days=window_days)
    end = _month_end(latest)
    if end > latest:
        end = latest.replace(day=1) - timedelta(days=1)
    dates = [end]
    while len(dates) < months:
        dates.append(dates[-1].replace(day=1) - timedelta(days=1))
    return sorted(dates)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
