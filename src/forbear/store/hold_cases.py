"""Holds worked on the collection floor (issue 15, item 1): the owner and the ending of a
hold, a dispute's lifecycle and clock, and the evidence a borrower attached to a dispute.

A ``holds`` row says what is held and when (the gate reads it); a ``hold_cases`` row,
one per hold and made the first time someone works it, says who works it and how it
ended. A dispute's status lives here too (open until a ``hold_cases`` row says
otherwise). Evidence files are sealed with the PII vault and written 0600 under the data
directory; the table keeps their name (sealed), type, size and digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.holds import DisputeStatus, Resolution
from forbear.store.models import Base, UTCDateTime, _created_at, _one_of

# The associated-data labels of the sealed values (``"table.column"``).
RELEASE_REASON = "hold_cases.reason"
DISPUTE_ANSWER = "hold_cases.answer"
EVIDENCE_NAME = "dispute_evidence.name"
EVIDENCE_CONTENT = "dispute_evidence.content"


class HoldCase(Base):
    """Who works hold ``hold_id`` and how it ended; a dispute's status and due moment."""

    __tablename__ = "hold_cases"
    __table_args__ = (
        UniqueConstraint("hold_id"),
        CheckConstraint(_one_of("status", DisputeStatus), name="status"),
        CheckConstraint(
            f"resolution IS NULL OR {_one_of('resolution', Resolution)}", name="resolution"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"))
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(100))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # disputes only
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    resolution: Mapped[str | None] = mapped_column(String(16))
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # why it was released
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created_at()


class DisputeEvidence(Base):
    """A file a borrower attached to the dispute held by ``hold_id``."""

    __tablename__ = "dispute_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), index=True)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))  # under the data directory
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


def ensure_case(conn: Connection, hold_id: int, *, status: str, due_at: datetime | None) -> None:
    """Make the ``hold_cases`` row of ``hold_id`` if there is none (two requests making it
    at once make one: ``INSERT ... ON CONFLICT DO NOTHING`` on both backends)."""
    values = {"hold_id": hold_id, "status": status, "due_at": due_at}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        conn.execute(
            postgresql.insert(HoldCase)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["hold_id"])
        )
    else:
        from sqlalchemy.dialects import sqlite

        conn.execute(
            sqlite.insert(HoldCase)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["hold_id"])
        )
