"""``amortise_frame`` (the contract schedules of a whole book, :func:`schedules`) steps in
numpy: its rows must equal those of the former loop (kept here as the reference, a
handful of eager operations per step), on random frames. (The day's ledger no longer
uses it: its re-amortisation is the compiled walk's, checked in ``test_compiled``.)"""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from forbear.domain.ledger.arith import MONTHLY_RATE_DEN, div_round_expr
from forbear.domain.ledger.schedules import EI, EP, IO, amortise_frame, with_level
from forbear.domain.money import Rounding


def former_amortise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``amortise_frame`` as it was before the one-collect-per-step loop."""
    current = frame.select(
        "loan_id",
        pl.col("balance").cast(pl.Int64).alias("b"),
        pl.col("level").cast(pl.Int64),
        "method",
        pl.col("annual_rate_bp").cast(pl.Int64).alias("a"),
        pl.col("count").cast(pl.Int32),
        "rounding",
        "shorten",
    )
    max_count = int(current.select(pl.col("count").max().fill_null(0)).item())
    steps: list[pl.DataFrame] = []
    b, level, count = pl.col("b"), pl.col("level"), pl.col("count")
    for k in range(1, max_count + 1):
        current = current.filter(count >= k)
        if current.is_empty():
            break
        interest = div_round_expr(b * pl.col("a"), MONTHLY_RATE_DEN, pl.col("rounding"))
        current = current.with_columns(interest=interest)
        principal = (
            pl.when(count == k)
            .then(b)
            .when(pl.col("method") == EI)
            .then(pl.min_horizontal(pl.max_horizontal(level - pl.col("interest"), 0), b))
            .when(pl.col("method") == EP)
            .then(pl.min_horizontal(level, b))
            .otherwise(pl.lit(0, dtype=pl.Int64))
        )
        current = current.with_columns(principal=principal)
        steps.append(
            current.select("loan_id", pl.lit(k, dtype=pl.Int32).alias("k"), "principal", "interest")
        )
        current = current.with_columns(b=b - pl.col("principal")).filter(
            ~(pl.col("shorten") & (b == 0))
        )
    if not steps:
        return pl.DataFrame(
            schema={"loan_id": pl.Int64, "k": pl.Int32, "principal": pl.Int64, "interest": pl.Int64}
        )
    return pl.concat(steps).sort("loan_id", "k")


row_st = st.tuples(
    st.integers(0, 5_000_000),  # balance
    st.sampled_from([EI, EP, IO]),
    st.integers(0, 3_600),  # annual_rate_bp
    st.integers(1, 36),  # count
    st.sampled_from([r.value for r in Rounding]),
    st.booleans(),  # shorten
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, max_size=12))
def test_amortise_frame_equals_the_former_loop(
    rows: list[tuple[int, str, int, int, str, bool]],
) -> None:
    frame = pl.DataFrame(
        {
            "loan_id": list(range(1, len(rows) + 1)),
            "balance": [r[0] for r in rows],
            "method": [r[1] for r in rows],
            "annual_rate_bp": [r[2] for r in rows],
            "count": [r[3] for r in rows],
            "rounding": [r[4] for r in rows],
            "shorten": [r[5] for r in rows],
        },
        schema={
            "loan_id": pl.Int64,
            "balance": pl.Int64,
            "method": pl.String,
            "annual_rate_bp": pl.Int64,
            "count": pl.Int32,
            "rounding": pl.String,
            "shorten": pl.Boolean,
        },
    )
    frame = with_level(frame)
    assert_frame_equal(amortise_frame(frame), former_amortise_frame(frame), check_exact=True)
