"""Penalty, late fees, the waterfall and prepayments, on hand-checked examples."""

from __future__ import annotations

from datetime import date, timedelta

from forbear.domain.ledger import Payment, build_schedule, run_ledger
from forbear.domain.products import (
    Component,
    EarlyPayment,
    PrepaymentRule,
    RepaymentMethod,
    WaterfallOrder,
)

from .factories import make_loan, make_product

DUE = date(2024, 2, 15)


def one_instalment(**product_overrides):
    """A 1,000 yuan, one-month, interest-free loan due on 15 Feb 2024."""
    loan = make_loan(principal=1_000_00, term_months=1, annual_rate_bp=0)
    values = {"annual_rate_bp": 0, "penalty_rate_bp": 360}  # 0.01% a day on 360 days
    values.update(product_overrides)
    product = make_product(**values)
    return loan, product, build_schedule(loan, product)


def pay(day, amount, payment_id=1):
    return Payment(payment_id, 1, day, amount)


def test_penalty_accrues_daily_on_unpaid_principal_after_the_due_date():
    loan, product, schedule = one_instalment()
    state = run_ledger(loan, product, schedule, [], DUE + timedelta(days=10)).state
    # 100000 fen * 10 days * 360 / (10000 * 360) = 100 fen
    assert state.overdue_penalty == 1_00
    assert state.overdue_principal == 1_000_00
    assert state.overdue_total == 1_001_00
    assert state.dpd == 10


def test_no_penalty_or_late_fee_within_grace_and_paying_on_the_last_grace_day_avoids_both():
    loan, product, schedule = one_instalment(grace_days=3, late_fee=50_00)
    result = run_ledger(
        loan, product, schedule, [pay(DUE + timedelta(days=3), 1_000_00)], DUE + timedelta(days=30)
    )
    assert result.state.status == "paid_off"
    assert result.state.overdue_total == 0
    assert [(a.component, a.amount) for a in result.allocations] == [("principal", 1_000_00)]


def test_late_fee_is_charged_once_anything_is_unpaid_after_grace():
    loan, product, schedule = one_instalment(grace_days=3, late_fee=50_00)
    result = run_ledger(
        loan, product, schedule, [pay(DUE + timedelta(days=4), 1_000_00)], DUE + timedelta(days=4)
    )
    # the payment first pays the day of penalty (from day 4) and the late fee
    assert [(a.component, a.amount) for a in result.allocations] == [
        ("penalty", 10),
        ("fee", 50_00),
        ("principal", 1_000_00 - 50_10),
    ]
    state = result.state
    assert state.overdue_principal == 50_10
    assert state.dpd == 4 and state.bucket == "M1"


def test_a_partial_payment_reduces_the_principal_that_bears_penalty():
    loan, product, schedule = one_instalment()
    payments = [pay(DUE + timedelta(days=10), 500_00 + 1_00)]  # penalty 100 fen then principal
    state = run_ledger(loan, product, schedule, payments, DUE + timedelta(days=20)).state
    # days 11..20 on 50000 fen: 50000 * 10 * 360 / 3600000 = 50 fen
    assert state.overdue_penalty == 50
    assert state.overdue_principal == 500_00


def two_overdue(waterfall):
    loan = make_loan(principal=2_000_00, term_months=2, annual_rate_bp=1200)
    product = make_product(
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        annual_rate_bp=1200,
        penalty_rate_bp=0,
        monthly_fee_bp=10,
        waterfall=waterfall,
    )
    schedule = build_schedule(loan, product)
    # seq 1: principal 100000, interest 2000, fee 200; seq 2: 100000, 1000, 200
    assert [(i.principal, i.interest, i.fee) for i in schedule] == [
        (1_000_00, 20_00, 2_00),
        (1_000_00, 10_00, 2_00),
    ]
    return loan, product, schedule, schedule[1].due_date + timedelta(days=1)


def test_instalment_first_pays_the_oldest_instalment_fully_before_the_next():
    loan, product, schedule, day = two_overdue(WaterfallOrder.INSTALMENT_FIRST)
    result = run_ledger(loan, product, schedule, [pay(day, 1_030_00)], day)
    assert [(a.seq, a.component, a.amount) for a in result.allocations] == [
        (1, "fee", 2_00),
        (1, "interest", 20_00),
        (1, "principal", 1_000_00),
        (2, "fee", 2_00),
        (2, "interest", 6_00),
    ]


def test_component_first_pays_a_component_across_instalments_before_the_next():
    loan, product, schedule, day = two_overdue(WaterfallOrder.COMPONENT_FIRST)
    result = run_ledger(loan, product, schedule, [pay(day, 1_030_00)], day)
    assert [(a.seq, a.component, a.amount) for a in result.allocations] == [
        (1, "fee", 2_00),
        (2, "fee", 2_00),
        (1, "interest", 20_00),
        (2, "interest", 10_00),
        (1, "principal", 996_00),
    ]


def test_the_component_order_comes_from_the_product():
    loan = make_loan(principal=1_000_00, term_months=1, annual_rate_bp=1200)
    order = (Component.PRINCIPAL, Component.INTEREST, Component.FEE, Component.PENALTY)
    product = make_product(annual_rate_bp=1200, components=order)
    schedule = build_schedule(loan, product)
    result = run_ledger(loan, product, schedule, [pay(DUE, 1_005_00)], DUE)
    assert [(a.component, a.amount) for a in result.allocations] == [
        ("principal", 1_000_00),
        ("interest", 5_00),
    ]


def twelve_months(
    prepayment, method=RepaymentMethod.EQUAL_INSTALMENT, early_payment=EarlyPayment.PREPAYMENT
):
    """12,000 yuan over 12 months at 18%: level payment 1,100.16 (interest 180.00 first).

    The re-amortisation examples take the ``prepayment`` early-payment rule, so that all
    money beyond what is due is prepaid principal.
    """
    loan = make_loan(principal=12_000_00, term_months=12, annual_rate_bp=1800)
    product = make_product(method=method, prepayment=prepayment, early_payment=early_payment)
    return loan, product, build_schedule(loan, product)


def test_shorten_term_keeps_the_level_payment_and_drops_the_last_instalments():
    loan, product, schedule = twelve_months(PrepaymentRule.SHORTEN_TERM)
    first = schedule[0]
    payment = pay(first.due_date, 1_100_16 + 3_000_00)
    result = run_ledger(loan, product, schedule, [payment], first.due_date)
    prepaid = [a for a in result.allocations if a.seq is None]
    assert [(a.component, a.amount) for a in prepaid] == [("principal", 3_000_00)]
    state = result.state
    assert state.outstanding_principal == 12_000_00 - first.principal - 3_000_00
    # the next instalment's interest is on the reduced balance for the whole period
    assert state.next_due_date == schedule[1].due_date
    balance = state.outstanding_principal
    assert state.next_due_amount == 1_100_16  # the level payment is kept
    assert balance * 15 // 1000 < 1_100_16


def test_lower_instalment_keeps_the_count_and_lowers_the_payment():
    loan, product, schedule = twelve_months(PrepaymentRule.LOWER_INSTALMENT)
    first = schedule[0]
    payment = pay(first.due_date, 1_100_16 + 3_000_00)
    state = run_ledger(loan, product, schedule, [payment], first.due_date).state
    assert state.next_due_amount is not None and state.next_due_amount < 1_100_16
    # paying the lowered amount every month for the 11 months pays the loan off
    later = run_ledger(loan, product, schedule, [payment], schedule[-1].due_date).state
    assert later.outstanding_principal == state.outstanding_principal
    assert later.next_due_date == schedule[-1].due_date  # still 11 instalments


def test_paying_more_than_all_principal_pays_off_and_leaves_a_credit():
    loan, product, schedule = twelve_months(PrepaymentRule.SHORTEN_TERM)
    first = schedule[0]
    owed_after_first = 12_000_00 - first.principal
    payment = pay(first.due_date, 1_100_16 + owed_after_first + 7_00)
    result = run_ledger(loan, product, schedule, [payment], first.due_date + timedelta(days=90))
    assert result.state.status == "paid_off"
    assert result.state.credit == 7_00
    assert result.state.outstanding_principal == 0 and result.state.dpd == 0
    assert [(a.seq, a.component, a.amount) for a in result.allocations][-2:] == [
        (None, "principal", owed_after_first),
        (None, "credit", 7_00),
    ]


LEVEL = 1_100_16


def test_paying_the_instalment_days_before_its_due_date_pays_that_instalment():
    """提前还当期: the current instalment is owed at an early payment; nothing is prepaid."""
    loan, product, schedule = twelve_months(
        PrepaymentRule.SHORTEN_TERM, early_payment=EarlyPayment.CURRENT_INSTALMENT
    )
    first = schedule[0]
    payments = [pay(first.due_date - timedelta(days=3), LEVEL)]
    result = run_ledger(loan, product, schedule, payments, first.due_date)
    assert [(a.seq, a.component, a.amount) for a in result.allocations] == [
        (1, "interest", 180_00),  # the scheduled interest of the whole period
        (1, "principal", LEVEL - 180_00),
    ]
    for days_after in (0, 1, 10, 20):
        state = run_ledger(
            loan, product, schedule, payments, first.due_date + timedelta(days=days_after)
        ).state
        assert state.dpd == 0 and state.bucket == "C"
        assert state.overdue_total == 0 and state.oldest_unpaid_due_date is None
        # not re-amortised: the next instalment is the contract's
        assert state.next_due_date == schedule[1].due_date
        assert state.next_due_amount == LEVEL
        assert state.outstanding_principal == 12_000_00 - first.principal


def test_a_partial_early_payment_pays_part_of_the_current_instalment_and_the_rest_is_due():
    loan, product, schedule = twelve_months(
        PrepaymentRule.SHORTEN_TERM, early_payment=EarlyPayment.CURRENT_INSTALMENT
    )
    first = schedule[0]
    payments = [pay(first.due_date - timedelta(days=5), 500_00)]
    state = run_ledger(loan, product, schedule, payments, first.due_date).state
    assert state.next_due_date == first.due_date
    assert state.next_due_amount == LEVEL - 500_00
    assert run_ledger(
        loan, product, schedule, payments, first.due_date + timedelta(days=1)
    ).state.overdue_principal == (LEVEL - 500_00)


def test_under_the_prepayment_rule_a_payment_before_the_due_date_is_a_prepayment():
    loan, product, schedule = twelve_months(
        PrepaymentRule.SHORTEN_TERM, early_payment=EarlyPayment.PREPAYMENT
    )
    first = schedule[0]
    payments = [pay(first.due_date - timedelta(days=3), LEVEL)]
    result = run_ledger(loan, product, schedule, payments, first.due_date)
    assert [(a.seq, a.component, a.amount) for a in result.allocations] == [
        (None, "principal", LEVEL)
    ]
    # the instalment itself is still due on its date, and overdue the day after
    assert result.state.next_due_date == first.due_date
    late = run_ledger(loan, product, schedule, payments, first.due_date + timedelta(days=1)).state
    assert late.dpd == 1 and late.bucket == "M1"


def test_an_early_payment_of_two_instalments_pays_the_current_one_and_prepays_the_rest():
    loan, product, schedule = twelve_months(
        PrepaymentRule.SHORTEN_TERM, early_payment=EarlyPayment.CURRENT_INSTALMENT
    )
    first = schedule[0]
    payments = [pay(first.due_date - timedelta(days=3), 2 * LEVEL)]
    result = run_ledger(loan, product, schedule, payments, first.due_date)
    assert [(a.seq, a.component, a.amount) for a in result.allocations] == [
        (1, "interest", 180_00),
        (1, "principal", LEVEL - 180_00),
        (None, "principal", LEVEL),
    ]
    state = result.state
    assert state.dpd == 0 and state.overdue_total == 0
    assert state.outstanding_principal == 12_000_00 - first.principal - LEVEL
    # shorten_term: the second instalment keeps the level payment, on the reduced balance
    assert state.next_due_date == schedule[1].due_date
    assert state.next_due_amount == LEVEL


def test_a_second_early_payment_once_the_current_instalment_is_paid_is_a_prepayment():
    """The next instalment becomes current only once this one's due date has passed."""
    loan, product, schedule = twelve_months(
        PrepaymentRule.LOWER_INSTALMENT, early_payment=EarlyPayment.CURRENT_INSTALMENT
    )
    due = schedule[0].due_date
    payments = [pay(due - timedelta(days=5), LEVEL, 1), pay(due - timedelta(days=2), 500_00, 2)]
    result = run_ledger(loan, product, schedule, payments, due)
    assert [(a.payment_id, a.seq, a.component, a.amount) for a in result.allocations][-1] == (
        2,
        None,
        "principal",
        500_00,
    )
    assert result.state.next_due_date == schedule[1].due_date
    assert result.state.next_due_amount is not None and result.state.next_due_amount < LEVEL


def test_component_first_pays_everything_due_before_the_current_instalment():
    """An exact payment on a due date leaves nothing overdue, whatever the waterfall."""
    loan, product, schedule, _ = two_overdue(WaterfallOrder.COMPONENT_FIRST)
    assert product.early_payment is EarlyPayment.CURRENT_INSTALMENT
    first = schedule[0]
    result = run_ledger(loan, product, schedule, [pay(first.due_date, 1_022_00)], first.due_date)
    assert {a.seq for a in result.allocations} == {1}
    later = schedule[1].due_date - timedelta(days=1)
    state = run_ledger(loan, product, schedule, [pay(first.due_date, 1_022_00)], later).state
    assert state.dpd == 0 and state.overdue_total == 0
    # with a little more, the rest goes to the current instalment, by the component order
    result = run_ledger(loan, product, schedule, [pay(first.due_date, 1_025_00)], first.due_date)
    assert [(a.seq, a.component, a.amount) for a in result.allocations][-2:] == [
        (2, "fee", 2_00),
        (2, "interest", 1_00),
    ]
