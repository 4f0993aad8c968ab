"""Behaviour features of the book at an observation date (one row per loan active then).

Everything is derived from the ledger's own frames (``schema.LOANS`` plus
``borrower_id``, ``PRODUCTS``, ``INSTALMENTS``, ``PAYMENTS``) with one ledger run at the
last date of the data, ``last``:

- the ledger's allocations joined to payment dates give, for every instalment, the day
  it became fully settled (the last payment that put money on it; penalty included);
- the ledger's state at ``last`` says which instalments are settled at all: those due
  before its ``oldest_unpaid_due_date`` (the ledger settles instalments in seq order,
  under both waterfalls and early payment).

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
from forbear.domain.ledger import account_states

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


@dataclass(frozen=True, slots=True)
class Settled:
    """The ledger's history of a book, as of ``last``.

    ``lines``: one row per instalment, ``loan_id, seq, due, deadline, grace_days, amount,
    settled_on, start, written_off`` (dates as Int32 day numbers; ``settled_on`` null when
    not settled by ``last``). ``principal``: every principal allocation,
    ``loan_id, paid, amount`` (prepaid principal included)."""

    last: date
    lines: pl.DataFrame
    principal: pl.DataFrame


def settlements(frames: BookFrames, last: date) -> Settled:
    """Run the ledger once at ``last`` and date every instalment's settlement."""
    loans = frames.loans.filter(pl.col("start_date") <= last)
    payments = frames.payments.filter(pl.col("paid_on") <= last)
    ledger = account_states(
        loans.drop("borrower_id"), frames.products, frames.instalments, payments, last
    )
    return settlements_from(frames, ledger.states, ledger.allocations, last)


def settlements_from(
    frames: BookFrames, states: pl.LazyFrame, allocations: pl.LazyFrame, last: date
) -> Settled:
    """:func:`settlements` from a ledger run at ``last`` on ``frames`` that is already at
    hand (``STATES`` and ``ALLOCATIONS``): the daily run shares its one ledger run."""
    loans = frames.loans.filter(pl.col("start_date") <= last)
    payments = frames.payments.filter(pl.col("paid_on") <= last)
    status = states.select(
        "loan_id",
        _oldest=pl.col("oldest_unpaid_due_date").cast(pl.Int32),
        _closed=pl.col("status") == "paid_off",
    )
    dated = _dated(allocations, payments)
    # an allocation's line as one integer key (a loan's seqs are below 2**20): one-key
    # grouping and joins cost a fraction of two-key ones on a book's millions of rows
    line_key = pl.col("loan_id") * _SEQ_SPAN + pl.col("seq")
    last_paid = (
        dated.filter(pl.col("seq").is_not_null())
        .group_by(line_key.alias("_line"))
        .agg(_paid=pl.col("paid").max())
    )
    # lines that lost their principal to a prepayment (payoff, shortened term) get no
    # allocation of their own: they were settled on the loan's last prepayment
    prepaid = (
        dated.filter(pl.col("seq").is_null() & (pl.col("component") == "principal"))
        .group_by("loan_id")
        .agg(_prepaid=pl.col("paid").max())
    )
    due = pl.col("due_date").cast(pl.Int32)
    settled = pl.col("_closed") | (
        (due < day_number(last)) & (pl.col("_oldest").is_null() | (due < pl.col("_oldest")))
    )
    # each loan's own figures, joined to its lines keeping the lines' order: the book's
    # instalments come ordered by (loan_id, seq), and sorting them again was about a third
    # of this function's time (they are sorted below only when they were not)
    per_loan = (
        loans.join(frames.products.select("product_code", "grace_days"), on="product_code")
        .select(
            "loan_id",
            "grace_days",
            pl.col("start_date").cast(pl.Int32).alias("start"),
            pl.col("written_off_on").cast(pl.Int32).alias("written_off"),
        )
        .join(status, on="loan_id", how="left")
        .join(prepaid, on="loan_id", how="left")
    )
    lines = (
        frames.instalments.join(per_loan, on="loan_id", how="inner", maintain_order="left")
        .with_columns(line_key.alias("_line"))
        .join(last_paid, on="_line", how="left", maintain_order="left")
        .select(
            "loan_id",
            "seq",
            due.alias("due"),
            (due + pl.col("grace_days")).alias("deadline"),
            "grace_days",
            (pl.col("principal") + pl.col("interest") + pl.col("fee")).alias("amount"),
            pl.when(settled).then(pl.coalesce("_paid", "_prepaid", "start")).alias("settled_on"),
            "start",
            "written_off",
        )
    )
    principal = dated.filter(pl.col("component") == "principal").select("loan_id", "paid", "amount")
    lines_frame, principal_frame = pl.collect_all([lines, principal])
    if not (lines_frame["loan_id"] * _SEQ_SPAN + lines_frame["seq"]).is_sorted():
        lines_frame = lines_frame.sort("loan_id", "seq")
    return Settled(last, lines_frame, principal_frame)


_SEQ_SPAN = 1 << 20
# Payment ids this dense (their span at most this many times their count) are looked up by
# position in an array of dates; sparser ones by a join.
_DENSE_IDS = 4


def _dated(allocations: pl.LazyFrame, payments: pl.LazyFrame) -> pl.LazyFrame:
    """The allocations of payments paid by then, each with its payment's date (``paid``,
    an Int32 day number): a gather by payment id where the ids are dense, else a join."""
    paid = payments.select("payment_id", pl.col("paid_on").cast(pl.Int32).alias("paid")).collect()
    if paid.is_empty():
        return allocations.with_columns(paid=pl.lit(None, dtype=pl.Int32)).filter(False)
    low, high = int(paid["payment_id"].min()), int(paid["payment_id"].max())  # type: ignore[arg-type]
    if high - low + 1 > _DENSE_IDS * paid.height:
        return allocations.join(paid.lazy(), on="payment_id", how="inner")
    by_id = pl.Series("paid", [None] * (high - low + 1), dtype=pl.Int32).scatter(
        paid["payment_id"] - low, paid["paid"]
    )
    index = pl.col("payment_id") - low
    known = (index >= 0) & (index < by_id.len())
    return (
        allocations.filter(known)
        .with_columns(paid=pl.lit(by_id).gather(index))
        .filter(pl.col("paid").is_not_null())
    )


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
