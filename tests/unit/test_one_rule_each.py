"""One definition each (issue 12): every rule the borrower situation reads has a scalar
form and a vectorised (Polars) form, and they agree row by row on generated data:
a hold open at t (and what it stops), limitation (the date and time-barred), an active
plan, an active promise and broken promises in 90 days, yuan text to fen. Where the old
copies disagreed, a test pins the side chosen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain.compliance.schema import HOLDS, HoldKind
from forbear.domain.errors import ValidationError
from forbear.domain.holds import covers, hold_open, hold_open_expr, stops_work, stops_work_expr
from forbear.domain.intake.parse import amount_fen
from forbear.domain.legal.limitation import (
    limitation_date,
    limitation_date_expr,
    time_barred,
    time_barred_expr,
)
from forbear.domain.money import parse_yuan
from forbear.domain.plans.flags import PLAN_RULES, active_plans, is_active_plan
from forbear.domain.promises import (
    DEFAULT_POLICY,
    RECORDS,
    PromiseStatus,
    is_active_promise,
    is_broken_recently,
    promise_flags,
)

AS_OF = date(2026, 11, 27)
T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
moments = st.integers(-72, 72).map(lambda h: T0 + timedelta(hours=h))
days = st.integers(-400, 60).map(lambda d: AS_OF + timedelta(days=d))


# ------------------------------------------------------------------ hold open at t


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            moments,
            st.one_of(st.none(), moments),
            st.sampled_from([k.value for k in HoldKind]),
            st.one_of(st.none(), st.sampled_from(["sms", "call"])),
            st.one_of(st.none(), st.just(7)),
            st.one_of(st.none(), st.integers(1, 3)),
        ),
        min_size=1,
        max_size=30,
    ),
    moments,
)
def test_hold_open_and_what_it_stops_agree_row_by_row(rows, at) -> None:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame(
        {
            "borrower_id": [1] * len(rows),
            "loan_id": [r[5] for r in rows],
            "kind": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
            "contact_point_id": [r[4] for r in rows],
            "since": [r[0] for r in rows],
            "until": [r[1] for r in rows],
        },
        schema=HOLDS,
    )
    got = frame.select(open=hold_open_expr(at), stops=stops_work_expr())
    for row, out in zip(rows, got.iter_rows(named=True), strict=True):
        assert out["open"] == hold_open(row[0], row[1], at)
        assert out["stops"] == stops_work(row[2], row[3], row[4])


def test_a_hold_released_later_is_still_open_and_one_not_begun_is_not() -> None:
    # the portal's old copy (until IS NULL only) said the opposite of both
    assert hold_open(T0 - timedelta(days=1), T0 + timedelta(days=1), T0)
    assert not hold_open(T0 + timedelta(hours=1), None, T0)
    assert not hold_open(T0 - timedelta(days=1), T0, T0)  # until is the first moment it ends
    assert covers(None, 5) and covers(5, 5) and not covers(4, 5)


# ------------------------------------------------------------------ limitation


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2027, 12, 31))),
            st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2027, 12, 31))),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 5),
    st.dates(date(2022, 1, 1), date(2032, 12, 31)),
)
def test_limitation_date_and_time_barred_agree_row_by_row(rows, years, on) -> None:  # type: ignore[no-untyped-def]
    demands = [
        None if d is None else datetime(d.year, d.month, d.day, 9, tzinfo=UTC) for _, d in rows
    ]
    frame = pl.DataFrame(
        {"last_due_date": [r[0] for r in rows], "last_demand_at": demands},
        schema={"last_due_date": pl.Date(), "last_demand_at": pl.Datetime("us", "UTC")},
    ).with_columns(limitation_date_expr(years))
    got = frame.with_columns(barred=time_barred_expr(pl.col("limitation_date"), on))
    for (due, _), demand, out in zip(rows, demands, got.iter_rows(named=True), strict=True):
        expected = limitation_date(due, demand, years)
        assert out["limitation_date"] == expected
        assert out["barred"] == time_barred(expected, on)


def test_the_limitation_date_itself_is_not_yet_barred() -> None:
    assert not time_barred(AS_OF, AS_OF)
    assert time_barred(AS_OF, AS_OF + timedelta(days=1))
    assert not time_barred(None, AS_OF)


# ------------------------------------------------------------------ active plan

plan_rows = st.tuples(
    st.sampled_from(["offered", "accepted", "active", "completed", "broken", "cancelled"]),
    st.one_of(st.none(), days),
    st.sampled_from(["active", "paid_off", "written_off"]),
    st.one_of(st.none(), days),
    st.integers(0, 50_000),
    st.integers(0, 40),
    st.integers(0, 10_000),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(plan_rows, min_size=1, max_size=25))
def test_active_plan_agrees_row_by_row(rows) -> None:  # type: ignore[no-untyped-def]
    ids = list(range(1, len(rows) + 1))
    plans = pl.DataFrame(
        {
            "plan_id": ids,
            "loan_id": ids,
            "status": [r[0] for r in rows],
            "start_date": [r[1] for r in rows],
            "days_late": [r[5] for r in rows],
            "tolerance": [r[6] for r in rows],
        },
        schema=PLAN_RULES,
    )
    states = pl.DataFrame(
        {
            "loan_id": ids,
            "status": [r[2] for r in rows],
            "oldest_unpaid_due_date": [r[3] for r in rows],
            "overdue_total": [r[4] for r in rows],
        },
        schema={
            "loan_id": pl.Int64(),
            "status": pl.String(),
            "oldest_unpaid_due_date": pl.Date(),
            "overdue_total": pl.Int64(),
        },
    )
    got = active_plans(plans.lazy(), states.lazy(), AS_OF).collect()
    assert got["loan_id"].to_list() == ids
    for row, flag in zip(rows, got["active_plan"].to_list(), strict=True):
        assert flag == is_active_plan(
            AS_OF,
            plan_status=row[0],
            start_date=row[1],
            loan_status=row[2],
            oldest_unpaid_due_date=row[3],
            overdue_total=row[4],
            days_late=row[5],
            tolerance=row[6],
        )


def test_an_offered_plan_is_not_an_active_plan() -> None:
    # the script panel's old copy counted offered plans; a plan governs only once accepted
    common = dict(
        start_date=AS_OF,
        loan_status="active",
        oldest_unpaid_due_date=None,
        overdue_total=0,
        days_late=10,
        tolerance=0,
    )
    assert not is_active_plan(AS_OF, plan_status="offered", **common)  # type: ignore[arg-type]
    assert is_active_plan(AS_OF, plan_status="accepted", **common)  # type: ignore[arg-type]


# ------------------------------------------------------------------ promises

promise_rows = st.tuples(
    st.integers(1, 4),  # loan
    days,  # taken_on
    days,  # promised_on
    st.sampled_from([s.value for s in PromiseStatus]),
    st.one_of(st.none(), days),  # resolved_on
)


@settings(max_examples=60, deadline=None)
@given(st.lists(promise_rows, min_size=1, max_size=30))
def test_promise_flags_agree_with_their_scalar_twins(rows) -> None:  # type: ignore[no-untyped-def]
    records = pl.DataFrame(
        {
            "promise_id": list(range(1, len(rows) + 1)),
            "loan_id": [r[0] for r in rows],
            "source": ["agent"] * len(rows),
            "amount": [100] * len(rows),
            "taken_on": [r[1] for r in rows],
            "promised_on": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "amount_paid": [0] * len(rows),
            "resolved_on": [r[4] for r in rows],
        },
        schema=RECORDS,
    )
    got = {
        r["loan_id"]: r
        for r in promise_flags(records.lazy(), AS_OF, DEFAULT_POLICY).collect().to_dicts()
    }
    for loan in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == loan and r[1] <= AS_OF]
        if not mine:
            assert loan not in got
            continue
        active = any(is_active_promise(r[1], r[2], r[4], AS_OF, DEFAULT_POLICY) for r in mine)
        broken = sum(is_broken_recently(r[3], r[2], r[4], AS_OF, DEFAULT_POLICY) for r in mine)
        assert (got[loan]["active_promise"], got[loan]["broken_promises_90d"]) == (active, broken)


def test_broken_promises_count_by_promise_date_not_by_resolution_date() -> None:
    # promised 100 days ago, found broken 10 days ago: not within 90 days (docs/promises.md)
    old = AS_OF - timedelta(days=100)
    assert not is_broken_recently("broken", old, AS_OF - timedelta(days=10), AS_OF, DEFAULT_POLICY)
    recent = AS_OF - timedelta(days=20)
    assert is_broken_recently("broken", recent, AS_OF - timedelta(days=10), AS_OF, DEFAULT_POLICY)


# ------------------------------------------------------------------ yuan text to fen


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 10**11),
    st.sampled_from(["", "0", "00"]),
    st.sampled_from(["", "¥", "￥"]),
    st.booleans(),
)
def test_yuan_parsing_agrees_row_by_row(fen, _pad, sign, commas) -> None:  # type: ignore[no-untyped-def]
    yuan, cents = divmod(fen, 100)
    whole = f"{yuan:,}" if commas else str(yuan)
    texts = [f"{sign}{whole}.{cents:02d}", f"{sign}{whole}"]
    if cents % 10 == 0:
        texts.append(f"{sign}{whole}.{cents // 10}")
    frame = pl.DataFrame({"amount": texts})
    value, reason = amount_fen("amount", allow_zero=True)
    got = frame.select(value=value, reason=reason)
    for text, out in zip(texts, got.iter_rows(named=True), strict=True):
        assert out["reason"] is None, text
        assert out["value"] == parse_yuan(text)


@pytest.mark.parametrize("text", ["1e3", "1.234", "abc", "", "1.2.3"])
def test_what_is_not_an_amount_in_yuan(text: str) -> None:
    # the collection pages' old copy took "1e3" as a thousand yuan
    with pytest.raises(ValidationError):
        parse_yuan(text)
    value, reason = amount_fen("amount")
    out = pl.DataFrame({"amount": [text]}).select(value=value, reason=reason).row(0, named=True)
    assert out["value"] is None
