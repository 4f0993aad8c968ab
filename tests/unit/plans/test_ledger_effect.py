"""What an active plan does to days past due and bucket, with the real ledger kernel."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import polars as pl

from forbear.domain.ledger import account_states, products_frame
from forbear.domain.ledger.schema import INSTALMENTS, LOANS, PAYMENTS
from forbear.domain.plans import PlanOffer, PlanRequest, PlanType, build_offer
from forbear.domain.plans.ledger import (
    PLAN_LINES,
    PLAN_PERIODS,
    apply_plans,
    governing_plans,
    restore_totals,
)

from .helpers import loan, policy, position, product

BASE = date(2026, 3, 27)  # two instalments missed, 40 days past due
PLAN_ID = 9


def frames(paid: list[tuple[date, int]]) -> tuple[pl.DataFrame, ...]:
    the_loan = loan()
    _, schedule, payments = position(BASE, paid)
    loans = pl.DataFrame([asdict(the_loan)], schema=LOANS)
    instalments = pl.DataFrame([asdict(i) for i in schedule], schema=INSTALMENTS)
    pays = pl.DataFrame([asdict(p) for p in payments], schema=PAYMENTS)
    return loans, instalments, pays


def plan_frames(
    plan: PlanOffer, status: str, start: date, ended: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    periods = pl.DataFrame(
        [
            {
                "plan_id": PLAN_ID,
                "loan_id": 1,
                "status": status,
                "base_date": plan.base_date,
                "start_date": start,
                "ended_on": ended,
            }
        ],
        schema=PLAN_PERIODS,
    )
    lines = pl.DataFrame(
        [
            {
                "plan_id": PLAN_ID,
                "seq": ln.seq,
                "kind": ln.kind.value,
                "due_date": ln.due_date,
                "principal": ln.principal,
                "interest": ln.interest,
                "fee": ln.fee,
                "penalty": ln.penalty,
            }
            for ln in plan.lines
        ],
        schema=PLAN_LINES,
    )
    return periods, lines


def state(
    as_of: date,
    paid: list[tuple[date, int]],
    plan: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> dict[str, object]:
    loans, instalments, pays = frames(paid)
    products = products_frame([product()])
    governing = pl.DataFrame(
        schema={"loan_id": pl.Int64, "plan_id": pl.Int64, "base_date": pl.Date}
    )
    if plan is not None:
        periods, lines = plan
        governing = governing_plans(periods, as_of)
        loans, instalments, eff_pays = apply_plans(loans, instalments, pays, governing, lines)
    else:
        eff_pays = pays
    result = account_states(
        loans.lazy(), products.lazy(), instalments.lazy(), eff_pays.lazy(), as_of
    )
    states = restore_totals(result.states.collect(), pays, governing)
    return states.row(0, named=True)


def restructured() -> PlanOffer:
    pos, _, _ = position(BASE)
    return build_offer(
        pos,
        PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=100),
        policy(),
        policy().treatment_for("CASH"),
    )


def test_without_a_plan_the_loan_stays_late() -> None:
    assert state(BASE, [])["bucket"] == "M2"
    assert state(date(2026, 4, 20), [])["dpd"] == 64


def test_a_restructured_loan_is_current_once_the_plan_governs_it() -> None:
    plan = restructured()
    governed = plan_frames(plan, "active", start=BASE)
    st = state(date(2026, 4, 1), [], governed)
    assert (st["dpd"], st["bucket"], st["overdue_total"]) == (0, "C", 0)
    assert st["outstanding_principal"] == 12_000_00
    # the first new instalment falls due with the regular one on 15 April
    assert st["next_due_date"] == date(2026, 4, 15)
    first_day = [ln for ln in plan.lines if ln.due_date == date(2026, 4, 15)]
    assert st["next_due_amount"] == sum(ln.total for ln in first_day)


def test_a_plan_whose_dates_are_met_keeps_the_loan_current() -> None:
    plan = restructured()
    governed = plan_frames(plan, "active", start=BASE)
    paid = []
    by_day: dict[date, int] = {}
    for ln in plan.lines:
        by_day[ln.due_date] = by_day.get(ln.due_date, 0) + ln.total
    for day, amount in sorted(by_day.items())[:4]:
        paid.append((day, amount))
    st = state(date(2026, 7, 20), paid, governed)
    assert (st["dpd"], st["bucket"]) == (0, "C")
    assert st["paid_total"] == sum(a for _, a in paid)
    assert st["last_payment_date"] == date(2026, 7, 15)


def test_a_missed_plan_instalment_makes_the_loan_late_from_its_new_date() -> None:
    plan = restructured()
    governed = plan_frames(plan, "active", start=BASE)
    st = state(date(2026, 5, 1), [], governed)
    assert st["dpd"] == (date(2026, 5, 1) - date(2026, 4, 15)).days
    assert st["bucket"] == "M1"


def test_a_broken_plan_brings_the_original_obligations_back_from_the_day_it_broke() -> None:
    plan = restructured()
    paid = [(date(2026, 4, 15), 500_00)]
    broken = plan_frames(plan, "broken", start=BASE, ended=date(2026, 5, 1))
    before = state(date(2026, 4, 30), paid, broken)
    after = state(date(2026, 5, 1), paid, broken)
    original = state(date(2026, 5, 1), paid)
    assert before["dpd"] < after["dpd"]
    assert after == original  # as if there had been no plan; the plan's payment counts
    assert after["paid_total"] == 500_00


def test_a_plan_before_its_start_date_does_not_govern() -> None:
    plan = restructured()
    accepted = plan_frames(plan, "accepted", start=BASE + timedelta(days=3))
    assert state(BASE + timedelta(days=2), [], accepted)["dpd"] == 42
    assert state(BASE + timedelta(days=3), [], accepted)["dpd"] == 0


def test_a_settlement_paid_in_full_pays_the_loan_off() -> None:
    pos, _, _ = position(BASE)
    plan = build_offer(
        pos,
        PlanRequest(PlanType.SETTLEMENT, discount_pct=10),
        policy(),
        policy().treatment_for("CASH"),
    )
    governed = plan_frames(plan, "active", start=BASE)
    (line,) = plan.lines
    st = state(date(2026, 4, 5), [(date(2026, 4, 2), line.total)], governed)
    assert (st["status"], st["dpd"], st["outstanding_principal"]) == ("paid_off", 0, 0)


def test_a_deferred_loan_is_current_until_its_new_dates() -> None:
    pos, _, _ = position(BASE)
    plan = build_offer(
        pos, PlanRequest(PlanType.DEFERRAL, months=2), policy(), policy().treatment_for("CASH")
    )
    governed = plan_frames(plan, "active", start=BASE)
    assert state(date(2026, 4, 14), [], governed)["dpd"] == 0
    # the oldest instalment moved from 15 Feb to 15 Apr
    late = state(date(2026, 4, 25), [], governed)
    assert (late["dpd"], late["oldest_unpaid_due_date"]) == (10, date(2026, 4, 15))
