"""The collector's workbench (issue 15, item 3): call notes and agreed callbacks.

- ``account_notes``: free text a collector types about an account (a call's note), stored
  encrypted like every other free text (:data:`NOTE_CONTEXT`): it may hold anything the
  borrower said, an illness, a new phone number. The author and the attempt it belongs to
  are kept in clear.
- ``callbacks``: a call the borrower agreed to at a time (约定回电), checked by the
  compliance gate when it was agreed; it shows up in the agent's queue when due and is
  closed (``done`` or ``cancelled``) by whoever works it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime, _created_at, _one_of

NOTE_CONTEXT = "account_notes.text"  # the associated data of an encrypted note


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class AccountNote(Base):
    __tablename__ = "account_notes"
    __table_args__ = (Index("ix_account_notes_loan_id_created_at", "loan_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    author: Mapped[str] = mapped_column(String(100))  # the audit trail's name of the actor
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _created_at()


class Callback(Base):
    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint(_one_of("status", CallbackStatus), name="status"),
        Index("ix_callbacks_agent_ref_status_due_at", "agent_ref", "status", "due_at"),
        Index("ix_callbacks_loan_id_status", "loan_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    agent_ref: Mapped[str | None] = mapped_column(String(64))  # whose queue it lands in
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.OPEN.value)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(100))


__all__ = ["NOTE_CONTEXT", "AccountNote", "Callback", "CallbackStatus"]
