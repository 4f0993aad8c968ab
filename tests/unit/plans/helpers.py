"""Loans, positions and frames for the plan tests (built with the ledger's own code)."""

from __future__ import annotations

from datetime import date
from typing import Any

from forbear.domain.ledger import Instalment, LoanTerms, Payment, build_schedule
from forbear.domain.plans import Position, position_of
from forbear.domain.plans.policy import PlanPolicy, default_policy
from forbear.domain.products import ProductTerms, RepaymentMethod


def product(**overrides: Any) -> ProductTerms:
    values: dict[str, Any] = {
        "code": "CASH",
        "name_zh": "现金贷",
        "name_en": "Cash loan",
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "annual_rate_bp": 1800,
        "penalty_rate_bp": 2400,
        "grace_days": 3,
        "terms_months": (12,),
    }
    values.update(overrides)
    return ProductTerms(**values)


def loan(**overrides: Any) -> LoanTerms:
    values: dict[str, Any] = {
        "loan_id": 1,
        "product_code": "CASH",
        "principal": 12_000_00,
        "term_months": 12,
        "annual_rate_bp": 1800,
        "start_date": date(2026, 1, 15),
        "first_due_date": date(2026, 2, 15),
    }
    values.update(overrides)
    return LoanTerms(**values)


def position(
    as_of: date,
    paid: list[tuple[date, int]] | None = None,
    *,
    terms: LoanTerms | None = None,
    prod: ProductTerms | None = None,
) -> tuple[Position, list[Instalment], list[Payment]]:
    the_loan = terms or loan()
    the_product = prod or product()
    schedule = build_schedule(the_loan, the_product)
    payments = [
        Payment(k, the_loan.loan_id, day, amount) for k, (day, amount) in enumerate(paid or [], 1)
    ]
    return position_of(the_loan, the_product, schedule, payments, as_of), schedule, payments


def policy() -> PlanPolicy:
    return default_policy().policy
