"""The legal-escalation configuration: eligibility rules and demand-letter settings.

Data, not code (DESIGN.md): ``legal_default.yaml`` ships the defaults; a lender stores its
own copy (``forbear legal config set``). Every file is validated with pydantic and a
refusal is a :class:`ConfigurationError` naming the file and the key. A lender's copy may
only **tighten** eligibility, so that fewer accounts reach legal review than the defaults
allow: higher day, promise, contact and balance thresholds, and the safeguards (no hold,
no vulnerable customer, no active plan, limitation not expired: CN.LIMITATION) always on.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from forbear.domain import yamltext
from forbear.domain.errors import ConfigurationError

DEFAULT_RESOURCE = "legal_default.yaml"


class Eligibility(BaseModel):
    """When an account may go to the legal review queue (never straight to litigation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dpd: int = Field(ge=1, le=10_000)
    min_broken_promises: int = Field(ge=1, le=100)
    no_contact_days: int = Field(ge=1, le=10_000)
    min_balance: int = Field(ge=0, description="fen")
    require_no_hold: bool = True
    exclude_vulnerable: bool = True
    require_no_active_plan: bool = True
    require_limitation_not_expired: bool = True
    expiring_within_days: int = Field(default=90, ge=1, le=3_650)


class LetterSettings(BaseModel):
    """Who signs the demand letter and what it tells the debtor about paying and disputing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    creditor_zh: str = Field(min_length=1, max_length=100)
    creditor_en: str = Field(min_length=1, max_length=200)
    hotline: str = Field(min_length=3, max_length=40)
    payment_zh: str = Field(min_length=1, max_length=300)
    payment_en: str = Field(min_length=1, max_length=400)
    reply_days: int = Field(ge=7, le=90)
    dispute_days: int = Field(ge=7, le=90)


class LegalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    eligibility: Eligibility
    letter: LetterSettings


# Thresholds a lender may raise but not lower, and safeguards it may not switch off.
_AT_LEAST = ("min_dpd", "min_broken_promises", "no_contact_days", "min_balance")
_ALWAYS_ON = (
    "require_no_hold",
    "exclude_vulnerable",
    "require_no_active_plan",
    "require_limitation_not_expired",
)


def _where(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(file)"


def parse_config(text: str, *, source: str = "legal configuration") -> LegalConfig:
    """Validate a configuration file's text (not yet checked against the defaults)."""
    try:
        data = yamltext.load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: expected a mapping with eligibility and letter")
    try:
        return LegalConfig.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigurationError(f"{source}: {_where(dict(first))}: {first['msg']}{more}") from None


def check_tightens(
    config: LegalConfig, base: LegalConfig, *, source: str = "legal configuration"
) -> LegalConfig:
    """``config`` if it is no looser than ``base``; else a refusal naming the key."""
    mine, theirs = config.eligibility, base.eligibility
    for key in _AT_LEAST:
        if getattr(mine, key) < getattr(theirs, key):
            raise ConfigurationError(
                f"{source}: eligibility.{key}: {getattr(mine, key)} is below the default "
                f"{getattr(theirs, key)}; a lender may only tighten legal eligibility"
            )
    for key in _ALWAYS_ON:
        if getattr(theirs, key) and not getattr(mine, key):
            raise ConfigurationError(
                f"{source}: eligibility.{key}: a safeguard that may not be switched off"
            )
    return config


def load_config(text: str, *, source: str = "legal configuration") -> LegalConfig:
    """A lender's configuration: valid, and no looser than the shipped defaults."""
    return check_tightens(parse_config(text, source=source), default_config(), source=source)


def default_text() -> str:
    return resources.files("forbear.domain.legal").joinpath(DEFAULT_RESOURCE).read_text("utf-8")


@cache
def default_config() -> LegalConfig:
    """The shipped defaults (``legal_default.yaml``, package data)."""
    return parse_config(default_text(), source=DEFAULT_RESOURCE)
