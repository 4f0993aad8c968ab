"""The repayment-plan policy: limits by role, product and risk tier, and the plan rules.

A policy is a YAML file (the default ships as ``forbear/domain/plan_policy_default.yaml``)
validated with pydantic; an invalid file is refused with the key that is wrong. Authority
follows the roles file (``access_roles.yaml``): a role needs ``plan.offer`` to offer a
plan at all, and its limits here bound what it may offer; the supervisor (who also holds
``plan.approve``) has the higher limits. An offer beyond the role's limits is refused
with the limit, and the higher role's, in the message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError

from forbear.domain import access, yamltext
from forbear.domain.errors import ConfigurationError, ForbearError, PermissionDenied
from forbear.domain.plans.model import PlanType

POLICY_RESOURCE = "plan_policy_default.yaml"
Pct = int


class LimitName(StrEnum):
    MAX_DEFERRAL_MONTHS = "max_deferral_months"
    MAX_RESTRUCTURE_INSTALMENTS = "max_restructure_instalments"
    MAX_PENALTY_WAIVER_PCT = "max_penalty_waiver_pct"
    MAX_SETTLEMENT_DISCOUNT_PCT = "max_settlement_discount_pct"
    HARDSHIP_MAX_MONTHS = "hardship_max_months"
    HARDSHIP_MIN_PAYMENT_PCT = "hardship_min_payment_pct"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitRule(_Strict):
    role: str
    products: tuple[str, ...] | None = None
    tiers: tuple[str, ...] | None = None
    max_deferral_months: int | None = Field(default=None, ge=0, le=24)
    max_restructure_instalments: int | None = Field(default=None, ge=0, le=60)
    max_penalty_waiver_pct: int | None = Field(default=None, ge=0, le=100)
    max_settlement_discount_pct: int | None = Field(default=None, ge=0, le=100)
    hardship_max_months: int | None = Field(default=None, ge=0, le=24)
    hardship_min_payment_pct: int | None = Field(default=None, ge=1, le=100)

    @property
    def is_base(self) -> bool:
        return self.products is None and self.tiers is None

    def matches(self, product_code: str, tier: str | None) -> bool:
        if self.products is not None and product_code not in self.products:
            return False
        return self.tiers is None or (tier is not None and tier in self.tiers)

    def set_limits(self) -> dict[str, int]:
        return {
            name.value: value
            for name in LimitName
            if (value := getattr(self, name.value)) is not None
        }


class Treatment(_Strict):
    deferral_interest: Literal["accrue", "none"] = "accrue"
    restructure_interest: Literal["contract", "none"] = "contract"


class AffordabilityRule(_Strict):
    max_share_of_disposable_pct: int = Field(ge=1, le=100)
    required_for: tuple[PlanType, ...] = (PlanType.HARDSHIP,)


class BrokenRule(_Strict):
    days_late: int = Field(ge=0, le=90)
    tolerance: int = Field(ge=0, le=100_000)


class PlanPolicy(_Strict):
    version: int = Field(ge=1)
    offer_valid_days: int = Field(ge=1, le=60)
    first_due_min_days: int = Field(ge=0, le=31)
    settlement_pay_within_days: int = Field(ge=1, le=90)
    hardship_min_catch_up_months: int = Field(ge=1, le=60)
    affordability: AffordabilityRule
    broken: BrokenRule
    treatment: dict[str, Treatment]
    limits: tuple[LimitRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> PlanPolicy:
        if "*" not in self.treatment:
            raise ValueError('treatment: needs a "*" entry for every product not named')
        policy = access.default_policy()
        seen: set[str] = set()
        for index, rule in enumerate(self.limits):
            where = f"limits.{index}"
            if rule.role not in policy.roles or not policy.can(rule.role, "plan.offer"):
                raise ValueError(f"{where}.role: {rule.role!r} is not a role that may offer plans")
            if rule.role not in seen:
                if not rule.is_base:
                    raise ValueError(
                        f"{where}: the first rule of role {rule.role} must have no products "
                        "or tiers"
                    )
                missing = [n.value for n in LimitName if getattr(rule, n.value) is None]
                if missing:
                    raise ValueError(
                        f"{where}: the first rule of a role sets every limit; "
                        f"missing {', '.join(missing)}"
                    )
                seen.add(rule.role)
        return self

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.role for rule in self.limits))

    def treatment_for(self, product_code: str) -> Treatment:
        return self.treatment.get(product_code, self.treatment["*"])

    def limits_for(self, role: str, product_code: str, tier: str | None) -> Limits:
        values: dict[str, int] = {}
        for rule in self.limits:
            if rule.role == role and (rule.is_base or rule.matches(product_code, tier)):
                values.update(rule.set_limits())
        if not values:
            raise PermissionDenied(role, "plan.offer")
        return Limits(role=role, **values)


@dataclass(frozen=True, slots=True)
class Limits:
    role: str
    max_deferral_months: int
    max_restructure_instalments: int
    max_penalty_waiver_pct: int
    max_settlement_discount_pct: int
    hardship_max_months: int
    hardship_min_payment_pct: int


class BeyondAuthority(PermissionDenied):
    """An offer beyond the limits of the role that makes it (a 403)."""

    def __init__(
        self, role: str, what: str, asked: int, limit: int, unit: str, higher: str = ""
    ) -> None:
        ForbearError.__init__(
            self,
            f"role {role!r} may not offer {what} of {asked}{unit}: its limit is "
            f"{limit}{unit}{higher}",
        )
        self.role = role
        self.action = "plan.offer"
        self.purpose = None
        self.asked = asked
        self.limit = limit


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    policy: PlanPolicy
    sha256: str
    source: str


def parse_policy(text: str, *, source: str = "plan policy") -> LoadedPolicy:
    """Validate a policy file; refuses with :class:`ConfigurationError` naming the key."""
    try:
        raw: Any = yamltext.load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: expected a mapping of policy keys")
    try:
        policy = PlanPolicy.model_validate(raw)
    except PydanticError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "(policy)"
        message = str(problem["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{source}: {where}: {message}") from None
    return LoadedPolicy(policy, hashlib.sha256(text.encode("utf-8")).hexdigest(), source)


@cache
def default_policy() -> LoadedPolicy:
    text = resources.files("forbear.domain").joinpath(POLICY_RESOURCE).read_text(encoding="utf-8")
    return parse_policy(text, source=POLICY_RESOURCE)
