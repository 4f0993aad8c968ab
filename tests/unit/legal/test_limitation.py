"""The limitation date: the scalar and the frame form agree, and agree with the ACCOUNT
frame's ``limitation_expired`` (services.accounts) row by row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain.compliance.schema import FLAGS, HOLDS
from forbear.domain.ledger import schema as ledger
from forbear.domain.legal.limitation import expiring, limitation_date, limitation_date_expr
from forbear.services.accounts import assemble_accounts
from forbear.store.bulk import LOAN_BORROWERS, SCORES

AS_OF = date(2026, 11, 27)


def test_a_demand_restarts_the_period() -> None:
    assert limitation_date(date(2024, 1, 15), None, 3) == date(2027, 1, 15)
    demand = datetime(2026, 3, 2, 4, tzinfo=UTC)
    assert limitation_date(date(2024, 1, 15), demand, 3) == date(2029, 3, 2)
    assert limitation_date(None, None, 3) is None
    assert limitation_date(date(2024, 2, 29), None, 3) == date(2027, 2, 28)


def test_expiring_lists_soonest_first_and_flags_expired() -> None:
    frame = pl.DataFrame(
        {
            "loan_id": [1, 2, 3, 4],
            "limitation_date": [AS_OF + timedelta(days=d) for d in (100, 10, -5, 91)],
        }
    )
    out = expiring(frame.lazy(), AS_OF, 90).collect()
    assert out["loan_id"].to_list() == [3, 2]
    assert out["expired"].to_list() == [True, False]
    assert expiring(frame.lazy(), AS_OF, 90, include_expired=False).collect()[
        "loan_id"
    ].to_list() == [2]


dates = st.dates(date(2019, 1, 1), date(2027, 12, 31))
moments = st.none() | st.datetimes(datetime(2019, 1, 1), datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.none() | dates, moments), min_size=1, max_size=25))
def test_scalar_frame_and_account_frame_agree(
    rows: list[tuple[date | None, datetime | None]],
) -> None:
    n = len(rows)
    flags = (
        pl.DataFrame(
            {
                "loan_id": list(range(n)),
                "borrower_id": list(range(n)),
                "last_due_date": [r[0] for r in rows],
                "last_demand_at": [r[1] for r in rows],
            }
        )
        .with_columns(
            [
                pl.lit(None, dtype=t).alias(c)
                for c, t in FLAGS.items()
                if c not in ("loan_id", "borrower_id", "last_due_date", "last_demand_at")
            ]
        )
        .select(pl.col(c).cast(t) for c, t in FLAGS.items())
    )
    framed = flags.select(limitation_date_expr(3))["limitation_date"].to_list()
    assert framed == [limitation_date(d, m, 3) for d, m in rows]
    states = pl.DataFrame(
        {name: [None] * n for name in ledger.STATES}, schema=ledger.STATES
    ).with_columns(pl.Series("loan_id", list(range(n)), pl.Int64), pl.lit(AS_OF).alias("as_of"))
    borrowers = pl.DataFrame(
        {"loan_id": list(range(n)), "borrower_id": list(range(n))}, schema=LOAN_BORROWERS
    )
    accounts = assemble_accounts(
        states.lazy(),
        borrowers.lazy(),
        pl.DataFrame(schema=SCORES).lazy(),
        pl.DataFrame(schema=HOLDS).lazy(),
        flags.lazy(),
        AS_OF,
        3,
    ).collect()
    expired = [d is not None and d < AS_OF for d in framed]
    assert accounts["limitation_expired"].to_list() == expired
