"""The column contracts of the promise frames (money ``Int64`` fen, business dates ``Date``,
moments UTC ``Datetime``)."""

from __future__ import annotations

import polars as pl

UTC_MOMENT = pl.Datetime("us", "UTC")

# Promises to decide. ``taken_on`` is the business date of ``taken_at`` in the lender's zone.
PROMISES: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "amount": pl.Int64(),
    "taken_at": UTC_MOMENT,
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
}

# Payments on the loans of those promises; ``paid_at`` may be null (only the day is known).
PROMISE_PAYMENTS: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "paid_on": pl.Date(),
    "paid_at": UTC_MOMENT,
    "amount": pl.Int64(),
}

# One decision per promise, ordered by promise_id.
MATCHED: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "status": pl.String(),  # open | kept | partly_kept | broken
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),  # null while open
    "deadline": pl.Date(),
}

# Stored promises (the ``promises`` table's columns the reports need).
RECORDS: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "source": pl.String(),
    "amount": pl.Int64(),
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
    "status": pl.String(),
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),
}

FLAGS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "active_promise": pl.Boolean(),
    "broken_promises_90d": pl.Int32(),
}

# What :func:`changes` returns: the updates to store.
CHANGES: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "status": pl.String(),
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),
    "change": pl.String(),  # resolved | progressed | revised
}

KEPT_RATES: dict[str, pl.DataType] = {
    "source": pl.String(),  # a PromiseSource value, or "all"
    "promises": pl.Int64(),  # not cancelled, promised in the period
    "open": pl.Int64(),
    "kept": pl.Int64(),
    "partly_kept": pl.Int64(),
    "broken": pl.Int64(),
    "kept_rate": pl.Float64(),  # kept / resolved; null when none is resolved
    "amount_promised": pl.Int64(),  # of the resolved ones
    "amount_paid": pl.Int64(),  # of the resolved ones
    "amount_rate": pl.Float64(),  # amount_paid / amount_promised of the resolved ones
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# --- a new promise ------------------------------------------------------------------------
