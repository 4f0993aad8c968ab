"""The channels, the columns an action frame must have, and why an action is carried over."""

from __future__ import annotations

from typing import Literal

Channel = Literal["sms", "email", "app_push", "ai_call", "call", "letter", "visit", "legal_review"]

CHANNELS: tuple[Channel, ...] = (
    "sms",
    "email",
    "app_push",
    "ai_call",
    "call",
    "letter",
    "visit",
    "legal_review",
)
AGENT_CHANNELS: frozenset[str] = frozenset({"call", "visit", "legal_review"})
CONTACT_CHANNELS: frozenset[str] = frozenset({"call", "visit"})  # one a day per borrower
AUTOMATED_CHANNELS: frozenset[str] = frozenset(CHANNELS) - AGENT_CHANNELS

DEFAULT_RESOURCE = "capacity_default.yaml"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "action_id",
    "loan_id",
    "borrower_id",
    "channel",
    "lang",
    "skill",
    "priority",
    "expected_recovery",
    "carried_days",
)

# carry_reason values (null when scheduled)
CHANNEL_LIMIT = "channel_limit"
AGENT_CAPACITY = "agent_capacity"
NO_ELIGIBLE_AGENT = "no_eligible_agent"
DUPLICATE_BORROWER = "duplicate_borrower"
_REASONS: tuple[str, ...] = (CHANNEL_LIMIT, AGENT_CAPACITY, NO_ELIGIBLE_AGENT, DUPLICATE_BORROWER)
_R_NONE, _R_CHANNEL, _R_AGENT, _R_NOELIG, _R_DUP = -1, 0, 1, 2, 3
