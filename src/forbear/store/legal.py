"""Tables of the legal area (issue 6); imported by :mod:`forbear.store.area_models`.

- ``legal_config_versions``: the lender's legal-escalation configuration, as versions of
  its YAML text (the newest is in force; every change audited as ``legal.config``).
- ``legal_queue``: accounts put in front of the legal team by the daily refresh, with the
  criteria that held (``reasons``, JSON). At most one open entry (``queued`` or
  ``case_opened``) per loan; an entry that stops being eligible before a case is opened is
  ``removed`` with the failed criteria.
- ``legal_cases``: one case per loan at a time (open = not ``settled`` / ``closed``), its
  current stage and dates; ``legal_case_events`` is the history of its stages,
  ``legal_case_costs`` its costs in fen, ``legal_documents`` what was generated for it
  (with the sha256 of each file, so a document filed in court can be matched).

Use cases live in :mod:`forbear.services.legal`. No personal data is stored here: names,
ID numbers and addresses are read from the borrower (encrypted) when a document is made.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import polars as pl
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.compliance.schema import Outcome, Party
from forbear.domain.legal.lifecycle import CostKind, Stage
from forbear.store.contacts import ContactAttempt, _read
from forbear.store.models import Base, UTCDateTime, _created_at, _one_of


class QueueStatus(StrEnum):
    QUEUED = "queued"  # waiting for the legal team's review
    CASE_OPENED = "case_opened"  # a case was opened from it
    REMOVED = "removed"  # no longer eligible before any case was opened


class DocumentKind(StrEnum):
    DEMAND_LETTER = "demand_letter"
    LITIGATION_PACKAGE = "litigation_package"


OPEN_QUEUE = ("queued", "case_opened")
FINAL_STAGES = ("settled", "closed")


class LegalConfigVersion(Base):
    __tablename__ = "legal_config_versions"
    __table_args__ = (CheckConstraint("version > 0", name="version_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    yaml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LegalQueueEntry(Base):
    __tablename__ = "legal_queue"
    __table_args__ = (
        CheckConstraint(_one_of("status", QueueStatus), name="status"),
        Index(
            "uq_legal_queue_open_loan",
            "loan_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'case_opened')"),
            sqlite_where=text("status IN ('queued', 'case_opened')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    queued_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)  # JSON list: criterion, held, values
    removed_on: Mapped[date | None] = mapped_column(Date)
    removed_because: Mapped[str | None] = mapped_column(Text)  # JSON list of failed criteria
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class LegalCase(Base):
    __tablename__ = "legal_cases"
    __table_args__ = (
        CheckConstraint(_one_of("stage", Stage), name="stage"),
        Index(
            "uq_legal_cases_open_loan",
            "loan_id",
            unique=True,
            postgresql_where=text("stage NOT IN ('settled', 'closed')"),
            sqlite_where=text("stage NOT IN ('settled', 'closed')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    queue_entry_id: Mapped[int] = mapped_column(ForeignKey("legal_queue.id"))
    stage: Mapped[str] = mapped_column(String(16))
    opened_on: Mapped[date] = mapped_column(Date)
    stage_on: Mapped[date] = mapped_column(Date)  # the date of the current stage
    court: Mapped[str | None] = mapped_column(String(200))
    case_number: Mapped[str | None] = mapped_column(String(100))  # 案号, from filing
    closed_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # vault: free text
    opened_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class LegalCaseEvent(Base):
    """One stage a case reached (the first is ``review``, when it was opened)."""

    __tablename__ = "legal_case_events"
    __table_args__ = (
        CheckConstraint(_one_of("stage", Stage), name="stage"),
        CheckConstraint(f"from_stage IS NULL OR {_one_of('from_stage', Stage)}", name="from_stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    stage_on: Mapped[date] = mapped_column(Date)
    court: Mapped[str | None] = mapped_column(String(200))
    case_number: Mapped[str | None] = mapped_column(String(100))
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # vault: free text
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class LegalCaseCost(Base):
    __tablename__ = "legal_case_costs"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CostKind), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    incurred_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class LegalDocument(Base):
    __tablename__ = "legal_documents"
    __table_args__ = (CheckConstraint(_one_of("kind", DocumentKind), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    as_of: Mapped[date] = mapped_column(Date)
    files: Mapped[str] = mapped_column(Text)  # JSON: {file name: sha256}
    findings: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


# --- bulk readers ---------------------------------------------------------------------------

LAST_CONTACT: dict[str, pl.DataType] = {
    "borrower_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "last_contact_at": pl.Datetime("us", "UTC"),
}


def read_last_debtor_contact(conn: Connection, *, before: datetime) -> pl.DataFrame:
    """Per loan, the latest conversation with the debtor before ``before``: an allowed
    attempt on the debtor that connected (a letter or a message delivered is not a
    conversation, a blocked request is not a contact at all)."""
    a = ContactAttempt
    stmt = (
        select(a.borrower_id, a.loan_id, func.max(a.at).label("last_contact_at"))
        .where(
            a.allowed.is_(True),
            a.party == Party.DEBTOR.value,
            a.outcome == Outcome.CONNECTED.value,
            a.at < before,
        )
        .group_by(a.borrower_id, a.loan_id)
        .order_by(a.borrower_id, a.loan_id)
    )
    return _read(conn, stmt, LAST_CONTACT)


__all__ = [
    "FINAL_STAGES",
    "LAST_CONTACT",
    "OPEN_QUEUE",
    "DocumentKind",
    "LegalCase",
    "LegalCaseCost",
    "LegalCaseEvent",
    "LegalConfigVersion",
    "LegalDocument",
    "LegalQueueEntry",
    "QueueStatus",
    "read_last_debtor_contact",
]


def read_state(conn: Connection, as_of: date, loan_id: int) -> pl.DataFrame:
    """The stored ledger state of one loan on ``as_of`` (``STATES``; empty if none)."""
    from forbear.domain.ledger import schema as ledger
    from forbear.store.bulk import read_frame
    from forbear.store.models import AccountState

    stmt = select(*(getattr(AccountState, name) for name in ledger.STATES)).where(
        AccountState.as_of == as_of, AccountState.loan_id == loan_id
    )
    return read_frame(conn, stmt, ledger.STATES)
