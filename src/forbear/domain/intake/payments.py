"""Validation of the payments file (docs/import.md, "Payments")."""

from __future__ import annotations

import polars as pl

from forbear.domain.intake import parse
from forbear.domain.intake.columns import ColumnSpec
from forbear.domain.intake.loans import _ref
from forbear.domain.intake.result import LINE, Checked, collect_errors, drop_lines

PAYMENT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("txn_ref", "交易流水号", True),
    ColumnSpec("loan_ref", "借据号", True),
    ColumnSpec("paid_at", "还款时间", True),
    ColumnSpec("amount", "金额", True),
    ColumnSpec("channel", "渠道", False),
)

CHANNELS = ("withhold", "transfer", "app", "counter", "other")


def validate_payments(frame: pl.DataFrame, zone: str) -> Checked:
    """Parse and check every row of a payments file; ``zone`` is the lender's time zone."""
    for spec in PAYMENT_COLUMNS:
        if spec.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(spec.name))
    txn_ref, txn_ref_err = _ref("txn_ref")
    loan_ref, loan_ref_err = _ref("loan_ref")
    paid_on, paid_at, paid_err = parse.local_datetime("paid_at", zone)
    amount, amount_err = parse.amount_fen("amount")
    channel, channel_err = parse.one_of("channel", CHANNELS)
    typed = frame.with_columns(
        txn_ref.alias("txn_ref"),
        loan_ref.alias("loan_ref"),
        paid_on.alias("paid_on"),
        paid_at.alias("paid_at"),
        amount.alias("amount"),
        channel.alias("channel"),
        txn_ref_err.alias("e_txn_ref"),
        loan_ref_err.alias("e_loan_ref"),
        pl.coalesce([parse.required("paid_at"), paid_err]).alias("e_paid_at"),
        pl.coalesce([parse.required("amount"), amount_err]).alias("e_amount"),
        channel_err.alias("e_channel"),
    )
    first = pl.col(LINE).min().over("txn_ref")
    checks = {spec.name: pl.col(f"e_{spec.name}") for spec in PAYMENT_COLUMNS}
    checks["txn_ref#dup"] = (
        pl.when(pl.col("txn_ref").is_not_null() & (pl.col(LINE) != first))
        .then(pl.lit("txn_ref appears more than once; first on line ") + first.cast(str))
        .otherwise(None)
    )
    errors = collect_errors(typed, checks)
    good = drop_lines(typed, {e.line for e in errors})
    return Checked(
        valid=good.select(LINE, "txn_ref", "loan_ref", "paid_on", "paid_at", "amount", "channel"),
        errors=errors,
    )
