"""What a promise is and the lender's policy for it: sources, statuses, the ranking of
statuses, which holds refuse a promise, :class:`PromisePolicy`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from forbear.domain.errors import ValidationError
from forbear.domain.holds import HoldKind
from forbear.domain.money import BP_PER_UNIT


class PromiseSource(StrEnum):
    """Who took the promise."""

    AGENT = "agent"  # a collector, in a call, a visit or a chat
    PORTAL = "portal"  # the borrower, in the self-service portal
    ASSISTANT = "assistant"  # the 24-hour borrower assistant
    IMPORT = "import"  # recorded in the lender's own system and imported


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"  # withdrawn or superseded by a newer promise


RESOLVED = frozenset({PromiseStatus.KEPT, PromiseStatus.PARTLY_KEPT, PromiseStatus.BROKEN})
# How good an outcome is: a decision may only move up this scale (see ``changes``).
RANK: dict[str, int] = {
    PromiseStatus.OPEN.value: 0,
    PromiseStatus.BROKEN.value: 1,
    PromiseStatus.PARTLY_KEPT.value: 2,
    PromiseStatus.KEPT.value: 3,
}

# Holds under which a promise may not be taken, and from which sources. A deceased
# borrower cannot promise at all. Dispute, cease-communication, lawyer and do-not-contact
# holds stop collection contact (REGULATIONS.md CN holds; US.REGF.CEASE, US.REGF.DISPUTE):
# an agent or the assistant taking a promise then would itself be the forbidden contact,
# so those are refused; a promise the borrower makes on their own initiative in the
# portal, or one the lender's system recorded, is kept on file. Complaints, opt-outs of
# one medium and vulnerability do not stop a promise (vulnerability asks for care).
HOLDS_REFUSING: dict[HoldKind, frozenset[PromiseSource]] = {
    HoldKind.DECEASED: frozenset(PromiseSource),
    HoldKind.DISPUTE: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.CEASE: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.LAWYER: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.DO_NOT_CONTACT: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
}


@dataclass(frozen=True, slots=True)
class PromisePolicy:
    """The lender's promise policy. Defaults: a promise at most 30 days ahead, 2 days of
    grace, kept within 1% or ¥10 (whichever is larger, never more than 10% of the amount),
    partly kept from 10% paid, late-posted payments revise decisions for 30 days, broken
    promises counted over 90 days."""

    horizon_days: int = 30
    grace_days: int = 2
    tolerance_bp: int = 100
    tolerance_min: int = 1_000  # fen
    tolerance_cap_bp: int = 1_000
    partial_floor_bp: int = 1_000
    recheck_days: int = 30
    broken_lookback_days: int = 90

    def __post_init__(self) -> None:
        for name in ("horizon_days", "grace_days", "tolerance_min", "recheck_days"):
            if getattr(self, name) < 0:
                raise ValidationError(name, "must not be negative")
        for name in ("tolerance_bp", "tolerance_cap_bp", "partial_floor_bp"):
            if not 0 <= getattr(self, name) <= BP_PER_UNIT:
                raise ValidationError(name, "basis points between 0 and 10000")
        if self.broken_lookback_days < 1:
            raise ValidationError("broken_lookback_days", "must be at least 1")

    def tolerance(self, amount: int) -> int:
        """How much short of ``amount`` still keeps the promise (integer fen, rounded down)."""
        share = amount * self.tolerance_bp // BP_PER_UNIT
        cap = amount * self.tolerance_cap_bp // BP_PER_UNIT
        return min(max(share, self.tolerance_min), cap)

    def threshold(self, amount: int) -> int:
        """The least paid that keeps a promise of ``amount`` (always at least 1 fen)."""
        return max(amount - self.tolerance(amount), 1)

    def floor(self, amount: int) -> int:
        """The least paid that makes a promise partly kept rather than broken."""
        return max(-(-amount * self.partial_floor_bp // BP_PER_UNIT), 1)

    def deadline(self, promised_on: date) -> date:
        """The last day a payment counts."""
        return promised_on + timedelta(days=self.grace_days)


DEFAULT_POLICY = PromisePolicy()

# --- frame contracts ---------------------------------------------------------------------
