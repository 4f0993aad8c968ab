"""Column contracts of the frames the ledger takes and returns.

Every whole-book ledger function takes and returns Polars frames with exactly these
columns (extra columns are carried through where it says so). Money is ``Int64`` fen,
rates ``Int32`` basis points, dates ``Date`` in the lender's business calendar.
"""

from __future__ import annotations

import polars as pl

# One row per product (see ``products_frame``): the terms the kernel needs.
PRODUCTS: dict[str, pl.DataType] = {
    "product_code": pl.String(),
    "method": pl.String(),  # RepaymentMethod value
    "penalty_rate_bp": pl.Int32(),
    "day_count": pl.Int32(),
    "grace_days": pl.Int32(),
    "monthly_fee_bp": pl.Int32(),
    "late_fee": pl.Int64(),
    "waterfall": pl.String(),  # WaterfallOrder value
    "components": pl.String(),  # comma-separated Component values, in waterfall order
    "prepayment": pl.String(),  # PrepaymentRule value
    "early_payment": pl.String(),  # EarlyPayment value
    "rounding": pl.String(),  # Rounding value
}

# One row per loan. ``annual_rate_bp`` is the loan's own contract rate (a loan may be
# priced off its product's list rate). ``written_off_on`` is null unless written off.
LOANS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "product_code": pl.String(),
    "principal": pl.Int64(),
    "term_months": pl.Int32(),
    "annual_rate_bp": pl.Int32(),
    "start_date": pl.Date(),
    "first_due_date": pl.Date(),
    "written_off_on": pl.Date(),
}

# One row per contractual instalment; ``seq`` is 1-based.
INSTALMENTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "seq": pl.Int32(),
    "due_date": pl.Date(),
    "principal": pl.Int64(),
    "interest": pl.Int64(),
    "fee": pl.Int64(),
}

# One row per payment received. ``payment_id`` orders payments made on the same day.
PAYMENTS: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "paid_on": pl.Date(),
    "amount": pl.Int64(),
}

# One row per (payment, instalment, component) that received money. Prepaid principal
# (an overpayment that reduces principal not yet due, which is then re-amortised) has
# component "principal" and a NULL seq; money beyond payoff has component "credit" and a
# NULL seq (owed back to the borrower).
ALLOCATIONS: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "seq": pl.Int32(),
    "component": pl.String(),  # Component value
    "amount": pl.Int64(),
}

# One row per loan: its state as of a date.
STATES: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "as_of": pl.Date(),
    "status": pl.String(),  # active | paid_off | written_off
    "dpd": pl.Int32(),  # days past due (0 when current or within grace)
    "bucket": pl.String(),  # C, M1 ... M7+ (configurable)
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "overdue_fee": pl.Int64(),
    "overdue_penalty": pl.Int64(),
    "overdue_total": pl.Int64(),
    "outstanding_principal": pl.Int64(),
    "oldest_unpaid_due_date": pl.Date(),
    "next_due_date": pl.Date(),
    "next_due_amount": pl.Int64(),
    "last_payment_date": pl.Date(),
    "paid_total": pl.Int64(),
    "credit": pl.Int64(),  # paid beyond payoff, owed back to the borrower (added by the ledger)
}


# One row per instalment of the loans a ledger run took (started by its as-of date), a
# loan's lines together and by seq, with the day it was settled (``ledger.settled``).
# Dates are Int32 day numbers (days since 1970-01-01): what the features compute with.
SETTLED_LINES: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "seq": pl.Int32(),
    "due": pl.Int32(),
    "deadline": pl.Int32(),  # due + the product's grace days
    "grace_days": pl.Int32(),
    "amount": pl.Int64(),  # principal + interest + fee as scheduled
    "settled_on": pl.Int32(),  # null: not settled by the as-of date
    "start": pl.Int32(),  # the loan's start date
    "written_off": pl.Int32(),  # the loan's write-off date, null if none
}

# One row per payment that paid principal (its instalments' or prepaid), with how much.
PRINCIPAL_PAID: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "paid": pl.Int32(),  # the payment's day number
    "amount": pl.Int64(),
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
