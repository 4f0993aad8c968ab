"""The conversation engine: one message in, the replies out (issue 14, items 1, 3 and 4).

Every front end builds an :class:`Incoming` and calls :meth:`Assistant.handle`; the
answer is an :class:`Outgoing` whose replies have already passed the guardrails and the
content filter. For SMS and app messages the engine also queues the replies for the
dispatcher (:func:`forbear.services.assistant.queue_outbound`); the portal and the API
show them in the response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Channel = Literal["portal", "sms", "app", "api", "cli"]


@dataclass(frozen=True)
class Incoming:
    """One message from a borrower (or someone who writes as one)."""

    channel: Channel
    text: str
    received_at: datetime  # UTC
    # A borrower already identified by the front end: a portal session, the lender's app
    # (signed by the lender), the CLI's --borrower. It counts as verified identity.
    borrower_id: int | None = None
    # For SMS and app messages without a session: the phone number it came from.
    sender: str | None = None
    # Continue this conversation (the portal and the API keep its id); else the engine
    # finds the open one of this borrower or sender on this channel, or starts one.
    conversation_id: int | None = None
    language: str | None = None  # the front end's language hint ("zh" or "en")


@dataclass(frozen=True)
class Option:
    """A quick reply the portal shows as a button (and the API returns): pressing it sends
    ``value`` as the next message."""

    label: str
    value: str


@dataclass(frozen=True)
class Outgoing:
    conversation_id: int
    replies: tuple[str, ...]  # what the borrower reads, in order, already filtered
    state: str  # the dialogue state after this message
    intent: str | None  # what the message was understood as (None: not understood)
    handed_over: bool  # a person has been asked to take over (or has)
    agent_joined: bool = False  # a person is answering now: the engine stays silent
    options: tuple[Option, ...] = field(default_factory=tuple)
    language: str = "zh"
