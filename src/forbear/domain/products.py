"""Products: the contract terms that drive a loan's schedule, charges and payment allocation.

A product is plain data validated with pydantic. The ledger reads every rate, fee, grace
period, waterfall and rounding rule from here; nothing about a product is hard-coded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forbear.domain.money import Rounding


class RepaymentMethod(StrEnum):
    """How the schedule is built."""

    EQUAL_INSTALMENT = "equal_instalment"  # 等额本息: level payment (annuity)
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: level principal, interest on balance
    INTEREST_ONLY = "interest_only"  # 先息后本: interest monthly, principal at the end

    @property
    def label_zh(self) -> str:
        return {
            RepaymentMethod.EQUAL_INSTALMENT: "等额本息",
            RepaymentMethod.EQUAL_PRINCIPAL: "等额本金",
            RepaymentMethod.INTEREST_ONLY: "先息后本",
        }[self]


class Component(StrEnum):
    """What a fen of a payment can pay for."""

    PENALTY = "penalty"  # 罚息
    FEE = "fee"  # 费用 (service fee per instalment, late fee)
    INTEREST = "interest"  # 利息
    PRINCIPAL = "principal"  # 本金


class WaterfallOrder(StrEnum):
    """Whether the waterfall walks instalment by instalment or component by component."""

    # oldest instalment first; within it the component order (the default)
    INSTALMENT_FIRST = "instalment_first"
    # a component across every due instalment (oldest first) before the next component
    COMPONENT_FIRST = "component_first"


class PrepaymentRule(StrEnum):
    """What an overpayment does once everything due is paid."""

    SHORTEN_TERM = "shorten_term"  # keep the instalment, fewer instalments
    LOWER_INSTALMENT = "lower_instalment"  # keep the number of instalments, smaller ones


class EarlyPayment(StrEnum):
    """What a payment made before the next due date pays for once everything due is paid.

    ``current_instalment`` (提前还当期, the market default): the current period's
    instalment (the first one due after the payment date) is owed at once, its full
    scheduled interest included, and only what is left over is a prepayment
    (提前还款). ``prepayment``: everything beyond the instalments already due is a
    prepayment that re-amortises the loan, and the current instalment stays due on its date.
    """

    CURRENT_INSTALMENT = "current_instalment"
    PREPAYMENT = "prepayment"


DEFAULT_COMPONENTS: tuple[Component, ...] = (
    Component.PENALTY,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)

Bp = Annotated[int, Field(ge=0, le=100_000)]
Fen = Annotated[int, Field(ge=0)]


class ProductTerms(BaseModel):
    """The contract terms of one loan product (one contract version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    method: RepaymentMethod
    annual_rate_bp: Bp = Field(description="nominal annual interest rate; monthly = annual / 12")
    penalty_rate_bp: Bp = Field(
        description="annual penalty interest (罚息) rate on overdue principal, accrued daily"
    )
    day_count: int = Field(default=360, description="days in the year for daily accrual")
    grace_days: int = Field(default=0, ge=0, le=30)
    monthly_fee_bp: Bp = Field(
        default=0, description="service fee per instalment, basis points of the original principal"
    )
    late_fee: Fen = Field(default=0, description="one-off fee per instalment overdue past grace")
    waterfall: WaterfallOrder = WaterfallOrder.INSTALMENT_FIRST
    components: tuple[Component, ...] = DEFAULT_COMPONENTS
    prepayment: PrepaymentRule = PrepaymentRule.SHORTEN_TERM
    early_payment: EarlyPayment = Field(
        default=EarlyPayment.CURRENT_INSTALMENT,
        description=(
            "whether a payment before the next due date first pays the current period's "
            "instalment (current_instalment, 提前还当期) or is all a prepayment (prepayment)"
        ),
    )
    rounding: Rounding = Rounding.HALF_UP
    terms_months: tuple[int, ...] = Field(min_length=1, description="terms a loan may have")
    min_principal: Fen = 100_00
    max_principal: Fen = 200_000_00

    @field_validator("day_count")
    @classmethod
    def _day_count(cls, value: int) -> int:
        if value not in (360, 365):
            raise ValueError("day_count must be 360 or 365")
        return value

    @field_validator("components")
    @classmethod
    def _components(cls, value: tuple[Component, ...]) -> tuple[Component, ...]:
        if sorted(value) != sorted(DEFAULT_COMPONENTS):
            raise ValueError("components must list penalty, fee, interest and principal once each")
        return value

    @field_validator("terms_months")
    @classmethod
    def _terms(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(t < 1 or t > 360 for t in value):
            raise ValueError("terms must be between 1 and 360 months")
        return value

    @model_validator(mode="after")
    def _principal_range(self) -> ProductTerms:
        if self.min_principal > self.max_principal:
            raise ValueError("min_principal is above max_principal")
        return self
