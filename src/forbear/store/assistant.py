"""The borrower assistant's conversations (issue 14, migration 0021).

- ``assistant_conversations``: one conversation of a borrower (or of an SMS sender not yet
  known to be one) on one channel. ``borrower_id`` is set when the channel says who it is
  (a portal session, the lender's app, the CLI: then ``verified_at`` / ``verified_by`` too)
  or when an SMS sender matched a contact point of the file (then ``owner_type`` says whose
  number it is, and the conversation is *not* verified until the borrower passes the
  identity check). ``sender_bidx`` is the blind index of the SMS sender (never the number
  in clear). ``state`` and ``slots_enc`` (encrypted JSON, :data:`SLOTS_CONTEXT`) are the
  dialogue engine's; ``status`` says who answers: ``bot``, ``waiting`` (handed over, in
  the agents' queue), ``agent`` (an agent took it), ``closed``. ``verify_failures`` counts
  the wrong identity answers since ``verify_window_start`` (locked at three in 24 h).
- ``assistant_turns``: what each side said, in order (``seq``), the text encrypted
  (:data:`TURN_CONTEXT`); ``intent`` / ``confidence`` what the model made of a borrower's
  turn; ``author`` the agent (or ``system``); ``outbox_id`` the outbox row that carried an
  answer by SMS / app.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime, _one_of

# The associated-data labels of the encrypted columns.
TURN_CONTEXT = "assistant.turn"
SLOTS_CONTEXT = "assistant.slots"
SENDER_CONTEXT = "assistant.sender"


class ConversationChannel(StrEnum):
    PORTAL = "portal"
    SMS = "sms"
    APP = "app"
    API = "api"
    CLI = "cli"


class VerifiedBy(StrEnum):
    PORTAL_SESSION = "portal_session"  # a signed-in portal session
    APP = "app"  # the lender's app vouches for its user
    ID_LAST4 = "id_last4"  # the last digits of the national ID number, asked in chat
    CLI = "cli"  # an operator on the command line, for a named borrower
    API = "api"  # an API client acting for a named borrower


class ConversationStatus(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    AGENT = "agent"
    CLOSED = "closed"


class HandoffReason(StrEnum):
    CRISIS = "crisis"
    ABUSIVE = "abusive"
    ASKED = "asked"
    NOT_UNDERSTOOD = "not_understood"
    DISPUTE = "dispute"
    COMPLAINT = "complaint"
    OTHER = "other"


class TurnRole(StrEnum):
    BORROWER = "borrower"
    ASSISTANT = "assistant"
    AGENT = "agent"
    SYSTEM = "system"


class AssistantConversation(Base):
    __tablename__ = "assistant_conversations"
    __table_args__ = (
        CheckConstraint(_one_of("channel", ConversationChannel), name="channel"),
        CheckConstraint(_one_of("verified_by", VerifiedBy), name="verified_by"),
        CheckConstraint(_one_of("status", ConversationStatus), name="status"),
        CheckConstraint(_one_of("handoff_reason", HandoffReason), name="handoff_reason"),
        Index(
            "ix_assistant_conversations_borrower_id_channel_status",
            "borrower_id",
            "channel",
            "status",
        ),
        Index(
            "ix_assistant_conversations_sender_bidx_channel_status",
            "sender_bidx",
            "channel",
            "status",
        ),
        Index("ix_assistant_conversations_status_handoff_at", "status", "handoff_at"),
        Index("ix_assistant_conversations_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"))
    contact_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_points.id", ondelete="SET NULL")
    )
    sender_bidx: Mapped[str | None] = mapped_column(String(64))
    # the number of a sender on no file, sealed (SENDER_CONTEXT): where answers go
    sender_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    owner_type: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(64))
    slots_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by: Mapped[str | None] = mapped_column(String(16))
    verify_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    verify_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    misses: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(100))
    handoff_reason: Mapped[str | None] = mapped_column(String(32))
    handoff_intent: Mapped[str | None] = mapped_column(String(64))
    handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    vulnerable: Mapped[bool] = mapped_column(Boolean, server_default=false())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AssistantTurn(Base):
    __tablename__ = "assistant_turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint(_one_of("role", TurnRole), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("assistant_conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    author: Mapped[str | None] = mapped_column(String(100))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = [
    "SENDER_CONTEXT",
    "SLOTS_CONTEXT",
    "TURN_CONTEXT",
    "AssistantConversation",
    "AssistantTurn",
    "ConversationChannel",
    "ConversationStatus",
    "HandoffReason",
    "TurnRole",
    "VerifiedBy",
]
