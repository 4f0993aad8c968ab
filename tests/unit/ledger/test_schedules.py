"""Contractual schedules: 等额本息, 等额本金, 先息后本, due dates and their invariants."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy_financial as npf
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from forbear.domain.ledger import build_schedule, products_frame, schedules
from forbear.domain.ledger.arith import level_payment
from forbear.domain.ledger.schedules import add_months, due_dates
from forbear.domain.money import Rounding
from forbear.domain.products import RepaymentMethod

from .factories import books_st, instalments_frame, loans_frame, make_loan, make_product


def test_level_payment_equals_numpy_financial_pmt_rounded_half_up_to_the_fen():
    for principal, rate_bp, n in [
        (12_000_00, 1800, 12),
        (5_000_00, 2400, 6),
        (200_000_00, 3599, 36),
        (100_00, 1, 1),
        (7_777_77, 1234, 24),
    ]:
        r = rate_bp / 12 / 10_000
        expected = Decimal(str(npf.pmt(r, n, -principal))).quantize(Decimal(1), ROUND_HALF_UP)
        assert level_payment(principal, rate_bp, n, Rounding.HALF_UP) == int(expected)


@settings(deadline=None, max_examples=100)
@given(
    principal=st.integers(100_00, 200_000_00),
    rate_bp=st.integers(1, 3600),
    n=st.sampled_from([1, 3, 6, 12, 24, 36]),
)
def test_level_payment_matches_pmt_for_any_loan(principal, rate_bp, n):
    pmt = npf.pmt(rate_bp / 120_000, n, -principal)
    # float pmt can only disagree when it sits within float error of a half fen
    if abs(pmt - int(pmt) - 0.5) > 1e-6:
        assert level_payment(principal, rate_bp, n, Rounding.HALF_UP) == int(pmt + 0.5)


def test_due_dates_keep_the_first_due_day_and_clamp_to_month_end():
    assert due_dates(date(2024, 1, 31), 4) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_equal_instalment_pays_a_level_amount_and_the_last_absorbs_the_remainder():
    loan = make_loan(principal=12_000_00, term_months=12, annual_rate_bp=1800)
    schedule = build_schedule(loan, make_product(method=RepaymentMethod.EQUAL_INSTALMENT))
    assert len(schedule) == 12
    # A = 12000 * 0.015 / (1 - 1.015^-12) = 1100.16 yuan
    assert schedule[0].interest == 180_00  # 12000 * 1.5%
    assert schedule[0].principal == 1100_16 - 180_00
    assert all(i.principal + i.interest == 1100_16 for i in schedule[:-1])
    assert schedule[1].interest == 166_20  # (1200000 - 92016) * 0.015 = 16619.76 fen
    assert sum(i.principal for i in schedule) == 12_000_00
    # the last takes the remaining balance 1083.93 and its interest round(108393 * 0.015)
    assert (schedule[-1].principal, schedule[-1].interest) == (1083_93, 16_26)


def test_equal_principal_repays_the_same_principal_with_interest_on_the_balance():
    loan = make_loan(principal=12_000_00, term_months=12, annual_rate_bp=1800)
    schedule = build_schedule(loan, make_product(method=RepaymentMethod.EQUAL_PRINCIPAL))
    assert [i.principal for i in schedule] == [1_000_00] * 12
    assert [i.interest for i in schedule] == [15 * (12 - k) * 100 for k in range(12)]


def test_interest_only_charges_interest_monthly_and_principal_at_the_end():
    loan = make_loan(principal=12_000_00, term_months=6, annual_rate_bp=1800)
    schedule = build_schedule(loan, make_product(method=RepaymentMethod.INTEREST_ONLY))
    assert [i.interest for i in schedule] == [180_00] * 6
    assert [i.principal for i in schedule] == [0] * 5 + [12_000_00]


def test_zero_rate_equal_instalment_divides_principal_and_the_last_absorbs():
    loan = make_loan(principal=100_00, term_months=3, annual_rate_bp=0)
    schedule = build_schedule(loan, make_product(annual_rate_bp=0))
    assert [(i.principal, i.interest) for i in schedule] == [(33_33, 0), (33_33, 0), (33_34, 0)]


def test_monthly_fee_is_basis_points_of_the_original_principal_every_instalment():
    loan = make_loan(principal=12_000_00, term_months=3)
    schedule = build_schedule(loan, make_product(monthly_fee_bp=30))
    assert [i.fee for i in schedule] == [36_00] * 3


def test_rounding_follows_the_product():
    loan = make_loan(principal=1_00, term_months=1, annual_rate_bp=600)  # interest 0.5 fen
    up = build_schedule(loan, make_product(rounding=Rounding.HALF_UP))
    even = build_schedule(loan, make_product(rounding=Rounding.HALF_EVEN))
    down = build_schedule(loan, make_product(rounding=Rounding.DOWN))
    assert (up[0].interest, even[0].interest, down[0].interest) == (1, 0, 0)


@settings(deadline=None, max_examples=60)
@given(books_st())
def test_schedule_principal_sums_to_the_loan_principal(book):
    for loan in book["loans"]:
        rows = [i for i in book["instalments"] if i.loan_id == loan.loan_id]
        assert sum(i.principal for i in rows) == loan.principal
        assert all(i.principal >= 0 and i.interest >= 0 for i in rows)
        assert [i.seq for i in rows] == list(range(1, loan.term_months + 1))


@settings(deadline=None, max_examples=60)
@given(books_st())
def test_vectorised_schedules_equal_the_scalar_schedules(book):
    built = schedules(
        loans_frame(book["loans"]).lazy(),
        products_frame(list(book["products"].values())).lazy(),
    ).collect()
    expected = instalments_frame(book["instalments"]).sort("loan_id", "seq")
    assert_frame_equal(built, expected)


def test_products_frame_follows_the_products_contract():
    frame = products_frame([make_product(), make_product(code="X", late_fee=5)])
    assert frame.height == 2
    assert frame["components"][0] == "penalty,fee,interest,principal"
    assert frame.schema["late_fee"] == pl.Int64
