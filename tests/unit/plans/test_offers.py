"""Plan calculators: schedules from the ledger's position, money conserved, refusals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.ledger.schedules import add_months, amortise, level_for
from forbear.domain.money import Rounding
from forbear.domain.plans import LineKind, PlanOffer, PlanRequest, PlanType, affordability
from forbear.domain.plans.offers import build_offer, next_regular_due, payoff
from forbear.domain.products import RepaymentMethod

from .helpers import loan, policy, position, product

COMPONENTS = ("principal", "interest", "fee", "penalty")
TREAT = policy().treatment_for("CASH")
# L0001 misses its first two instalments (15 Feb and 15 Mar 2026): 40 days late on 27 Mar
BASE = date(2026, 3, 27)


def assert_conserved(offer: PlanOffer) -> None:
    for name in COMPONENTS:
        left = sum(
            getattr(x, name)
            for x in (offer.scheduled, offer.waived, offer.discount, offer.released)
        )
        right = getattr(offer.covered, name) + (offer.added_interest if name == "interest" else 0)
        assert left == right, name


def offer(kind: PlanType, pos_date: date = BASE, **fields: int) -> PlanOffer:
    pos, _, _ = position(pos_date)
    return build_offer(pos, PlanRequest(kind, **fields), policy(), TREAT)


def test_the_position_is_the_ledgers() -> None:
    pos, schedule, _ = position(BASE)
    assert [ln.seq for ln in pos.overdue] == [1, 2]
    assert pos.dpd == 40
    assert pos.overdue_amounts.principal == schedule[0].principal + schedule[1].principal
    assert pos.overdue_amounts.penalty > 0
    assert pos.total.principal == 12_000_00


def test_a_deferral_moves_every_unpaid_instalment_by_n_months_with_interest_for_them() -> None:
    pos, _, _ = position(BASE)
    plan = offer(PlanType.DEFERRAL, months=2)
    moved = [ln.due_date for ln in plan.lines]
    assert moved == [add_months(ln.due_date, 2) for ln in (*pos.overdue, *pos.future)]
    # 2 months of 18%/12 on 12,000 yuan: 2 x 180 yuan
    assert plan.added_interest == 2 * 180_00
    assert all(ln.kind is LineKind.PLAN for ln in plan.lines)
    assert_conserved(plan)


def test_a_deferral_that_leaves_an_instalment_overdue_is_refused() -> None:
    with pytest.raises(ValidationError, match="offer a restructuring instead"):
        offer(PlanType.DEFERRAL, months=1)


def test_deferral_without_interest_adds_none() -> None:
    pos, _, _ = position(BASE)
    plan = build_offer(
        pos, PlanRequest(PlanType.DEFERRAL, months=2), policy(), policy().treatment_for("SHORT")
    )
    assert plan.added_interest == 2 * 180_00  # SHORT accrues too
    plain = build_offer(
        pos,
        PlanRequest(PlanType.DEFERRAL, months=2),
        policy(),
        TREAT.model_copy(update={"deferral_interest": "none"}),
    )
    assert plain.added_interest == 0
    assert plain.scheduled.total == pos.total.total


def test_a_restructuring_amortises_the_overdue_principal_with_the_ledgers_schedule_code() -> None:
    pos, _, _ = position(BASE)
    plan = offer(PlanType.RESTRUCTURE, instalments=6, waive_penalty_pct=50)
    own = plan.own_lines
    overdue = pos.overdue_amounts
    level = level_for(
        RepaymentMethod.EQUAL_INSTALMENT, overdue.principal, 1800, 6, Rounding.HALF_UP
    )
    rows = amortise(
        overdue.principal, level, RepaymentMethod.EQUAL_INSTALMENT, 1800, 6, Rounding.HALF_UP
    )
    assert [ln.principal for ln in own] == [p for p, _ in rows]
    each = overdue.interest // 6
    assert [ln.interest for ln in own[:-1]] == [i + each for _, i in rows[:-1]]
    # first due on the loan's day of the month, at least 7 days after the offer
    assert [ln.due_date for ln in own] == [add_months(date(2026, 4, 15), k) for k in range(6)]
    assert plan.waived.penalty == overdue.penalty // 2
    # the contract instalments not yet due are kept as they were
    kept = [ln for ln in plan.lines if ln.kind is LineKind.CONTRACT]
    assert [(ln.due_date, ln.principal) for ln in kept] == [
        (ln.due_date, ln.unpaid.principal) for ln in pos.future
    ]
    assert_conserved(plan)


def test_a_restructuring_needs_something_overdue() -> None:
    with pytest.raises(Conflict, match="nothing overdue"):
        offer(PlanType.RESTRUCTURE, pos_date=date(2026, 2, 1), instalments=3)


def test_a_settlement_is_one_payment_of_the_payoff_less_a_discount_of_charges_first() -> None:
    pos, _, _ = position(BASE)
    owed, released = payoff(pos)
    plan = offer(PlanType.SETTLEMENT, discount_pct=10)
    (line,) = plan.lines
    assert line.due_date == date(2026, 4, 11)  # within 15 days
    assert plan.discount.total == owed.total * 10 // 100
    # penalty, then fees, then interest go first; principal only when they are used up
    assert plan.discount.penalty == min(owed.penalty, plan.discount.total)
    assert line.total == owed.total - plan.discount.total
    assert released.interest > 0 and plan.released == released
    assert_conserved(plan)


def test_hardship_reduces_the_next_payments_and_spreads_the_rest() -> None:
    pos, _, _ = position(BASE)
    plan = offer(PlanType.HARDSHIP, months=3, payment_share_pct=50)
    reduced = pos.regular_payment * 50 // 100
    assert [ln.total for ln in plan.lines[:3]] == [reduced] * 3
    assert len(plan.lines) == 3 + max(len(pos.future), policy().hardship_min_catch_up_months)
    assert plan.added_interest == 0
    assert_conserved(plan)


def test_no_plan_on_a_paid_off_or_written_off_loan() -> None:
    big = [(date(2026, 2, 1), 20_000_00)]
    pos, _, _ = position(BASE, big)
    assert pos.status == "paid_off"
    with pytest.raises(Conflict, match="paid off"):
        build_offer(pos, PlanRequest(PlanType.SETTLEMENT), policy(), TREAT)
    pos, _, _ = position(BASE, terms=loan(written_off_on=date(2026, 3, 1)))
    with pytest.raises(Conflict, match="written off"):
        build_offer(pos, PlanRequest(PlanType.SETTLEMENT), policy(), TREAT)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (PlanRequest(PlanType.DEFERRAL, months=0), "months"),
        (PlanRequest(PlanType.RESTRUCTURE, instalments=0), "instalments"),
        (PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=101), "waive"),
        (PlanRequest(PlanType.SETTLEMENT, discount_pct=100), "discount_pct"),
        (PlanRequest(PlanType.HARDSHIP, months=2, payment_share_pct=0), "payment_share_pct"),
    ],
)
def test_bad_requests_name_the_field(request_: PlanRequest, field: str) -> None:
    pos, _, _ = position(BASE)
    with pytest.raises(ValidationError, match=field):
        build_offer(pos, request_, policy(), TREAT)


def test_the_first_new_due_date_is_on_the_loans_day_at_least_n_days_ahead() -> None:
    pos, _, _ = position(date(2026, 4, 10))
    assert next_regular_due(pos, 7) == date(2026, 5, 15)
    assert next_regular_due(pos, 0) == date(2026, 4, 15)


def test_affordability_against_disposable_income() -> None:
    plan = offer(PlanType.RESTRUCTURE, instalments=6)
    largest = max(plan.monthly_totals().values())
    ok = affordability(plan, 10_000_00, 8_000_00, 70)
    assert ok.assessed and ok.limit == 1_400_00
    assert ok.affordable is (largest <= 1_400_00)
    poor = affordability(plan, 3_000_00, 2_900_00, 70)
    assert not poor.affordable and "unaffordable" in poor.reason_en and "不可负担" in poor.reason_zh
    assert not affordability(plan, None, None, 70).assessed
    with pytest.raises(ValidationError):
        affordability(plan, -1, 0, 70)


# ---------------------------------------------------------------------------- properties

days = st.integers(min_value=0, max_value=420)
amounts = st.integers(min_value=1, max_value=3_000_00)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    principal=st.integers(min_value=1_000_00, max_value=50_000_00),
    term=st.sampled_from([3, 6, 12, 24]),
    method=st.sampled_from(list(RepaymentMethod)),
    pays=st.lists(st.tuples(days, amounts), max_size=6),
    base=st.integers(min_value=20, max_value=500),
    kind=st.sampled_from(list(PlanType)),
    n=st.integers(min_value=1, max_value=12),
    pct=st.integers(min_value=0, max_value=99),
)
# an offer on the day a contract instalment falls due (found by Hypothesis): that
# instalment is not overdue (Position.future) and stays as the contract has it
@example(
    principal=100_000, term=3, method=RepaymentMethod.EQUAL_INSTALMENT, pays=[], base=59,
    kind=PlanType.RESTRUCTURE, n=1, pct=0,
)  # fmt: skip
def test_every_plan_conserves_money(
    principal: int,
    term: int,
    method: RepaymentMethod,
    pays: list[tuple[int, int]],
    base: int,
    kind: PlanType,
    n: int,
    pct: int,
) -> None:
    from datetime import timedelta

    start = date(2026, 1, 15)
    terms = loan(principal=principal, term_months=term)
    prod = product(method=method, terms_months=(term,), monthly_fee_bp=25, late_fee=15_00)
    paid = [(start + timedelta(days=d), a) for d, a in pays]
    pos, _, _ = position(start + timedelta(days=base), paid, terms=terms, prod=prod)
    request = {
        PlanType.DEFERRAL: PlanRequest(kind, months=n),
        PlanType.RESTRUCTURE: PlanRequest(kind, instalments=n, waive_penalty_pct=pct),
        PlanType.SETTLEMENT: PlanRequest(kind, discount_pct=pct),
        PlanType.HARDSHIP: PlanRequest(kind, months=n, payment_share_pct=max(pct, 1)),
    }[kind]
    try:
        plan = build_offer(pos, request, policy(), TREAT)
    except (Conflict, ValidationError):
        return  # a refusal (paid off, nothing overdue, still overdue after a deferral)
    assert_conserved(plan)
    # the plan's own instalments fall due after the offer's date; a contract instalment it
    # keeps may fall due on that very day (due, not yet overdue: the ledger's rule)
    assert all(ln.due_date > pos.as_of for ln in plan.lines if ln.kind is LineKind.PLAN)
    assert all(ln.due_date >= pos.as_of for ln in plan.lines)
    assert all(min(ln.principal, ln.interest, ln.fee, ln.penalty) >= 0 for ln in plan.lines)
    assert [ln.seq for ln in plan.lines] == list(range(1, len(plan.lines) + 1))
    assert [ln.due_date for ln in plan.lines] == sorted(ln.due_date for ln in plan.lines)
