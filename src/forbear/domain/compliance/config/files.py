"""The files: a rule pack and a lender's configuration as validated models, and the kinds of
rule a pack may hold."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from forbear.domain.compliance.schema import ASSISTANT_QUIET_DEMAND

EVALUATED_KINDS = frozenset(
    {
        "quiet_hours",
        "cap_unanswered_per_number_per_day",
        "cap_connected_per_debtor_per_day",
        "cap_calls_in_window",
        "hold",
        "third_party_gate",
        "contact_source",
        "agency_notify",
        "agency_scope",
        "assignment_notice",
        "limitation",
        "holidays",
    }
)
# Kinds kept in a pack as documentation: "workflow" (clocks, records, reviews) and "content"
# (enforced by the content filter, content.py), never evaluated by the gate.
DOCUMENTED_KINDS = frozenset({"workflow", "content"})
# Kinds judged outside the gate, by a pure function of their own (the assistant's replies in
# quiet hours: forbear.domain.compliance.assistant); a lender may tighten their parameters.
REPLY_KINDS = frozenset({ASSISTANT_QUIET_DEMAND})
KINDS = EVALUATED_KINDS | DOCUMENTED_KINDS | REPLY_KINDS

Confidence = Literal["V", "V2", "P", "I"]
_CONFIDENCES = {"V", "V2", "P", "I"}
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_THIRD_PARTY_CHECKS = {"lost_contact", "refusal", "no_disclose", "no_demand"}
_HOLD_SCOPES = {"all", "medium", "debtor"}


# --------------------------------------------------------------------------- file models


class RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2}(\.[A-Z0-9_]+)+$")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    source: str
    confidence: str
    zh: str
    en: str
    enabled: bool = True


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack: str
    title: str
    timezone_default: str
    sources: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleEntry]


class HolidayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(min_length=2, max_length=3)
    subdivision: str | None = None


class LenderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str = "CN"
    timezone_default: str | None = None  # null = the pack's
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    holidays: HolidayConfig | None = None
    complaint_hold: bool = True
    enable: list[str] = Field(default_factory=list)


# The default lender: pack CN with contact allowed 08:00-21:00 (REGULATIONS.md, "Open points").
DEFAULT_LENDER = LenderConfig(pack="CN", overrides={"CN.HOURS.QUIET": {"end": "21:00"}})
