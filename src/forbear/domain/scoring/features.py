"""Behaviour features of the book at an observation date (one row per loan active then).

Everything is derived from the ledger's own frames (``schema.LOANS`` plus
``borrower_id``, ``PRODUCTS``, ``INSTALMENTS``, ``PAYMENTS``) with one ledger run at the
last date of the data, ``last``, and its settlement history
(:mod:`forbear.domain.ledger.settled`): for every instalment, the day it became fully
settled, and the principal each payment paid.

With ``settled_on`` known, days past due on any day ``t`` is the ledger's rule
(:mod:`forbear.domain.ledger.state`): ``t - due`` of the oldest instalment with
``due < t < settled_on``, if past grace. Its maximum over a window ``[a, b]`` is attained
at ``b`` or on the day before a settlement, so per instalment it is
``min(b, settled_on - 1) - due`` when that span meets the window; the loan's maximum is
the maximum over its instalments. That is exact and vectorised (the unit tests check it
against :func:`account_states` day by day). Features at ``D`` only look at settlements on
or before ``D``: nothing after the observation date leaks in.

Not here yet: broken promises and contact outcomes (they arrive with the promises and
contact issues, 6/7); no zero-filled stand-ins are made for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import Settled, account_states

LOAN_COLUMNS = ("loan_id", "borrower_id")

# name -> (中文, English), in the order the scorecard sees them.
FEATURES: dict[str, tuple[str, str]] = {
    # Worded for the borrower: these labels are the reason codes a borrower, an agent and
    # an auditor read (PIPL art. 24), so they say what the number means, not its unit.
    "months_on_book": ("借款时长（月）", "How long you have had the loan (months)"),
    "principal": ("借款金额", "Amount borrowed"),
    "term_months": ("借款期数", "Number of instalments"),
    "annual_rate_bp": ("借款年利率", "Annual interest rate of the loan"),
    "product_code": ("借款产品", "Loan product"),
    "instalments_due": ("已到还款日的期数", "Instalments already due"),
    "on_time_share": ("按时还款的期数占比", "Share of instalments paid on time"),
    "payment_ratio_3m": ("近3个月已还金额占应还比例", "Share of amounts due paid, last 3 months"),
    "payment_ratio_6m": ("近6个月已还金额占应还比例", "Share of amounts due paid, last 6 months"),
    "max_dpd_3m": ("近3个月最长逾期天数", "Longest time overdue, last 3 months (days)"),
    "max_dpd_6m": ("近6个月最长逾期天数", "Longest time overdue, last 6 months (days)"),
    "max_dpd_12m": ("近12个月最长逾期天数", "Longest time overdue, last 12 months (days)"),
    "dpd": ("当前逾期天数", "Days overdue now"),
    "utilisation": ("尚未归还的本金比例", "Share of the amount borrowed still to repay"),
    "days_since_last_payment": ("距上次还款的天数", "Days since your last payment"),
    "other_loans": ("名下其他未结清借款笔数", "Other loans you have with us"),
}
CATEGORICAL = frozenset({"product_code"})
WINDOW_DAYS = {"3m": 90, "6m": 180, "12m": 365}

# Columns kept beside the features for targets and segmentation (never model inputs).
KEYS = ("loan_id", "observation_date", "outstanding_principal")


@dataclass(frozen=True, slots=True)
class BookFrames:
    """The ledger's inputs; ``loans`` is ``schema.LOANS`` plus ``borrower_id``."""

    loans: pl.LazyFrame
    products: pl.LazyFrame
    instalments: pl.LazyFrame
    payments: pl.LazyFrame

    def only(self, loan_ids: Sequence[int]) -> BookFrames:
        """The same book restricted to some loans and the other loans of their borrowers
        (``other_loans`` needs them): the one-account path uses the same functions."""
        ids = pl.Series("loan_id", list(loan_ids), dtype=pl.Int64)
        borrowers = self.loans.filter(pl.col("loan_id").is_in(ids.implode())).select("borrower_id")
        loans = self.loans.join(borrowers, on="borrower_id", how="semi")
        keep = loans.select("loan_id")
        return BookFrames(
            loans,
            self.products,
            self.instalments.join(keep, on="loan_id", how="semi"),
            self.payments.join(keep, on="loan_id", how="semi"),
        )


def day_number(value: date) -> pl.Expr:
    return pl.lit(value).cast(pl.Int32)


def settlements(frames: BookFrames, last: date) -> Settled:
    """Run the ledger once at ``last`` and date every instalment's settlement."""
    loans = frames.loans.filter(pl.col("start_date") <= last)
    payments = frames.payments.filter(pl.col("paid_on") <= last)
    ledger = account_states(
        loans.drop("borrower_id"), frames.products, frames.instalments, payments, last, settle=True
    )
    assert ledger.settled is not None  # (asked for)
    return ledger.settled


def unsettled_on(day: pl.Expr) -> pl.Expr:
    """The instalment still had something unpaid at the end of ``day``."""
    return pl.col("settled_on").is_null() | (pl.col("settled_on") > day)


def max_dpd(lines: pl.LazyFrame, start: pl.Expr, end: pl.Expr, name: str) -> pl.LazyFrame:
    """Per loan, the maximum days past due over the days ``[start, end]`` (Int32 day
    numbers, columns of ``lines`` or literals) under the ledger's rule."""
    return lines.group_by("loan_id").agg(max_dpd_agg(start, end, name))


def max_dpd_agg(start: pl.Expr, end: pl.Expr, name: str) -> pl.Expr:
    """:func:`max_dpd` as an aggregation over a loan's lines."""
    hi = pl.min_horizontal(end, pl.col("settled_on").fill_null(end + 1) - 1)
    lo = pl.max_horizontal(start, pl.col("due") + 1)
    days = hi - pl.col("due")
    value = pl.when((hi >= lo) & (days > pl.col("grace_days"))).then(days).otherwise(0)
    return value.max().cast(pl.Int32).alias(name)


def _months_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    months = (end.dt.year() - start.dt.year()) * 12 + end.dt.month() - start.dt.month()
    return (months - (end.dt.day() < start.dt.day()).cast(pl.Int32)).cast(pl.Int32)


def active_at(frames: BookFrames, settled: Settled, observed: date) -> pl.LazyFrame:
    """``loan_id, borrower_id, outstanding_principal`` of the loans active at the end of
    ``observed``: started, not written off, and something still unpaid."""
    d = day_number(observed)
    principal_paid = (
        settled.principal.lazy()
        .filter(pl.col("paid") <= d)
        .group_by("loan_id")
        .agg(_paid_principal=pl.col("amount").sum())
    )
    open_lines = (
        settled.lines.lazy().filter(unsettled_on(d)).group_by("loan_id").agg(_open=pl.len())
    )
    return (
        frames.loans.filter(
            (pl.col("start_date") <= observed)
            & (pl.col("written_off_on").is_null() | (pl.col("written_off_on") > observed))
        )
        .join(principal_paid, on="loan_id", how="left")
        .join(open_lines, on="loan_id", how="left")
        .with_columns(
            outstanding_principal=pl.col("principal") - pl.col("_paid_principal").fill_null(0)
        )
        .filter((pl.col("_open").fill_null(0) > 0) | (pl.col("outstanding_principal") > 0))
        .select("loan_id", "borrower_id", "outstanding_principal")
    )


def features_at(frames: BookFrames, settled: Settled, observed: date) -> pl.DataFrame:
    """Features of every loan active at ``observed`` from ``settlements(frames, last)``
    with ``last >= observed`` (only what happened on or before ``observed`` is used)."""
    if observed > settled.last:
        raise ValidationError("observation_date", "is after the last date of the ledger run")
    d = day_number(observed)
    window = {k: d - (v - 1) for k, v in WINDOW_DAYS.items()}
    active = active_at(frames, settled, observed).collect()
    lines = settled.lines.lazy().join(active.lazy().select("loan_id"), on="loan_id", how="semi")
    pays = frames.payments.filter(pl.col("paid_on") <= observed).select(
        "loan_id", pl.col("paid_on").cast(pl.Int32).alias("paid"), "amount"
    )
    in_window = {k: (pl.col("due") >= window[k]) & (pl.col("due") <= d) for k in ("3m", "6m")}
    # every per-line figure in one grouping of the lines (days past due over each window
    # included)
    per_line = lines.group_by("loan_id").agg(
        max_dpd_agg(d, d, "dpd"),
        *(max_dpd_agg(window[k], d, f"max_dpd_{k}") for k in WINDOW_DAYS),
        instalments_due=(pl.col("due") <= d).sum().cast(pl.Int32),
        _judged=(pl.col("deadline") < d).sum(),
        _on_time=((pl.col("deadline") < d) & ~unsettled_on(pl.col("deadline"))).sum(),
        **{f"_due_{k}": pl.col("amount").filter(in_window[k]).sum() for k in in_window},
    )
    paid = pays.group_by("loan_id").agg(
        _last_paid=pl.col("paid").max(),
        **{
            f"_paid_{k}": pl.col("amount").filter(pl.col("paid") >= window[k]).sum()
            for k in in_window
        },
    )
    others = active.group_by("borrower_id").agg(_n=pl.len())
    frame = (
        frames.loans.join(active.lazy(), on=["loan_id", "borrower_id"], how="inner")
        .join(per_line, on="loan_id", how="left")
        .join(paid, on="loan_id", how="left")
        .join(others.lazy(), on="borrower_id", how="left")
    )
    ratio = {
        k: pl.when(pl.col(f"_due_{k}") > 0).then(
            pl.col(f"_paid_{k}").fill_null(0) / pl.col(f"_due_{k}")
        )
        for k in in_window
    }
    return (
        frame.select(
            "loan_id",
            pl.lit(observed).alias("observation_date"),
            _months_between(pl.col("start_date"), pl.lit(observed)).alias("months_on_book"),
            "principal",
            "term_months",
            "annual_rate_bp",
            "product_code",
            pl.col("instalments_due").fill_null(0),
            pl.when(pl.col("_judged") > 0)
            .then(pl.col("_on_time") / pl.col("_judged"))
            .alias("on_time_share"),
            ratio["3m"].alias("payment_ratio_3m"),
            ratio["6m"].alias("payment_ratio_6m"),
            *(pl.col(f"max_dpd_{k}").fill_null(0) for k in WINDOW_DAYS),
            pl.col("dpd").fill_null(0),
            (pl.col("outstanding_principal") / pl.col("principal")).alias("utilisation"),
            (d - pl.col("_last_paid")).cast(pl.Int32).alias("days_since_last_payment"),
            (pl.col("_n") - 1).cast(pl.Int32).alias("other_loans"),
            "outstanding_principal",
        )
        .sort("loan_id")
        .collect()
    )


def book_features(frames: BookFrames, observed: date) -> pl.DataFrame:
    """Features at ``observed`` from the book as it stood then (the scoring path)."""
    return features_at(frames, settlements(frames, observed), observed)
