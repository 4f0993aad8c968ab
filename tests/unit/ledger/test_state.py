"""Account state: dpd, buckets, money conservation, and vectorised == scalar on whole books."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import (
    DEFAULT_BUCKETS,
    SMALL_BOOK,
    BucketScheme,
    Payment,
    account_states,
    build_schedule,
    products_frame,
    run_ledger,
)
from forbear.domain.ledger.allocation import LoanBook
from forbear.domain.ledger.schema import ALLOCATIONS, STATES

from .factories import (
    ALLOCATION_ORDER,
    books_st,
    instalments_frame,
    loans_frame,
    make_loan,
    make_product,
    payments_frame,
    scalar_book,
    vectorised_book,
)

BOOK_SETTINGS = settings(
    deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "C"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (90, "M3"),
        (91, "M4"),
        (180, "M6"),
        (181, "M7+"),
    ],
)
def test_default_buckets_follow_the_30_day_edges(dpd, bucket):
    assert DEFAULT_BUCKETS.label(dpd) == bucket
    assert pl.select(DEFAULT_BUCKETS.expr(pl.lit(dpd))).item() == bucket


def test_a_bucket_scheme_needs_one_label_more_than_edges():
    with pytest.raises(ValueError, match="one label more"):
        BucketScheme(edges=(0, 30), labels=("C", "M1"))


def test_dpd_counts_from_the_oldest_unpaid_instalment_once_past_grace():
    loan = make_loan(principal=3_000_00, term_months=3)
    product = make_product(grace_days=3)
    schedule = build_schedule(loan, product)
    first = schedule[0].due_date
    assert run_ledger(loan, product, schedule, [], first + timedelta(days=3)).state.dpd == 0
    state = run_ledger(loan, product, schedule, [], schedule[1].due_date + timedelta(days=5)).state
    assert state.dpd == (schedule[1].due_date - first).days + 5
    assert state.oldest_unpaid_due_date == first
    assert state.next_due_date == schedule[2].due_date
    assert state.status == "active"


def test_written_off_status_wins_from_the_write_off_date():
    loan = make_loan(written_off_on=date(2024, 6, 1))
    product = make_product()
    schedule = build_schedule(loan, product)
    assert run_ledger(loan, product, schedule, [], date(2024, 5, 31)).state.status == "active"
    assert run_ledger(loan, product, schedule, [], date(2024, 6, 1)).state.status == "written_off"


def test_loans_starting_after_as_of_are_left_out_of_the_book():
    early, late = make_loan(loan_id=1), make_loan(loan_id=2, start_date=date(2024, 3, 1))
    product = make_product()
    book = {
        "products": {product.code: product},
        "loans": [early, late],
        "instalments": build_schedule(early, product) + build_schedule(late, product),
        "payments": [],
        "as_of": date(2024, 2, 1),
    }
    states, allocations = vectorised_book(book)
    assert states["loan_id"].to_list() == [1]
    assert allocations.is_empty()


@pytest.mark.parametrize("small", [0, SMALL_BOOK], ids=["vectorised", "scalar"])
def test_the_vectorised_book_returns_exactly_the_contract_columns(small: int):
    loan, product = make_loan(), make_product()
    result = account_states(
        loans_frame([loan]).lazy(),
        products_frame([product]).lazy(),
        instalments_frame(build_schedule(loan, product)).lazy(),
        payments_frame([Payment(1, 1, date(2024, 2, 15), 1_100_16)]).lazy(),
        date(2024, 4, 1),
        small=small,
    )
    assert result.states.collect().schema == pl.Schema(STATES)
    assert result.allocations.collect().schema == pl.Schema(ALLOCATIONS)


@pytest.mark.parametrize("small", [0, SMALL_BOOK], ids=["vectorised", "scalar"])
def test_a_custom_bucket_scheme_is_used_by_both_paths(small: int):
    scheme = BucketScheme(edges=(0, 7), labels=("current", "early", "late"))
    loan, product = make_loan(), make_product()
    schedule = build_schedule(loan, product)
    as_of = schedule[0].due_date + timedelta(days=10)
    assert run_ledger(loan, product, schedule, [], as_of, scheme).state.bucket == "late"
    states = account_states(
        loans_frame([loan]).lazy(),
        products_frame([product]).lazy(),
        instalments_frame(schedule).lazy(),
        payments_frame([]).lazy(),
        as_of,
        scheme,
        small=small,
    ).states.collect()
    assert states["bucket"].to_list() == ["late"]


# ---------------------------------------------------------------------------- properties


@BOOK_SETTINGS
@given(books_st())
def test_vectorised_states_and_allocations_equal_the_scalar_ledger(book):
    scalar_states, scalar_allocations = scalar_book(book)
    states, allocations = vectorised_book(book)
    assert_frame_equal(states, scalar_states)
    assert_frame_equal(
        allocations.sort(ALLOCATION_ORDER, nulls_last=True),
        scalar_allocations.sort(ALLOCATION_ORDER, nulls_last=True),
    )


@BOOK_SETTINGS
@given(books_st())
def test_money_is_conserved(book):
    states, allocations = scalar_book(book)
    as_of = book["as_of"]
    paid: dict[int, int] = defaultdict(int)
    for p in book["payments"]:
        if p.paid_on <= as_of:
            paid[p.loan_id] += p.amount
    allocated = dict(allocations.group_by("loan_id").agg(pl.col("amount").sum()).iter_rows())
    principal_paid = dict(
        allocations.filter(pl.col("component") == "principal")
        .group_by("loan_id")
        .agg(pl.col("amount").sum())
        .iter_rows()
    )
    principal = {loan.loan_id: loan.principal for loan in book["loans"]}
    for state in states.iter_rows(named=True):
        loan_id = state["loan_id"]
        # every fen paid is allocated somewhere (credit included)
        assert allocated.get(loan_id, 0) == paid.get(loan_id, 0) == state["paid_total"]
        # principal is either paid or still outstanding
        assert principal_paid.get(loan_id, 0) + state["outstanding_principal"] == principal[loan_id]
        assert state["overdue_total"] == sum(
            state[f"overdue_{c}"] for c in ("principal", "interest", "fee", "penalty")
        )


@st.composite
def overdue_loans(draw):
    product = make_product(
        grace_days=draw(st.sampled_from([0, 3])),
        late_fee=draw(st.sampled_from([0, 20_00])),
        penalty_rate_bp=draw(st.sampled_from([0, 3650])),
    )
    loan = make_loan(
        principal=draw(st.integers(100_00, 50_000_00)), term_months=draw(st.sampled_from([3, 12]))
    )
    schedule = build_schedule(loan, product)
    as_of = schedule[0].due_date + timedelta(days=draw(st.integers(0, 200)))
    return loan, product, schedule, as_of


@settings(deadline=None, max_examples=60)
@given(overdue_loans(), st.integers(1, 60))
def test_without_payments_dpd_grows_one_day_per_day_once_past_grace(case, extra_days):
    loan, product, schedule, as_of = case
    before = run_ledger(loan, product, schedule, [], as_of).state
    after = run_ledger(loan, product, schedule, [], as_of + timedelta(days=extra_days)).state
    next_day = run_ledger(loan, product, schedule, [], as_of + timedelta(days=1)).state
    assert after.dpd >= before.dpd
    if before.dpd > 0:
        assert after.dpd == before.dpd + extra_days
        assert next_day.dpd == before.dpd + 1
        assert after.overdue_total >= before.overdue_total


@settings(deadline=None, max_examples=60)
@given(overdue_loans())
def test_paying_everything_due_brings_dpd_to_zero(case):
    loan, product, schedule, as_of = case
    book = LoanBook.open(loan, product, schedule)
    book.advance(as_of)
    due = sum(line.unpaid_total for line in book.lines if line.due_date <= as_of)
    payment = Payment(1, loan.loan_id, as_of, due)
    state = run_ledger(loan, product, schedule, [payment], as_of).state
    assert state.dpd == 0
    assert state.bucket == "C"
    assert state.overdue_total == 0
    assert state.oldest_unpaid_due_date is None
    assert state.credit == 0


def test_a_loan_naming_an_unknown_product_is_refused_not_dropped():
    loan = make_loan(product_code="NOPE")
    with pytest.raises(ValidationError, match="NOPE"):
        account_states(
            loans_frame([loan]).lazy(),
            products_frame([make_product()]).lazy(),
            instalments_frame(build_schedule(loan, make_product())).lazy(),
            payments_frame([]).lazy(),
            date(2024, 6, 1),
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books_st(max_loans=12))
def test_a_small_book_through_the_scalar_path_equals_the_vectorised_path(
    book: dict[str, Any],
) -> None:
    """The small-book path (:data:`SMALL_BOOK`: one borrower's situation, the plan
    checks) gives the vectorised path's states and allocations, integer for integer."""
    states, allocations = vectorised_book(book)
    small_states, small_allocations = vectorised_book(book, small=SMALL_BOOK)
    assert_frame_equal(states, small_states)
    order = ["loan_id", "payment_id", "seq", "component"]
    assert_frame_equal(
        allocations.sort(order, nulls_last=True), small_allocations.sort(order, nulls_last=True)
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books_st(max_loans=12), partitions=st.integers(2, 5))
def test_partitioned_states_equal_the_whole_book_at_once(
    book: dict[str, Any], partitions: int
) -> None:
    from forbear.domain.ledger import account_states_partitioned, products_frame

    whole_states, whole_allocations = vectorised_book(book)
    parts = account_states_partitioned(
        loans_frame(book["loans"]).lazy(),
        products_frame(list(book["products"].values())).lazy(),
        instalments_frame(book["instalments"]).lazy(),
        payments_frame(book["payments"]).lazy(),
        book["as_of"],
        partitions=partitions,
    )
    assert_frame_equal(whole_states.sort("loan_id"), parts.states.collect())
    assert_frame_equal(
        whole_allocations.sort(ALLOCATION_ORDER, nulls_last=True),
        parts.allocations.collect().sort(ALLOCATION_ORDER, nulls_last=True),
    )
