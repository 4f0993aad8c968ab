"""Contract terms (合同条款) and the check of an amount claimed against them.

A loan is made under one version of its product's contract. :class:`ContractTerms` holds
the terms a collector may rely on: the interest and penalty (罚息) rates, the fees, the
grace days, the borrower's consent to collection contact and the agreed dispute venue.
Every amount Forbear claims from a borrower (a repayment plan, a letter, a legal case)
is a :class:`Claim`, and :func:`check_claim` compares it with the contract:

- a penalty, interest or fee the contract does not allow is **refused** (it may not be
  claimed at all, and a message that claims it would exaggerate the debt,
  ``CN.LANG.PROHIBITED``);
- an all-in annual cost above 24% (2400 bp) is **flagged for legal review** before the
  excess is collected (``CN.RATE.LICENSED``: a law-firm reading of the SPC 2017 opinion
  on financial lending, which does not support interest, penalty and fees together above
  24% a year, and the NFRA 2025 notice that caps the all-in cost of new consumer loans).
  Above 36% the finding says so: the excess is void under any reading. The 4x LPR line
  of the 2020 private-lending rules does not apply to licensed lenders (SPC reply 2020,
  法释〔2020〕27号), so it is not checked; a lender may set a lower review line.

The all-in annual cost is the annualised internal rate of return of the borrower's cash
flows, monthly rate times 12 (the PBoC's IRR convention for 年化利率): principal received
at the start, principal, interest and fees paid on each due date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forbear.domain.errors import ValidationError
from forbear.domain.ledger.schedules import amortise, level_for
from forbear.domain.money import BP_PER_UNIT, Rounding, div_round
from forbear.domain.products import ProductTerms, RepaymentMethod

RATE_REVIEW_BP = 2400  # CN.RATE.LICENSED: all-in cost above 24% a year goes to legal review
RATE_VOID_BP = 3600  # above 36% a year the excess is void under every reading

DEFAULT_DISPUTE_VENUE = "贷款人住所地人民法院 (people's court at the lender's domicile)"


class FeeKind(StrEnum):
    """The fees a contract can provide for; anything else is a fee not in the contract."""

    SERVICE = "service"  # 服务费: per instalment, bp of the original principal
    LATE = "late"  # 滞纳金: one-off per instalment overdue past grace

    @property
    def label_zh(self) -> str:
        return {FeeKind.SERVICE: "服务费", FeeKind.LATE: "滞纳金"}[self]


class ContractTerms(BaseModel):
    """The key terms of one contract version of one product.

    Rates are basis points a year, as in :class:`~forbear.domain.products.ProductTerms`:
    ``penalty_rate_bp`` is the annual penalty interest on overdue principal, accrued daily
    over ``day_count`` days.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_code: str = Field(min_length=1, max_length=40)
    version: int = Field(ge=1)
    effective_from: date
    annual_rate_bp: int = Field(ge=0, le=100_000)
    penalty_rate_bp: int = Field(ge=0, le=100_000)
    day_count: int = 360
    grace_days: int = Field(default=0, ge=0, le=30)
    monthly_fee_bp: int = Field(default=0, ge=0, le=100_000)
    late_fee: int = Field(default=0, ge=0, description="fen per overdue instalment")
    consent_to_collection_contact: bool = True
    dispute_venue: str = Field(default=DEFAULT_DISPUTE_VENUE, min_length=1, max_length=200)
    max_term_months: int = Field(default=12, ge=1, le=360)

    @classmethod
    def from_product(
        cls,
        product: ProductTerms,
        *,
        version: int,
        effective_from: date,
        consent_to_collection_contact: bool | None = None,
        dispute_venue: str | None = None,
    ) -> ContractTerms:
        """The contract terms a product's definition carries (one version of them). The
        clauses default to the product file's (:class:`ContractedProduct`), else to consent
        given and :data:`DEFAULT_DISPUTE_VENUE`."""
        if isinstance(product, ContractedProduct):
            if consent_to_collection_contact is None:
                consent_to_collection_contact = product.consent_to_collection_contact
            if dispute_venue is None:
                dispute_venue = product.dispute_venue
        if consent_to_collection_contact is None:
            consent_to_collection_contact = True
        if dispute_venue is None:
            dispute_venue = DEFAULT_DISPUTE_VENUE
        return cls(
            product_code=product.code,
            version=version,
            effective_from=effective_from,
            annual_rate_bp=product.annual_rate_bp,
            penalty_rate_bp=product.penalty_rate_bp,
            day_count=product.day_count,
            grace_days=product.grace_days,
            monthly_fee_bp=product.monthly_fee_bp,
            late_fee=product.late_fee,
            consent_to_collection_contact=consent_to_collection_contact,
            dispute_venue=dispute_venue,
            max_term_months=max(product.terms_months),
        )

    @property
    def fee_kinds(self) -> frozenset[FeeKind]:
        """The fees this contract provides for."""
        kinds = set()
        if self.monthly_fee_bp > 0:
            kinds.add(FeeKind.SERVICE)
        if self.late_fee > 0:
            kinds.add(FeeKind.LATE)
        return frozenset(kinds)

    @property
    def overdue_annual_bp(self) -> int:
        """Annual cost of overdue principal.

        The ledger charges an instalment's interest up to its due date and penalty
        interest after it, so overdue principal costs the penalty rate (late fees aside).
        """
        return self.penalty_rate_bp


class ContractedProduct(ProductTerms):
    """One entry of a products file: the product's terms plus the contract clauses that
    are not product terms. Both clauses are optional in the file."""

    consent_to_collection_contact: bool = Field(
        default=True, description="the borrower consented to collection contact (催收联系授权)"
    )
    dispute_venue: str = Field(
        default=DEFAULT_DISPUTE_VENUE,
        min_length=1,
        max_length=200,
        description="the court or arbitration body the contract names for disputes",
    )

    def product_terms(self) -> ProductTerms:
        """The product's terms alone (what the ledger and the products table hold)."""
        return ProductTerms.model_validate(self.model_dump(include=set(ProductTerms.model_fields)))


class Claim(BaseModel):
    """An amount claimed from a borrower, by component, in fen.

    ``interest_rate_bp`` and ``penalty_rate_bp`` are the annual rates the claimed interest
    and penalty were computed at, when the claimant knows them. ``fee_items`` splits
    ``fees`` by kind (a :class:`FeeKind` value, or any other name for a fee the contract
    may not provide for); without it the fees are checked as a whole. ``all_in_annual_bp``
    is the claim's all-in annual cost if the claimant computed it; otherwise the check
    uses the contract's (:func:`contract_all_in_bp`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: int = Field(default=0, ge=0)
    interest: int = Field(default=0, ge=0)
    penalty: int = Field(default=0, ge=0)
    fees: int = Field(default=0, ge=0)
    fee_items: Mapping[str, int] = Field(default_factory=lambda: MappingProxyType({}))
    interest_rate_bp: int | None = Field(default=None, ge=0)
    penalty_rate_bp: int | None = Field(default=None, ge=0)
    all_in_annual_bp: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _fee_items_sum(self) -> Claim:
        if any(v < 0 for v in self.fee_items.values()):
            raise ValueError("fee items must not be negative")
        if self.fee_items and sum(self.fee_items.values()) != self.fees:
            raise ValueError("fee items must add up to fees")
        return self

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.penalty + self.fees


class Severity(StrEnum):
    REFUSE = "refuse"  # may not be claimed
    LEGAL_REVIEW = "legal_review"  # may be claimed only after legal review


@dataclass(frozen=True, slots=True)
class ClaimFinding:
    """One problem of a claim against its contract. Messages carry no personal data."""

    code: str
    severity: Severity
    message_zh: str
    message_en: str
    rule_id: str

    def __str__(self) -> str:
        return f"{self.code} ({self.rule_id}): {self.message_zh} / {self.message_en}"


def _pct(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}.{rest:02d}%" if rest else f"{whole}%"


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def check_claim(
    terms: ContractTerms,
    claim: Claim,
    *,
    owed: Claim | None = None,
    term_months: int | None = None,
    review_line_bp: int = RATE_REVIEW_BP,
) -> list[ClaimFinding]:
    """Every finding of ``claim`` against ``terms`` (empty when the claim is in order).

    ``owed`` is what the ledger says is owed under the contract (the same components);
    a component claimed above it is refused. ``term_months`` is the loan's term, for the
    contract's all-in cost when the claim does not carry one. ``review_line_bp`` may be
    lowered by a lender's configuration, never raised above 2400.
    """
    if not 0 < review_line_bp <= RATE_REVIEW_BP:
        raise ValidationError("review_line_bp", f"must be between 1 and {RATE_REVIEW_BP}")
    findings: list[ClaimFinding] = []
    rule = "CN.LANG.PROHIBITED"

    if claim.penalty_rate_bp is not None and claim.penalty_rate_bp > terms.penalty_rate_bp:
        findings.append(
            ClaimFinding(
                "PENALTY_ABOVE_CONTRACT",
                Severity.REFUSE,
                f"罚息利率{_pct(claim.penalty_rate_bp)}高于合同约定的{_pct(terms.penalty_rate_bp)}",
                f"penalty rate {_pct(claim.penalty_rate_bp)} is above the contract's "
                f"{_pct(terms.penalty_rate_bp)}",
                rule,
            )
        )
    if claim.penalty > 0 and terms.penalty_rate_bp == 0:
        findings.append(
            ClaimFinding(
                "PENALTY_NOT_IN_CONTRACT",
                Severity.REFUSE,
                "合同未约定罚息",
                "the contract provides for no penalty interest",
                rule,
            )
        )
    if claim.interest_rate_bp is not None and claim.interest_rate_bp > terms.annual_rate_bp:
        findings.append(
            ClaimFinding(
                "INTEREST_ABOVE_CONTRACT",
                Severity.REFUSE,
                f"利率{_pct(claim.interest_rate_bp)}高于合同约定的{_pct(terms.annual_rate_bp)}",
                f"interest rate {_pct(claim.interest_rate_bp)} is above the contract's "
                f"{_pct(terms.annual_rate_bp)}",
                rule,
            )
        )
    if claim.interest > 0 and terms.annual_rate_bp == 0:
        findings.append(
            ClaimFinding(
                "INTEREST_NOT_IN_CONTRACT",
                Severity.REFUSE,
                "合同约定无息",
                "the contract is interest-free",
                rule,
            )
        )
    findings.extend(_fee_findings(terms, claim, rule))
    if owed is not None:
        findings.extend(_above_owed(claim, owed, rule))
    findings.extend(_rate_findings(terms, claim, term_months, review_line_bp))
    return findings


def _fee_findings(terms: ContractTerms, claim: Claim, rule: str) -> list[ClaimFinding]:
    allowed = {k.value for k in terms.fee_kinds}
    if claim.fee_items:
        unknown = sorted(k for k, v in claim.fee_items.items() if v > 0 and k not in allowed)
        return [
            ClaimFinding(
                "FEE_NOT_IN_CONTRACT",
                Severity.REFUSE,
                f"合同未约定该费用：{kind}",
                f"fee not in the contract: {kind}",
                rule,
            )
            for kind in unknown
        ]
    if claim.fees > 0 and not allowed:
        return [
            ClaimFinding(
                "FEE_NOT_IN_CONTRACT",
                Severity.REFUSE,
                "合同未约定任何费用",
                "the contract provides for no fees",
                rule,
            )
        ]
    return []


_COMPONENT_LABELS = {
    "principal": ("本金", "principal"),
    "interest": ("利息", "interest"),
    "penalty": ("罚息", "penalty interest"),
    "fees": ("费用", "fees"),
}


def _above_owed(claim: Claim, owed: Claim, rule: str) -> list[ClaimFinding]:
    findings = []
    for name, (zh, en) in _COMPONENT_LABELS.items():
        claimed, due = getattr(claim, name), getattr(owed, name)
        if claimed > due:
            findings.append(
                ClaimFinding(
                    "ABOVE_OWED",
                    Severity.REFUSE,
                    f"主张的{zh}{_yuan(claimed)}元超过合同项下应付的{_yuan(due)}元",
                    f"{en} claimed {_yuan(claimed)} yuan is above the {_yuan(due)} yuan owed "
                    "under the contract",
                    rule,
                )
            )
    return findings


def _rate_findings(
    terms: ContractTerms, claim: Claim, term_months: int | None, line: int
) -> list[ClaimFinding]:
    findings = []
    all_in = claim.all_in_annual_bp
    if all_in is None:
        all_in = contract_all_in_bp(terms, term_months or terms.max_term_months)
    if all_in > line:
        void = all_in > RATE_VOID_BP
        findings.append(
            ClaimFinding(
                "ALL_IN_ABOVE_36" if void else "ALL_IN_ABOVE_24",
                Severity.LEGAL_REVIEW,
                f"综合年化成本{_pct(all_in)}超过{_pct(line)}，收取超出部分前须经法务审核"
                + ("；超过36%的部分无效" if void else ""),
                f"all-in annual cost {_pct(all_in)} is above {_pct(line)}: legal review "
                "before collecting the excess" + ("; the excess above 36% is void" if void else ""),
                "CN.RATE.LICENSED",
            )
        )
    overdue = terms.overdue_annual_bp
    if claim.penalty > 0 and overdue > line:
        findings.append(
            ClaimFinding(
                "PENALTY_RATE_ABOVE_24",
                Severity.LEGAL_REVIEW,
                f"逾期罚息年利率{_pct(overdue)}超过{_pct(line)}，收取超出部分前须经法务审核",
                f"penalty interest rate {_pct(overdue)} a year is above "
                f"{_pct(line)}: legal review before collecting the excess",
                "CN.RATE.LICENSED",
            )
        )
    return findings


# ---------------------------------------------------------------------------- all-in cost


def annualised_irr_bp(principal: int, payments: list[int]) -> int:
    """The monthly IRR of receiving ``principal`` and paying ``payments`` monthly, times 12.

    In basis points, rounded half up. Found by bisection on exact decimals, so the result
    does not depend on floating point. Payments that add up to no more than the principal
    cost nothing (0).
    """
    if principal <= 0:
        raise ValidationError("principal", "must be positive")
    if sum(payments) <= principal:
        return 0

    def present_value(rate: Decimal) -> Decimal:
        factor, pv = Decimal(1), Decimal(0)
        for amount in payments:
            factor /= 1 + rate
            pv += amount * factor
        return pv

    with localcontext() as ctx:
        ctx.prec = 40
        low, high = Decimal(0), Decimal(1)
        target = Decimal(principal)
        while present_value(high) > target:
            high *= 2
        # 60 halvings bring the monthly rate within 1e-18 of the root
        for _ in range(60):
            mid = (low + high) / 2
            if present_value(mid) > target:
                low = mid
            else:
                high = mid
        annual_bp = (low + high) / 2 * 12 * BP_PER_UNIT
        return int(annual_bp.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def contract_all_in_bp(terms: ContractTerms, term_months: int, principal: int = 10_000_00) -> int:
    """All-in annual cost of a loan repaid on time under ``terms`` (interest and fees).

    The cost is computed for an equal-instalment (等额本息) schedule of ``term_months``, the
    market's usual method, built by the ledger's schedule code
    (:mod:`forbear.domain.ledger.schedules`). The service fee is a share of the original
    principal, so its cost per yuan owed rises as the balance falls: a 0.5% monthly fee
    costs far more than 6% a year.
    """
    method = RepaymentMethod.EQUAL_INSTALMENT
    level = level_for(method, principal, terms.annual_rate_bp, term_months, Rounding.HALF_UP)
    rows = amortise(principal, level, method, terms.annual_rate_bp, term_months, Rounding.HALF_UP)
    fee = div_round(principal * terms.monthly_fee_bp, BP_PER_UNIT)
    return annualised_irr_bp(principal, [p + i + fee for p, i in rows])


__all__ = [
    "DEFAULT_DISPUTE_VENUE",
    "RATE_REVIEW_BP",
    "RATE_VOID_BP",
    "Claim",
    "ClaimFinding",
    "ContractTerms",
    "ContractedProduct",
    "FeeKind",
    "Severity",
    "annualised_irr_bp",
    "check_claim",
    "contract_all_in_bp",
]
