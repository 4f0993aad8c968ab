"""Contacts: attempts with the gate decision that allowed or blocked them, holds, agency
assignments, account notices, logged demands and human-set account flags; and the bulk
readers that build the compliance gate's HISTORY / FLAGS / HOLDS frames
(:mod:`forbear.domain.compliance.schema`) for the whole book or for one borrower.

A blocked request is stored too (``allowed`` false, ``outcome`` null or ``blocked``): it is
the record of a decision, never a contact, so the HISTORY reader leaves it out
(CN.FREQ.* count contacts, not refusals).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy import Connection as _Connection
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.compliance import schema as contracts
from forbear.domain.compliance.schema import Channel, HoldKind, Outcome, Party, Purpose
from forbear.store.bulk import read_frame
from forbear.store.models import Base, Instalment, Loan, UTCDateTime, _created_at, _one_of

# How far back the gate looks at past contacts. Every daily counter (CN.FREQ.*) and the
# lost-contact tests (CN.3P.LOST_CONTACT_GATE: 3 days running) need days, the US pack's
# 7-in-7 needs a week; a month is ample and keeps the online read small. The batch and the
# online path use the same window, so they see the same history.
HISTORY_LOOKBACK = timedelta(days=31)


class NoticeKind(StrEnum):
    AGENCY_NOTICE = "agency_notice"  # CN.AGENCY.NOTIFY_DEBTOR
    ASSIGNMENT = "assignment"  # CN.ASSIGN.NOTICE
    CREDIT_PRENOTICE = "credit_prenotice"  # CN.CREDIT.PRENOTICE


class ContactAttempt(Base):
    __tablename__ = "contact_attempts"
    __table_args__ = (
        CheckConstraint(_one_of("channel", Channel), name="channel"),
        CheckConstraint(_one_of("party", Party), name="party"),
        CheckConstraint(f"outcome IS NULL OR {_one_of('outcome', Outcome)}", name="outcome"),
        CheckConstraint(_one_of("purpose", Purpose), name="purpose"),
        CheckConstraint(
            "allowed OR outcome IS NULL OR outcome = 'blocked'", name="blocked_no_outcome"
        ),
        Index("ix_contact_attempts_borrower_id_at", "borrower_id", "at"),
        Index("ix_contact_attempts_loan_id_at", "loan_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_points.id"))
    channel: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(Integer)  # null = the lender's own staff
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    allowed: Mapped[bool] = mapped_column(Boolean)
    blocked_by: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    earliest_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    template_code: Mapped[str | None] = mapped_column(String(64))
    discloses_debt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_demand: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # collect (discuss the debt) or locate (a third party asked to have the debtor call back)
    purpose: Mapped[str] = mapped_column(
        String(16), default=Purpose.COLLECT.value, server_default=Purpose.COLLECT.value
    )
    created_at: Mapped[datetime] = _created_at()

    @property
    def rule_ids(self) -> list[str]:
        return [str(rule) for rule in json.loads(self.blocked_by)]


class Hold(Base):
    """HOLDS, plus who set it and why. ``until`` null = open."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint(_one_of("kind", HoldKind), name="kind"),
        CheckConstraint(f"channel IS NULL OR {_one_of('channel', Channel)}", name="channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))  # null = every loan
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_points.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Forbear's own reason (a rule id or code, never typed by a person) in clear; what a
    # person typed is encrypted with the vault (``Contexts.HOLD_REASON``).
    reason: Mapped[str | None] = mapped_column(Text)
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class AgencyAssignment(Base):
    """An account placed with an external agency for ``[from_at, to_at)`` (CN.AGENCY.SCOPE:
    never two agencies at once; the service closes the previous placement)."""

    __tablename__ = "agency_assignments"
    __table_args__ = (CheckConstraint("to_at IS NULL OR to_at > from_at", name="period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    agency_id: Mapped[int] = mapped_column(Integer, index=True)
    from_at: Mapped[datetime] = mapped_column(UTCDateTime())
    to_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class AccountNotice(Base):
    """A notice sent to the debtor that unlocks work: agency (CN.AGENCY.NOTIFY_DEBTOR),
    assignment (CN.ASSIGN.NOTICE), credit-bureau pre-notice (CN.CREDIT.PRENOTICE)."""

    __tablename__ = "account_notices"
    __table_args__ = (CheckConstraint(_one_of("kind", NoticeKind), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    agency_id: Mapped[int | None] = mapped_column(Integer)  # for agency notices
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class Demand(Base):
    """A logged demand for payment with a reference to its proof: each one restarts the
    limitation period (CN.LIMITATION; 民法典 art. 195)."""

    __tablename__ = "demands"
    __table_args__ = (CheckConstraint(_one_of("channel", Channel), name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    evidence_ref: Mapped[str] = mapped_column(String(200))
    contact_attempt_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("contact_attempts.id")
    )
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class AccountFlags(Base):
    """Facts a human records about an account: sold/assigned to a new creditor, the debtor
    found unreachable (CN.3P.LOST_CONTACT_GATE)."""

    __tablename__ = "account_flags"

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assignee_ref: Mapped[str | None] = mapped_column(String(100))
    debtor_unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


# --- bulk readers: the gate's input frames ------------------------------------------------


def read_history(
    conn: _Connection,
    *,
    before: datetime,
    since: datetime | None = None,
    borrower_id: int | None = None,
    borrower_ids: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Allowed contact attempts in ``[since, before)`` as HISTORY, ordered by borrower and
    time; ``since`` defaults to ``before - HISTORY_LOOKBACK``. Blocked requests are left
    out: they were never contacts. ``borrower_id`` / ``borrower_ids``: only theirs."""
    start = before - HISTORY_LOOKBACK if since is None else since
    a = ContactAttempt
    stmt = (
        select(
            a.borrower_id,
            a.loan_id,
            a.contact_point_id,
            a.channel,
            a.party,
            a.at,
            a.outcome,
            a.agency_id,
        )
        .where(a.allowed.is_(True), a.at >= start, a.at < before)
        .order_by(a.borrower_id, a.at, a.id)
    )
    if borrower_id is not None:
        stmt = stmt.where(a.borrower_id == borrower_id)
    if borrower_ids is not None:
        stmt = stmt.where(a.borrower_id.in_(sorted({int(b) for b in borrower_ids})))
    return _read(conn, stmt, contracts.HISTORY)


def read_holds(
    conn: _Connection,
    *,
    borrower_id: int | None = None,
    borrower_ids: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Every hold as HOLDS (open and released: the gate judges ``since``/``until``), of
    ``borrower_id`` / ``borrower_ids`` when given."""
    h = Hold
    stmt = select(
        h.borrower_id, h.loan_id, h.kind, h.channel, h.contact_point_id, h.since, h.until
    ).order_by(h.borrower_id, h.id)
    if borrower_id is not None:
        stmt = stmt.where(h.borrower_id == borrower_id)
    if borrower_ids is not None:
        stmt = stmt.where(h.borrower_id.in_(sorted({int(b) for b in borrower_ids})))
    return _read(conn, stmt, contracts.HOLDS)


def read_flags(
    conn: _Connection,
    *,
    at: datetime,
    borrower_id: int | None = None,
    borrower_ids: Sequence[int] | None = None,
    last_due: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One FLAGS row per loan as known at ``at`` (the agency it is placed with at ``at``,
    the notices and demands logged up to ``at``), ordered by ``loan_id``; of
    ``borrower_id`` / ``borrower_ids``' loans when given. ``last_due`` (``loan_id,
    last_due_date``, each loan's last contract instalment) is given by a caller that has
    read the schedules already (the daily run): the query then does not group every
    instalment again."""
    # For some borrowers the grouped subqueries are cut to their loans first: SQLite does
    # not push the outer filter down into them (benchmarks/README.md, gate.py).
    if borrower_ids is not None:
        wanted = sorted({int(b) for b in borrower_ids})
        mine: Any = select(Loan.id).where(Loan.borrower_id.in_(wanted)).scalar_subquery()
    elif borrower_id is not None:
        mine = select(Loan.id).where(Loan.borrower_id == borrower_id).scalar_subquery()
    else:
        mine = None

    def only_mine(column: Any) -> ColumnElement[bool]:
        return column.in_(mine) if mine is not None else true()

    placed = (
        select(AgencyAssignment.loan_id, func.max(AgencyAssignment.agency_id).label("agency_id"))
        .where(
            AgencyAssignment.from_at <= at,
            or_(AgencyAssignment.to_at.is_(None), AgencyAssignment.to_at > at),
            only_mine(AgencyAssignment.loan_id),
        )
        .group_by(AgencyAssignment.loan_id)
        .subquery("placed")
    )
    agency_notes = _latest_notice(NoticeKind.AGENCY_NOTICE, at, by_agency=True)
    assign_notes = _latest_notice(NoticeKind.ASSIGNMENT, at, by_agency=False)
    due_rows = (
        select(Instalment.loan_id, func.max(Instalment.due_date).label("last_due_date"))
        .where(only_mine(Instalment.loan_id))
        .group_by(Instalment.loan_id)
        .subquery("last_due")
    )
    demands = (
        select(Demand.loan_id, func.max(Demand.at).label("last_demand_at"))
        .where(Demand.at <= at, only_mine(Demand.loan_id))
        .group_by(Demand.loan_id)
        .subquery("last_demand")
    )
    f = AccountFlags
    stmt = (
        select(
            Loan.id.label("loan_id"),
            Loan.borrower_id,
            placed.c.agency_id,
            agency_notes.c.at.label("agency_notified_at"),
            _not_after(f.assigned_at, at).label("assigned_at"),
            assign_notes.c.at.label("assignment_notified_at"),
            (
                cast(null(), Date).label("last_due_date")
                if last_due is not None
                else due_rows.c.last_due_date
            ),
            demands.c.last_demand_at,
            _not_after(f.debtor_unreachable_since, at).label("debtor_unreachable_since"),
        )
        .select_from(Loan)
        .outerjoin(placed, placed.c.loan_id == Loan.id)
        .outerjoin(
            agency_notes,
            and_(
                agency_notes.c.loan_id == Loan.id,
                agency_notes.c.agency_id == placed.c.agency_id,
            ),
        )
        .outerjoin(assign_notes, assign_notes.c.loan_id == Loan.id)
        .outerjoin(demands, demands.c.loan_id == Loan.id)
        .outerjoin(f, f.loan_id == Loan.id)
    )
    if last_due is None:
        stmt = stmt.outerjoin(due_rows, due_rows.c.loan_id == Loan.id)
    stmt = stmt.order_by(Loan.id)
    if borrower_id is not None:
        stmt = stmt.where(Loan.borrower_id == borrower_id)
    if borrower_ids is not None:
        stmt = stmt.where(Loan.borrower_id.in_(sorted({int(b) for b in borrower_ids})))
    flags = _read(conn, stmt, contracts.FLAGS)
    if last_due is None:
        return flags
    return (
        flags.drop("last_due_date")
        .join(
            last_due.select(
                pl.col("loan_id").cast(pl.Int64), pl.col("last_due_date").cast(pl.Date)
            ),
            on="loan_id",
            how="left",
            maintain_order="left",
        )
        .select(list(contracts.FLAGS))
    )


def _latest_notice(kind: NoticeKind, at: datetime, *, by_agency: bool) -> Any:
    n = AccountNotice
    keys = [n.loan_id, n.agency_id] if by_agency else [n.loan_id]
    return (
        select(*keys, func.max(n.at).label("at"))
        .where(n.kind == kind.value, n.at <= at)
        .group_by(*keys)
        .subquery(f"notice_{kind.value}")
    )


def _not_after(column: Any, at: datetime) -> ColumnElement[Any]:
    """``column`` if it is not later than ``at``, else null (a fact not yet known)."""
    return case((column <= at, column), else_=null())


def _read(
    conn: _Connection, stmt: Select[*tuple[Any, ...]], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """:func:`forbear.store.bulk.read_frame`, but robust to the session time zone: on
    PostgreSQL the UTC timestamps are rendered as UTC text first (COPY writes them in the
    session's zone with an offset, which the CSV reader would not parse to the contract)."""
    if conn.dialect.name != "postgresql":
        return read_frame(conn, stmt, schema)
    utc_columns = [name for name, dtype in schema.items() if isinstance(dtype, pl.Datetime)]
    sub = stmt.subquery()
    outer = select(
        *(
            func.to_char(
                func.timezone("UTC", sub.c[name]), literal("YYYY-MM-DD HH24:MI:SS.US")
            ).label(name)
            if name in utc_columns
            else sub.c[name]
            for name in schema
        )
    ).order_by(*(sub.c[name] for name in _order_keys(schema)))
    text_schema = {
        name: (pl.String() if name in utc_columns else dtype) for name, dtype in schema.items()
    }
    frame = read_frame(conn, outer, text_schema)
    return frame.with_columns(
        pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        for name in utc_columns
    ).select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _order_keys(schema: dict[str, pl.DataType]) -> list[str]:
    # The wrapped select loses the inner ORDER BY on some planners: order again.
    if schema is contracts.FLAGS:
        return ["loan_id"]
    return ["borrower_id", "at"] if "at" in schema else ["borrower_id"]


def rule_ids_json(rule_ids: list[str]) -> str:
    """``blocked_by`` as stored: a JSON list of rule ids, in the gate's order."""
    return json.dumps(list(rule_ids), ensure_ascii=False)


__all__ = [
    "HISTORY_LOOKBACK",
    "AccountFlags",
    "AccountNotice",
    "AgencyAssignment",
    "ContactAttempt",
    "Demand",
    "Hold",
    "NoticeKind",
    "read_flags",
    "read_history",
    "read_holds",
    "rule_ids_json",
]
