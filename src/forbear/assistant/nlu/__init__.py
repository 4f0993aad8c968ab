"""Understanding a borrower's message, offline on the CPU (issue 14, item 2).

What the conversation engine (:mod:`forbear.assistant.engine`) needs from a message is one
:class:`Understanding`: the normalised text, its language, the intent with its confidence
and the runner-up, and the entities (amounts, dates, digit groups). An
:class:`Understander` makes it; :func:`forbear.assistant.nlu.model.load` gives the one the
app uses (the trained artefact, see :mod:`.model`).

Nothing here decides what to do: the engine and its guardrails do, and they never trust the
model for safety (crisis, abuse, third parties and injections are also caught by rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

# The intents the model knows (issue 14, item 2). The order is the artefact's label order.
INTENTS: tuple[str, ...] = (
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
    "verify_identity",
    "human",
    "wrong_person",
    "payment_method",
    "fee_waiver",
    "rights",
    "greet",
    "goodbye",
    "abusive",
    "out_of_scope",
)

Language = Literal["zh", "en"]


@dataclass(frozen=True)
class Amount:
    """A sum of money the borrower wrote, in fen (``¥1,200.50``, ``一千二``, ``1.2k``)."""

    fen: int
    text: str  # as written


@dataclass(frozen=True)
class DateMention:
    """A day the borrower named, always on or after ``today`` (a past day means the next
    one: "15号" written on the 20th is the 15th of next month). ``on`` is None when the day
    cannot be known from the text alone (发工资那天, "payday"): ``question`` is then the
    follow-up to ask (a message key of the engine's catalogue)."""

    on: date | None
    text: str
    question: str | None = None


@dataclass(frozen=True)
class Understanding:
    text: str  # the message as received
    normalised: str  # Simplified, half-width, lower-case, spaces collapsed
    language: Language
    intent: str  # one of INTENTS
    confidence: float  # the top intent's probability
    runner_up: str | None
    margin: float  # top probability minus the runner-up's
    confident: bool  # confidence and margin above the artefact's thresholds
    amounts: tuple[Amount, ...] = ()
    dates: tuple[DateMention, ...] = ()
    digits: tuple[str, ...] = ()  # runs of 4 to 6 digits / X (an ID number's last digits)


class Understander(Protocol):
    """What the engine calls; :func:`.model.load` returns the trained one."""

    def understand(self, text: str, *, today: date) -> Understanding: ...
