"""Tables of the plans area (issue 6); imported by :mod:`forbear.store.area_models`.

- ``plans``: one repayment plan of one loan and where it is in its life
  (offered -> accepted -> active -> completed | broken | cancelled; offered -> expired).
  A partial unique index keeps at most one open (offered, accepted or active) plan per
  loan. ``base_date`` is the date of the ledger position the plan was computed from;
  the plan's schedule replaces the loan's schedule from then on while the plan governs
  the loan (active or completed; see :mod:`forbear.domain.plans.ledger`).
- ``plan_lines``: the plan's effective schedule after ``base_date`` (its own
  instalments, kind ``plan``, and the contract instalments it keeps, kind ``contract``).

Status changes are audited (``plan.offer``, ``plan.accept``, ``plan.activate``, ...);
rows hold no personal data but the reason a person typed when cancelling, encrypted with
the vault (``cancel_reason_enc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.plans.ledger import PLAN_LINES, PLAN_PERIODS
from forbear.domain.plans.model import LineKind, PlanStatus, PlanType
from forbear.store.bulk import read_frame
from forbear.store.models import Base, UTCDateTime, utcnow

OPEN_STATUSES = (PlanStatus.OFFERED, PlanStatus.ACCEPTED, PlanStatus.ACTIVE)
_OPEN_SQL = "status IN ('offered', 'accepted', 'active')"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(_one_of("plan_type", tuple(t.value for t in PlanType)), name="plan_type"),
        CheckConstraint(_one_of("status", tuple(s.value for s in PlanStatus)), name="status"),
        Index(
            "ux_plans_one_open_per_loan",
            "loan_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        Index("ix_plans_status_loan_id", "status", "loan_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    plan_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    base_date: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    start_date: Mapped[date | None] = mapped_column(Date)  # governs the loan from this date
    ended_on: Mapped[date | None] = mapped_column(Date)  # completed, broken, cancelled, expired
    end_date: Mapped[date] = mapped_column(Date)  # due date of the plan's last own instalment
    role: Mapped[str] = mapped_column(String(32))  # the authority the offer was made under
    tier: Mapped[str | None] = mapped_column(String(8))
    # the request: months, instalments, waiver, discount, payment share, affordability inputs
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    covered: Mapped[int] = mapped_column(BigInteger)
    added_interest: Mapped[int] = mapped_column(BigInteger)
    waived: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    released: Mapped[int] = mapped_column(BigInteger)
    scheduled: Mapped[int] = mapped_column(BigInteger)
    findings: Mapped[list[Any]] = mapped_column(JSON)  # contract check (legal review flags)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    cancel_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # vault: typed reason
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class PlanLine(Base):
    __tablename__ = "plan_lines"
    __table_args__ = (
        CheckConstraint(_one_of("kind", tuple(k.value for k in LineKind)), name="kind"),
        CheckConstraint(
            "principal >= 0 AND interest >= 0 AND fee >= 0 AND penalty >= 0", name="amounts"
        ),
    )

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    due_date: Mapped[date] = mapped_column(Date)
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    penalty: Mapped[int] = mapped_column(BigInteger)  # penalty carried from before the plan


# ---------------------------------------------------------------------------- readers


def read_plan_periods(conn: Connection) -> pl.DataFrame:
    """Every plan that has a start date, as ``PLAN_PERIODS``."""
    stmt = (
        select(
            Plan.id.label("plan_id"),
            Plan.loan_id,
            Plan.status,
            Plan.base_date,
            Plan.start_date,
            Plan.ended_on,
        )
        .where(Plan.start_date.is_not(None))
        .order_by(Plan.loan_id, Plan.id)
    )
    return read_frame(conn, stmt, PLAN_PERIODS)


def read_plan_lines(conn: Connection, plan_ids: Sequence[int]) -> pl.DataFrame:
    """The lines of ``plan_ids`` as ``PLAN_LINES``, by plan and seq."""
    if not plan_ids:
        return pl.DataFrame(schema=PLAN_LINES)
    frames = []
    ids = [int(i) for i in plan_ids]
    for start in range(0, len(ids), 5000):
        stmt = (
            select(
                PlanLine.plan_id,
                PlanLine.seq,
                PlanLine.kind,
                PlanLine.due_date,
                PlanLine.principal,
                PlanLine.interest,
                PlanLine.fee,
                PlanLine.penalty,
            )
            .where(PlanLine.plan_id.in_(ids[start : start + 5000]))
            .order_by(PlanLine.plan_id, PlanLine.seq)
        )
        frames.append(read_frame(conn, stmt, PLAN_LINES))
    return pl.concat(frames)


# ---------------------------------------------------------------------------- approvals

APPROVAL_STATUSES = ("pending", "approved", "adjusted", "refused", "superseded")
REASON_CONTEXT = "plan_approvals.reason"  # vault context of the agent's typed reason
DECISION_CONTEXT = "plan_approvals.decision_reason"  # ... and of the supervisor's


class PlanApproval(Base):
    """A plan beyond the submitting agent's authority, submitted for a supervisor's
    decision (issue 15, item 2): pending -> approved | adjusted (a plan offered under the
    supervisor's authority, ``plan_id``) | refused | superseded (a newer offer or
    submission on the loan). At most one pending submission per loan (partial unique
    index). The typed reasons are encrypted with the vault; ``terms`` holds the request
    (months, instalments, percentages, the borrower's stated income and expenses in fen)."""

    __tablename__ = "plan_approvals"
    __table_args__ = (
        CheckConstraint(_one_of("plan_type", tuple(t.value for t in PlanType)), name="plan_type"),
        CheckConstraint(_one_of("status", APPROVAL_STATUSES), name="status"),
        Index(
            "ux_plan_approvals_one_pending_per_loan",
            "loan_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_plan_approvals_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    status: Mapped[str] = mapped_column(String(16))
    plan_type: Mapped[str] = mapped_column(String(16))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    role: Mapped[str] = mapped_column(String(32))  # the submitting agent's role
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_on: Mapped[date | None] = mapped_column(Date)
    decision_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
