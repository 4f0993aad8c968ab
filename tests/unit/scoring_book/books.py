"""A small random book as ledger frames (no database), for feature and target tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from forbear.domain.ledger import products_frame, schedules
from forbear.domain.ledger.schema import LOANS, PAYMENTS
from forbear.domain.scoring.features import BookFrames
from unit.ledger.factories import make_product

PRODUCTS = [
    make_product(code="CASH12", grace_days=3, terms_months=(6, 12)),
    make_product(
        code="PRE12",
        grace_days=0,
        terms_months=(6, 12),
        early_payment="prepayment",
        prepayment="lower_instalment",
    ),
]


def random_book(n_loans: int, last: date, seed: int) -> BookFrames:
    """Loans started over the 540 days before ``last``; each borrower pays each instalment
    early, on time, late, partly or never, with a risk of their own."""
    rng = np.random.default_rng(seed)
    starts = [last - timedelta(days=int(d)) for d in rng.integers(30, 540, n_loans)]
    loans = pl.DataFrame(
        {
            "loan_id": list(range(1, n_loans + 1)),
            "product_code": rng.choice(["CASH12", "PRE12"], n_loans).tolist(),
            "principal": (rng.integers(20, 300, n_loans) * 10_000).tolist(),
            "term_months": rng.choice([6, 12], n_loans).tolist(),
            "annual_rate_bp": rng.choice([1200, 1800, 2400], n_loans).tolist(),
            "start_date": starts,
            "first_due_date": [s + timedelta(days=30) for s in starts],
            "written_off_on": [None] * n_loans,
        },
        schema=LOANS,
    ).with_columns(borrower_id=(pl.col("loan_id") % max(2, n_loans * 3 // 4)).cast(pl.Int64))
    products = products_frame(PRODUCTS)
    instalments = schedules(loans.drop("borrower_id").lazy(), products.lazy()).collect()
    risk = rng.uniform(0, 1, n_loans)
    n = instalments.height
    loan_risk = risk[(instalments["loan_id"].to_numpy() - 1)]
    draw = rng.uniform(0, 1, n)
    delay = np.where(
        draw < loan_risk * 0.5,
        rng.integers(4, 70, n),  # late
        rng.integers(-4, 2, n),  # early or on time (within grace)
    )
    skip = rng.uniform(0, 1, n) < loan_risk * 0.25
    share = np.where(rng.uniform(0, 1, n) < 0.1, 0.5, 1.0)
    share = np.where(rng.uniform(0, 1, n) < 0.05, 1.6, share)  # some overpay
    pays = (
        instalments.with_columns(
            paid_on=(pl.col("due_date").cast(pl.Int32) + pl.Series(delay).cast(pl.Int32)).cast(
                pl.Date
            ),
            amount=(
                (pl.col("principal") + pl.col("interest") + pl.col("fee")) * pl.Series(share)
            ).cast(pl.Int64),
        )
        .filter(~pl.Series(skip) & (pl.col("paid_on") <= last))
        .sort("loan_id", "paid_on")
        .with_row_index("payment_id", offset=1)
        .select(pl.col("payment_id").cast(pl.Int64), "loan_id", "paid_on", "amount")
        .cast(pl.Schema(PAYMENTS))
    )
    return BookFrames(loans.lazy(), products.lazy(), instalments.lazy(), pays.lazy())
