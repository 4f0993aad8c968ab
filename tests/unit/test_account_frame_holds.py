"""The ACCOUNT frame's ``hold_any`` and ``hardship`` (forbear.services.accounts) follow the
one definition of an open hold and of what it does (forbear.domain.holds), row by row on
generated holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain.compliance.schema import FLAGS, HOLDS, HoldKind
from forbear.domain.holds import HARDSHIP_KINDS, covers, hold_open, stops_work
from forbear.domain.ledger import schema as ledger
from forbear.services.accounts import assemble_accounts, day_end
from forbear.store.bulk import LOAN_BORROWERS, SCORES

AS_OF = date(2026, 11, 27)
AT = day_end(AS_OF)
LOANS = {1: 10, 2: 10, 3: 20}  # loan -> borrower

moments = st.integers(-3, 3).map(lambda d: AT + timedelta(days=d, seconds=d % 2))
holds = st.tuples(
    st.sampled_from([10, 20]),
    st.sampled_from([None, 1, 2, 3]),
    st.sampled_from([k.value for k in HoldKind]),
    st.sampled_from([None, "sms"]),
    st.sampled_from([None, 99]),
    moments,
    st.none() | moments,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(holds, max_size=8))
def test_hold_flags_follow_the_domain_rules(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    # a hold on one loan is of that loan's borrower (as the use cases store it)
    rows = [(LOANS[h[1]] if h[1] is not None else h[0], *h[1:]) for h in rows]
    frame = pl.DataFrame(rows, schema=HOLDS, orient="row")
    ids = list(LOANS)
    states = pl.DataFrame(
        {name: [None] * len(ids) for name in ledger.STATES}, schema=ledger.STATES
    ).with_columns(pl.Series("loan_id", ids, pl.Int64), pl.lit(AS_OF).alias("as_of"))
    borrowers = pl.DataFrame(
        {"loan_id": ids, "borrower_id": [LOANS[i] for i in ids]}, schema=LOAN_BORROWERS
    )
    flags = pl.DataFrame(schema=FLAGS)
    accounts = assemble_accounts(
        states.lazy(),
        borrowers.lazy(),
        pl.DataFrame(schema=SCORES).lazy(),
        frame.lazy(),
        flags.lazy(),
        AS_OF,
    ).collect()
    for loan in ids:
        mine = [
            h
            for h in rows
            if h[0] == LOANS[loan] and covers(h[1], loan) and hold_open(h[5], h[6], AT)
        ]
        row = accounts.filter(pl.col("loan_id") == loan).row(0, named=True)
        assert row["hold_any"] == any(stops_work(h[2], h[3], h[4]) for h in mine), (loan, mine)
        assert row["hardship"] == any(h[2] in HARDSHIP_KINDS for h in mine)


def test_day_end_is_the_last_second_of_the_day() -> None:
    assert day_end(AS_OF) == datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC)
