"""Tables of the complaints area (issue 7); imported by :mod:`forbear.store.area_models`.

- ``complaints``: one row per complaint with its SLA clock (``due_on``), lifecycle status,
  resolution and root cause, and the contact hold it put on the account (``hold_id``).
  The free text (``description_enc``, ``extension_reason_enc``, ``resolution_enc``) may
  hold anything the borrower or the agent typed, an ID number or an illness: it is
  encrypted with the PII vault (contexts ``complaints.*`` in
  :class:`forbear.store.crypto.Contexts`) and never logged nor put in audit payloads.
- ``complaint_contacts``: the contact attempts a complaint is about.
- ``satisfaction_responses``: one-question surveys, one answer per subject.
- ``case_library``: closed accounts tagged success or failure with the lesson learnt
  (``lesson_enc``, encrypted like every free text).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.complaints import (
    CaseOutcome,
    ComplaintCategory,
    ComplaintSource,
    ComplaintStatus,
    RootCause,
    SurveySubject,
)
from forbear.store.models import Base, UTCDateTime, _created_at, _one_of, utcnow

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(_one_of("source", ComplaintSource), name="source"),
        CheckConstraint(_one_of("category", ComplaintCategory), name="category"),
        CheckConstraint(_one_of("status", ComplaintStatus), name="status"),
        CheckConstraint(
            f"root_cause IS NULL OR {_one_of('root_cause', RootCause)}", name="root_cause"
        ),
        CheckConstraint("due_on >= received_on", name="due_after_received"),
        Index("ix_complaints_status_due_on", "status", "due_on"),
        Index("ix_complaints_received_on", "received_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    description_enc: Mapped[bytes] = mapped_column(LargeBinary)  # vault: free text
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_on: Mapped[date] = mapped_column(Date)  # business date of receipt (day 0)
    due_on: Mapped[date] = mapped_column(Date)
    filed_by: Mapped[str] = mapped_column(String(100))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))
    extension_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    extended_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    resolution_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    root_cause: Mapped[str | None] = mapped_column(String(20))
    resolved_on: Mapped[date | None] = mapped_column(Date)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class ComplaintContact(Base):
    __tablename__ = "complaint_contacts"

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    contact_attempt_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("contact_attempts.id"), primary_key=True
    )


class SatisfactionResponse(Base):
    __tablename__ = "satisfaction_responses"
    __table_args__ = (
        CheckConstraint(_one_of("subject_type", SurveySubject), name="subject_type"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        UniqueConstraint("subject_type", "subject_id"),
        Index("ix_satisfaction_responses_answered_on", "answered_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(SmallInteger)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class CaseEntry(Base):
    """A closed account tagged success or failure with its lesson (encrypted: the lesson
    should hold no personal data, but it is typed by a person)."""

    __tablename__ = "case_library"
    __table_args__ = (
        CheckConstraint(_one_of("outcome", CaseOutcome), name="outcome"),
        UniqueConstraint("loan_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))  # a free tag: settled, plan, legal...
    lesson_enc: Mapped[bytes] = mapped_column(LargeBinary)
    written_by: Mapped[str] = mapped_column(String(100))
    written_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()


__all__ = ["CaseEntry", "Complaint", "ComplaintContact", "SatisfactionResponse"]
