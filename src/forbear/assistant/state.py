"""The dialogue's vocabulary (issue 14, item 3): its states' names, the facts it reads
through a protocol, the actions it asks for and the step it returns (:mod:`.dialogue`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from forbear.assistant.replies import Reply

START = "start"
HANDED_OVER = "handed_over"
THIRD_PARTY = "third_party"  # the slot of a conversation with someone writing for another

# Intents about a debt: identity first.
DEBT_INTENTS = frozenset(
    {
        "balance",
        "due_date",
        "promise_to_pay",
        "request_instalment",
        "request_deferral",
        "hardship",
        "dispute",
        "already_paid",
        "complaint",
        "stop_contact",
        "payment_method",
        "fee_waiver",
    }
)
STOP_CHANNELS = ("call", "ai_call", "sms", "im", "email")
DISPUTE_REASONS = ("amount_wrong", "already_paid", "not_my_loan", "other")

# ------------------------------------------------------------------ facts


@dataclass(frozen=True)
class LoanFacts:
    loan_id: int
    ref: str
    status: str
    dpd: int
    overdue_total: int
    outstanding_total: int
    next_due_date: date | None
    next_due_amount: int | None
    oldest_due_date: date | None


@dataclass(frozen=True)
class PlanChoice:
    key: str  # services.portal.PlanOption.key
    plan_type: str  # "deferral" or "restructure"
    months: int | None
    count: int  # instalments of the new schedule
    first_due_date: date
    first_amount: int
    largest_amount: int
    total: int


Party = Literal["session", "debtor", "third_party", "unknown"]
VerifyResult = Literal["ok", "wrong", "locked"]


class Facts(Protocol):
    """What the dialogue may know. Only read for a verified borrower (the engine's
    implementation refuses otherwise)."""

    @property
    def today(self) -> date: ...

    @property
    def verified(self) -> bool: ...

    @property
    def party(self) -> Party: ...

    @property
    def verification(self) -> VerifyResult | None:
        """The outcome of the ID digits this message carried (None: none checked)."""
        ...

    @property
    def promise_latest(self) -> date:
        """The last day a promise may name (the promise policy's horizon)."""
        ...

    def loans(self) -> list[LoanFacts]: ...

    def plan_options(self, loan_id: int) -> list[PlanChoice]: ...

    def plan_schedule(self, loan_id: int, key: str) -> list[tuple[date, list[tuple[str, int]]]]:
        """What falls due on each day under one option: the day and its lines (``plan`` or
        ``contract`` kept by the plan, amount), to read back (empty: unknown)."""
        ...

    def rights(self) -> tuple[list[str], int, str]:
        """(contact windows, complaint answer days, the regulator's hotline)"""
        ...

    def payment_methods(self) -> tuple[str, ...]: ...


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Action:
    kind: Literal[
        "hand_over",
        "flag_vulnerable",
        "mark_wrong_number",
        "make_promise",
        "choose_plan",
        "dispute",
        "complain",
        "opt_out",
    ]
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    # what to say when it worked / when the use case refused with a Conflict
    done: Reply | None = None
    conflict: Reply | None = None


@dataclass(frozen=True)
class State:
    name: str = START
    slots: dict[str, Any] = field(default_factory=dict, hash=False)
    misses: int = 0


@dataclass
class Step:
    state: str
    slots: dict[str, Any]
    misses: int
    intent: str | None = None
    replies: list[Reply] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value)

    def say(self, key: str, **params: Any) -> Step:
        self.replies.append(Reply(key, params))
        return self

    def hand_over(self, reason: str) -> Step:
        if not any(a.kind == "hand_over" for a in self.actions):
            self.actions.append(Action("hand_over", {"reason": reason, "intent": self.intent}))
        self.state = HANDED_OVER
        return self
