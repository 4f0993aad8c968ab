"""Portfolio views over account states: balances by bucket and roll rates.

A roll rate is the share of accounts (or of balance) in bucket *b* at the start of a
period that is in bucket *b'* at its end. Collection managers read the matrix row by
row: the diagonal is "stayed", right of it "rolled forward", left of it "cured".
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

# Order used for rows and columns of every report; "paid_off" and "written_off" are
# terminal states shown after the delinquency buckets.
CLOSED = ("paid_off", "written_off")


def bucket_summary(states: pl.LazyFrame, labels: Sequence[str]) -> pl.DataFrame:
    """Accounts, outstanding principal and overdue balance per bucket (active loans)."""
    order = pl.DataFrame({"bucket": list(labels), "_order": list(range(len(labels)))})
    summary = (
        states.filter(pl.col("status") == "active")
        .group_by("bucket")
        .agg(
            pl.len().alias("accounts"),
            pl.col("outstanding_principal").sum().alias("outstanding_principal"),
            pl.col("overdue_total").sum().alias("overdue_total"),
        )
        .collect()
    )
    return (
        order.join(summary, on="bucket", how="left")
        .with_columns(
            pl.col("accounts").fill_null(0).cast(pl.Int64),
            pl.col("outstanding_principal").fill_null(0).cast(pl.Int64),
            pl.col("overdue_total").fill_null(0).cast(pl.Int64),
        )
        .with_columns((pl.col("accounts") / pl.col("accounts").sum()).fill_nan(0.0).alias("share"))
        .sort("_order")
        .drop("_order")
    )


def _state_label(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return frame.select(
        "loan_id",
        pl.when(pl.col("status") == "active")
        .then(pl.col("bucket"))
        .otherwise(pl.col("status"))
        .alias(name),
        pl.col("outstanding_principal").alias(f"{name}_balance"),
    )


def roll_rates(
    start: pl.LazyFrame, end: pl.LazyFrame, labels: Sequence[str], *, by_balance: bool = False
) -> pl.DataFrame:
    """The bucket transition matrix between two snapshots of the same book.

    Rows are the buckets at ``start`` (active accounts only: a closed account cannot
    roll), columns the state at ``end`` (buckets, then paid_off and written_off). Cells
    are shares of the row's accounts (or of its outstanding principal with
    ``by_balance``); ``accounts`` is the row's count. Accounts missing at ``end`` are
    not possible for one book and are dropped.
    """
    columns = [*labels, *CLOSED]
    pairs = (
        _state_label(start, "from")
        .join(_state_label(end, "to"), on="loan_id", how="inner")
        .filter(pl.col("from").is_in(list(labels)))
    )
    weight = pl.col("from_balance").sum() if by_balance else pl.len().cast(pl.Int64)
    counts = pairs.group_by("from", "to").agg(weight.alias("w")).collect()
    rows = []
    for label in labels:
        row = counts.filter(pl.col("from") == label)
        total = int(row["w"].sum()) if row.height else 0
        cells = {to: int(w) for to, w in row.select("to", "w").iter_rows()}
        accounts = (
            pairs.filter(pl.col("from") == label).select(pl.len()).collect().item()
            if by_balance
            else total
        )
        rows.append(
            {
                "bucket": label,
                "accounts": int(accounts),
                **{c: (cells.get(c, 0) / total if total else 0.0) for c in columns},
            }
        )
    schema = {"bucket": pl.String, "accounts": pl.Int64, **{c: pl.Float64 for c in columns}}
    return pl.DataFrame(rows, schema=schema)
