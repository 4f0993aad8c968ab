"""Matching payments to promises: the vectorised rule against the scalar specification
(``judge``) on generated promises and payments, and the invariants a collections team
relies on (kept means paid, more money never makes an outcome worse, decisions stay put)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain import promises as rules
from forbear.domain.errors import ValidationError
from forbear.domain.promises import DEFAULT_POLICY, PromisePolicy

D0 = date(2026, 3, 1)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def promise_frame(rows: list[dict[str, object]]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=rules.PROMISES).lazy()


def payment_frame(rows: list[tuple[int, int, date, datetime | None, int]]) -> pl.LazyFrame:
    return pl.DataFrame(
        [
            {"payment_id": pid, "loan_id": loan, "paid_on": day, "paid_at": moment, "amount": amt}
            for pid, loan, day, moment, amt in rows
        ],
        schema=rules.PROMISE_PAYMENTS,
    ).lazy()


def one(amount: int, taken: datetime, promised_on: date, pid: int = 1, loan: int = 7) -> dict:
    return {
        "promise_id": pid,
        "loan_id": loan,
        "amount": amount,
        "taken_at": taken,
        "taken_on": taken.date(),
        "promised_on": promised_on,
    }


def decide(promises: list[dict], payments: list, as_of: date, policy=DEFAULT_POLICY) -> dict:
    out = rules.match_promises(promise_frame(promises), payment_frame(payments), as_of, policy)
    return {row["promise_id"]: row for row in out.collect().iter_rows(named=True)}


# --- examples ------------------------------------------------------------------------------


def test_a_promise_paid_in_full_before_its_date_is_kept_on_the_day_of_the_payment() -> None:
    got = decide(
        [one(100_000, at(D0, 10), D0 + timedelta(days=5))],
        [
            (1, 7, D0 + timedelta(days=2), at(D0 + timedelta(days=2)), 60_000),
            (2, 7, D0 + timedelta(days=3), None, 40_000),
            (3, 7, D0 + timedelta(days=4), None, 5_000),
        ],
        as_of=D0 + timedelta(days=4),
    )[1]
    assert got["status"] == "kept"
    assert got["resolved_on"] == D0 + timedelta(days=3)
    assert got["amount_paid"] == 100_000  # what was paid by the end of the day it was kept


def test_the_tolerance_is_one_percent_or_ten_yuan_whichever_is_larger() -> None:
    assert DEFAULT_POLICY.tolerance(500_000) == 5_000  # 1% of ¥5,000 = ¥50
    assert DEFAULT_POLICY.tolerance(50_000) == 1_000  # ¥10 beats 1% of ¥500
    assert DEFAULT_POLICY.tolerance(5_000) == 500  # never more than 10% of the amount
    promises = [one(50_000, at(D0, 9), D0 + timedelta(days=3))]
    short_by_ten = [(1, 7, D0 + timedelta(days=1), None, 49_000)]
    short_by_more = [(1, 7, D0 + timedelta(days=1), None, 48_999)]
    late = D0 + timedelta(days=10)
    assert decide(promises, short_by_ten, late)[1]["status"] == "kept"
    assert decide(promises, short_by_more, late)[1]["status"] == "partly_kept"


def test_a_payment_earlier_on_the_day_the_promise_was_taken_does_not_count() -> None:
    promises = [one(30_000, at(D0, 15), D0 + timedelta(days=2))]
    before = [(1, 7, D0, at(D0, 9), 30_000)]
    after = [(1, 7, D0, at(D0, 16), 30_000)]
    undated = [(1, 7, D0, None, 30_000)]  # only the day is known: the day counts
    late = D0 + timedelta(days=9)
    assert decide(promises, before, late)[1]["status"] == "broken"
    assert decide(promises, after, late)[1]["status"] == "kept"
    assert decide(promises, undated, late)[1]["status"] == "kept"


def test_grace_days_count_and_then_the_promise_is_partly_kept_or_broken() -> None:
    promised = D0 + timedelta(days=5)
    promises = [one(100_000, at(D0), promised)]
    in_grace = [(1, 7, promised + timedelta(days=2), None, 100_000)]
    after_grace = [(1, 7, promised + timedelta(days=3), None, 100_000)]
    assert decide(promises, in_grace, promised + timedelta(days=9))[1]["status"] == "kept"
    got = decide(promises, after_grace, promised + timedelta(days=9))[1]
    assert (got["status"], got["amount_paid"]) == ("broken", 0)
    assert got["resolved_on"] == promised + timedelta(days=3)  # the day after the grace
    # on the last day of grace it is still open
    assert decide(promises, [], promised + timedelta(days=2))[1]["status"] == "open"
    assert decide(promises, [], promised + timedelta(days=3))[1]["status"] == "broken"


def test_a_token_payment_below_the_floor_is_broken_above_it_partly_kept() -> None:
    promises = [one(100_000, at(D0), D0 + timedelta(days=1))]
    late = D0 + timedelta(days=10)
    token = [(1, 7, D0 + timedelta(days=1), None, 9_999)]
    tenth = [(1, 7, D0 + timedelta(days=1), None, 10_000)]
    assert decide(promises, token, late)[1]["status"] == "broken"
    assert decide(promises, tenth, late)[1]["status"] == "partly_kept"
    assert decide(promises, tenth, late)[1]["amount_paid"] == 10_000


def test_payments_on_another_loan_never_count() -> None:
    got = decide(
        [one(10_000, at(D0), D0 + timedelta(days=1), loan=7)],
        [(1, 8, D0 + timedelta(days=1), None, 10_000)],
        D0 + timedelta(days=5),
    )
    assert got[1]["status"] == "broken"


def test_a_policy_with_a_negative_grace_or_bad_basis_points_is_refused() -> None:
    with pytest.raises(ValidationError, match="grace_days"):
        PromisePolicy(grace_days=-1)
    with pytest.raises(ValidationError, match="tolerance_bp"):
        PromisePolicy(tolerance_bp=10_001)


# --- properties ----------------------------------------------------------------------------

policies = st.builds(
    PromisePolicy,
    grace_days=st.integers(0, 4),
    tolerance_bp=st.integers(0, 500),
    tolerance_min=st.integers(0, 3_000),
    tolerance_cap_bp=st.integers(0, 2_000),
    partial_floor_bp=st.integers(0, 5_000),
)


@st.composite
def promise_cases(draw: st.DrawFn) -> tuple[list[dict], list, date]:
    n = draw(st.integers(1, 5))
    promises = []
    for pid in range(1, n + 1):
        day = D0 + timedelta(days=draw(st.integers(0, 10)))
        taken = at(day, draw(st.integers(0, 23)), draw(st.integers(0, 59)))
        promises.append(
            one(
                draw(st.integers(1, 300_000)),
                taken,
                day + timedelta(days=draw(st.integers(0, 20))),
                pid=pid,
                loan=draw(st.sampled_from([7, 8])),
            )
        )
    payments = []
    for pid in range(1, draw(st.integers(0, 10)) + 1):
        day = D0 + timedelta(days=draw(st.integers(0, 40)))
        moment = draw(st.none() | st.integers(0, 23).map(lambda h, d=day: at(d, h)))
        payments.append(
            (pid, draw(st.sampled_from([7, 8])), day, moment, draw(st.integers(1, 200_000)))
        )
    as_of = D0 + timedelta(days=draw(st.integers(0, 45)))
    return promises, payments, as_of


def scalar(promise: dict, payments: list, as_of: date, policy: PromisePolicy) -> rules.Decision:
    return rules.judge(
        amount=promise["amount"],
        taken_at=promise["taken_at"],
        taken_on=promise["taken_on"],
        promised_on=promise["promised_on"],
        payments=[
            (pid, day, moment, amt)
            for pid, loan, day, moment, amt in payments
            if loan == promise["loan_id"]
        ],
        as_of=as_of,
        policy=policy,
    )


@settings(max_examples=200, deadline=None)
@given(promise_cases(), policies)
def test_the_vectorised_rule_equals_the_scalar_specification(case, policy) -> None:
    promises, payments, as_of = case
    got = decide(promises, payments, as_of, policy)
    for promise in promises:
        want = scalar(promise, payments, as_of, policy)
        row = got[promise["promise_id"]]
        assert (row["status"], row["amount_paid"], row["resolved_on"], row["deadline"]) == (
            want.status.value,
            want.amount_paid,
            want.resolved_on,
            want.deadline,
        )


@settings(max_examples=200, deadline=None)
@given(promise_cases(), policies)
def test_kept_means_paid_at_least_the_amount_less_the_tolerance(case, policy) -> None:
    promises, payments, as_of = case
    got = decide(promises, payments, as_of, policy)
    for promise in promises:
        row = got[promise["promise_id"]]
        amount = promise["amount"]
        deadline = promise["promised_on"] + timedelta(days=policy.grace_days)
        if row["status"] == "kept":
            assert row["amount_paid"] >= amount - policy.tolerance(amount)
            assert row["amount_paid"] > 0
            assert promise["taken_on"] <= row["resolved_on"] <= min(deadline, as_of)
        elif row["status"] == "open":
            assert as_of <= deadline and row["resolved_on"] is None
        else:
            assert as_of > deadline and row["resolved_on"] == deadline + timedelta(days=1)
            assert row["amount_paid"] < amount - policy.tolerance(amount)
            assert (row["status"] == "partly_kept") == (row["amount_paid"] >= policy.floor(amount))


@settings(max_examples=150, deadline=None)
@given(promise_cases(), policies, st.integers(0, 40), st.integers(1, 200_000))
def test_another_payment_never_makes_an_outcome_worse(case, policy, offset, amount) -> None:
    promises, payments, as_of = case
    before = decide(promises, payments, as_of, policy)
    more = [*payments, (999, 7, D0 + timedelta(days=offset), None, amount)]
    after = decide(promises, more, as_of, policy)
    for pid, row in before.items():
        assert rules.RANK[after[pid]["status"]] >= rules.RANK[row["status"]]


@settings(max_examples=150, deadline=None)
@given(promise_cases(), policies, st.integers(1, 60))
def test_a_decision_once_made_stays_made_on_later_days(case, policy, later) -> None:
    promises, payments, as_of = case
    first = decide(promises, payments, as_of, policy)
    again = decide(promises, payments, as_of + timedelta(days=later), policy)
    for pid, row in first.items():
        if row["status"] != "open":
            assert again[pid] == row


@settings(max_examples=100, deadline=None)
@given(promise_cases(), policies, st.integers(1, 200_000))
def test_payments_outside_the_window_do_not_matter(case, policy, amount) -> None:
    promises, payments, as_of = case
    got = decide(promises, payments, as_of, policy)
    for promise in promises:
        deadline = promise["promised_on"] + timedelta(days=policy.grace_days)
        outside = [
            (901, promise["loan_id"], promise["taken_on"] - timedelta(days=1), None, amount),
            (
                902,
                promise["loan_id"],
                promise["taken_on"],
                promise["taken_at"] - timedelta(microseconds=1),
                amount,
            ),
            (903, promise["loan_id"], deadline + timedelta(days=1), None, amount),
        ]
        alone = decide([promise], [*payments, *outside], as_of, policy)
        assert alone[promise["promise_id"]] == got[promise["promise_id"]]


def test_an_empty_frame_of_promises_gives_an_empty_decision_frame() -> None:
    out = rules.match_promises(
        pl.DataFrame(schema=rules.PROMISES).lazy(), payment_frame([]), D0
    ).collect()
    assert out.is_empty() and out.schema == pl.Schema(rules.MATCHED)
