"""Contract terms and the check of a claim against them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.domain.contracts import (
    Claim,
    ContractTerms,
    Severity,
    annualised_irr_bp,
    check_claim,
    contract_all_in_bp,
)
from forbear.domain.errors import ValidationError
from forbear.domain.products import ProductTerms, RepaymentMethod


def terms(**overrides: object) -> ContractTerms:
    values: dict[str, object] = {
        "product_code": "CASH",
        "version": 1,
        "effective_from": date(2024, 1, 1),
        "annual_rate_bp": 1800,
        "penalty_rate_bp": 2400,
        "grace_days": 3,
        "max_term_months": 12,
    }
    values.update(overrides)
    return ContractTerms.model_validate(values)


def codes(findings: list) -> list[str]:
    return [f.code for f in findings]


def test_terms_are_built_from_a_product() -> None:
    product = ProductTerms(
        code="INST",
        name_zh="消费分期",
        name_en="Instalment",
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        annual_rate_bp=1200,
        penalty_rate_bp=1800,
        grace_days=3,
        monthly_fee_bp=30,
        late_fee=2000,
        terms_months=(6, 12, 24),
    )
    t = ContractTerms.from_product(product, version=2, effective_from=date(2025, 3, 1))
    assert (t.product_code, t.version, t.annual_rate_bp, t.penalty_rate_bp) == (
        "INST",
        2,
        1200,
        1800,
    )
    assert (t.grace_days, t.monthly_fee_bp, t.late_fee, t.max_term_months) == (3, 30, 2000, 24)
    assert t.consent_to_collection_contact is True
    assert {k.value for k in t.fee_kinds} == {"service", "late"}


def test_a_claim_within_the_contract_has_no_findings() -> None:
    claim = Claim(principal=100_00, interest=5_00, penalty=1_00, penalty_rate_bp=2400)
    assert check_claim(terms(), claim) == []


def test_penalty_above_the_contract_rate_is_refused() -> None:
    findings = check_claim(terms(), Claim(penalty=1_00, penalty_rate_bp=3000))
    assert codes(findings) == ["PENALTY_ABOVE_CONTRACT"]
    assert findings[0].severity is Severity.REFUSE
    assert "30%" in findings[0].message_en and "24%" in findings[0].message_zh


def test_interest_above_the_contract_rate_is_refused() -> None:
    findings = check_claim(terms(), Claim(interest=1_00, interest_rate_bp=1900))
    assert codes(findings) == ["INTEREST_ABOVE_CONTRACT"]


def test_penalty_or_interest_on_a_contract_without_them_is_refused() -> None:
    t = terms(annual_rate_bp=0, penalty_rate_bp=0)
    assert codes(check_claim(t, Claim(interest=1, penalty=1))) == [
        "PENALTY_NOT_IN_CONTRACT",
        "INTEREST_NOT_IN_CONTRACT",
    ]


def test_fees_not_in_the_contract_are_refused_by_kind() -> None:
    t = terms(late_fee=20_00)
    claim = Claim(fees=50_00, fee_items={"late": 20_00, "collection": 30_00})
    findings = check_claim(t, claim)
    assert codes(findings) == ["FEE_NOT_IN_CONTRACT"]
    assert "collection" in findings[0].message_en
    assert codes(check_claim(terms(), Claim(fees=1))) == ["FEE_NOT_IN_CONTRACT"]
    assert check_claim(t, Claim(fees=20_00)) == []


def test_fee_items_must_add_up() -> None:
    with pytest.raises(ValueError, match="add up"):
        Claim(fees=10, fee_items={"late": 5})


def test_a_component_above_what_is_owed_is_refused() -> None:
    owed = Claim(principal=100_00, interest=5_00)
    findings = check_claim(terms(), Claim(principal=100_00, interest=6_00), owed=owed)
    assert codes(findings) == ["ABOVE_OWED"]
    assert "6.00" in findings[0].message_en and "5.00" in findings[0].message_en


def test_all_in_cost_above_24_percent_goes_to_legal_review() -> None:
    findings = check_claim(terms(), Claim(principal=1, all_in_annual_bp=2500))
    assert codes(findings) == ["ALL_IN_ABOVE_24"]
    assert findings[0].severity is Severity.LEGAL_REVIEW
    assert findings[0].rule_id == "CN.RATE.LICENSED"
    assert codes(check_claim(terms(), Claim(all_in_annual_bp=3700))) == ["ALL_IN_ABOVE_36"]
    assert check_claim(terms(), Claim(all_in_annual_bp=2400)) == []


def test_a_monthly_service_fee_counts_in_the_all_in_cost() -> None:
    # 18% a year plus 0.5% of the original principal a month is well above 24% all-in
    t = terms(monthly_fee_bp=50)
    findings = check_claim(t, Claim(principal=100_00), term_months=12)
    assert codes(findings) == ["ALL_IN_ABOVE_24"]
    assert check_claim(terms(), Claim(principal=100_00), term_months=12) == []


def test_a_penalty_rate_above_24_percent_goes_to_legal_review_when_penalty_is_claimed() -> None:
    t = terms(penalty_rate_bp=2700)
    assert codes(check_claim(t, Claim(penalty=1_00))) == ["PENALTY_RATE_ABOVE_24"]
    assert check_claim(t, Claim(principal=1_00)) == []


def test_a_lender_may_lower_the_review_line_but_not_raise_it() -> None:
    assert codes(check_claim(terms(), Claim(all_in_annual_bp=2000), review_line_bp=1800)) == [
        "ALL_IN_ABOVE_24"
    ]
    with pytest.raises(ValidationError):
        check_claim(terms(), Claim(), review_line_bp=3000)


def test_the_all_in_cost_without_fees_is_the_contract_rate() -> None:
    assert contract_all_in_bp(terms(), 12) == 1800
    assert contract_all_in_bp(terms(annual_rate_bp=0), 6) == 0


@given(
    rate=st.integers(min_value=1, max_value=6000),
    n=st.integers(min_value=1, max_value=36),
)
def test_the_irr_of_an_annuity_is_its_rate(rate: int, n: int) -> None:
    # a level-payment schedule without fees costs its nominal rate (within rounding)
    assert abs(contract_all_in_bp(terms(annual_rate_bp=rate), n) - rate) <= 1


def test_payments_not_above_the_principal_cost_nothing() -> None:
    assert annualised_irr_bp(100, [50, 50]) == 0
    with pytest.raises(ValidationError):
        annualised_irr_bp(0, [1])


def test_a_product_file_entry_carries_the_contract_clauses() -> None:
    from forbear.domain.contracts import ContractedProduct

    entry = ContractedProduct(
        code="INST",
        name_zh="消费分期",
        name_en="Instalment",
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        annual_rate_bp=1200,
        penalty_rate_bp=1800,
        terms_months=(12,),
        consent_to_collection_contact=False,
        dispute_venue="上海仲裁委员会",
    )
    t = ContractTerms.from_product(entry, version=1, effective_from=date(2026, 1, 1))
    assert (t.consent_to_collection_contact, t.dispute_venue) == (False, "上海仲裁委员会")
    plain = entry.product_terms()
    assert type(plain) is ProductTerms and plain.code == "INST"
    assert "dispute_venue" not in plain.model_dump()
