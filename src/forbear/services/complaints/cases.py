"""Complaints: file and work them against the SLA clock (the package docstring), read one,
and the queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection, func, insert, select

from forbear.domain import complaints as domain
from forbear.domain.complaints import (
    ComplaintCategory,
    ComplaintSource,
    ComplaintStatus,
    RootCause,
    SlaClock,
)
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import contacts as contact_service
from forbear.services.complaints.common import (
    _actor,
    _business_day,
    _move,
    _require_borrower,
    _require_loan_of,
    _row,
    _text,
    _utc,
    _vocabulary,
)
from forbear.store import audit
from forbear.store.complaints import Complaint, ComplaintContact
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Loan

# --- complaints -----------------------------------------------------------------------------


def file_complaint(
    conn: Connection,
    vault: PiiVault,
    *,
    borrower_id: int,
    loan_id: int | None,
    source: str,
    category: str,
    description: str,
    actor: str,
    now: datetime,
    contact_attempt_ids: Sequence[int] = (),
) -> int:
    """Record a complaint received at ``now`` (day 0 of its SLA clock: due 15 days later,
    ``CN.COMPLAINT.SLA``), link the contact attempts it is about, and put the complaint
    hold on the account. Returns the complaint id; audited as ``complaint.file``."""
    who = _actor(actor)
    moment = _utc(now)
    kind = _vocabulary(ComplaintSource, source, "source")
    what = _vocabulary(ComplaintCategory, category, "category")
    text = _text(description, "description", limit=domain.MAX_DESCRIPTION)
    _require_borrower(conn, borrower_id)
    if loan_id is not None:
        _require_loan_of(conn, loan_id, borrower_id)
    attempts = sorted(set(int(i) for i in contact_attempt_ids))
    if attempts:
        owners = dict(
            conn.execute(
                select(ContactAttempt.id, ContactAttempt.borrower_id).where(
                    ContactAttempt.id.in_(attempts)
                )
            ).all()
        )
        for attempt in attempts:
            if attempt not in owners:
                raise NotFound("contact attempt", str(attempt))
            if owners[attempt] != borrower_id:
                raise ValidationError("contact_attempt_ids", "a contact is not the borrower's")
    received_on = _business_day(conn, moment)
    hold_loan = loan_id
    if hold_loan is None:
        hold_loan = conn.execute(
            select(func.min(Loan.id)).where(Loan.borrower_id == borrower_id)
        ).scalar_one_or_none()
    hold_id = None
    if hold_loan is not None:
        hold_id = contact_service.add_hold(
            conn,
            loan_id=hold_loan,
            kind=HoldKind.COMPLAINT.value,
            actor=who,
            since=moment,
            all_loans=loan_id is None,
            reason=f"{domain.RULE_ID}: open complaint",
        )
    complaint_id = int(
        conn.execute(
            insert(Complaint)
            .values(
                borrower_id=borrower_id,
                loan_id=loan_id,
                source=kind.value,
                category=what.value,
                status=ComplaintStatus.OPEN.value,
                description_enc=vault.encrypt(str(text), context=Contexts.COMPLAINT_DESCRIPTION),
                received_at=moment,
                received_on=received_on,
                due_on=domain.due_date(received_on, ComplaintStatus.OPEN),
                filed_by=who,
                hold_id=hold_id,
            )
            .returning(Complaint.id)
        ).scalar_one()
    )
    if attempts:
        conn.execute(
            insert(ComplaintContact),
            [{"complaint_id": complaint_id, "contact_attempt_id": a} for a in attempts],
        )
    audit.record(
        conn,
        action="complaint.file",
        actor=who,
        subject_type="complaint",
        subject_id=str(complaint_id),
        payload={
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "source": kind.value,
            "category": what.value,
            "contact_attempt_ids": attempts,
            "hold_id": hold_id,
            "received_on": received_on.isoformat(),
        },
        at=moment,
    )
    return complaint_id


def start_work(conn: Connection, complaint_id: int, *, actor: str, now: datetime) -> None:
    """An open complaint is being investigated (``complaint.start``)."""
    who, moment = _actor(actor), _utc(now)
    complaint = _row(conn, complaint_id)
    _move(
        conn,
        complaint,
        ComplaintStatus.IN_PROGRESS,
        actor=who,
        at=moment,
        action="complaint.start",
        values={},
    )


def extend(
    conn: Connection,
    vault: PiiVault,
    complaint_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> date:
    """Extend the deadline to 30 days from receipt (once; a reason is required). Returns
    the new due date; audited as ``complaint.extend``."""
    who, moment = _actor(actor), _utc(now)
    why = _text(reason, "reason", limit=domain.MAX_TEXT)
    complaint = _row(conn, complaint_id)
    due = domain.due_date(complaint.received_on, ComplaintStatus.EXTENDED)
    _move(
        conn,
        complaint,
        ComplaintStatus.EXTENDED,
        actor=who,
        at=moment,
        action="complaint.extend",
        values={
            "due_on": due,
            "extension_reason_enc": vault.encrypt(
                str(why), context=Contexts.COMPLAINT_EXTENSION_REASON
            ),
            "extended_by": who,
        },
        payload={"due_on": due.isoformat()},
    )
    return due


def approve_extension(conn: Connection, complaint_id: int, *, actor: str, now: datetime) -> date:
    """Approve the further 30 days (due 60 days after receipt). The approver must be a
    supervisor or compliance officer (the caller checks the role) and not the person who
    extended it (four eyes). Returns the new due date; audited as ``complaint.approve``."""
    who, moment = _actor(actor), _utc(now)
    complaint = _row(conn, complaint_id)
    if complaint.status == ComplaintStatus.EXTENDED.value and complaint.extended_by == who:
        raise Conflict(
            f"complaint {complaint.id}: the extension is approved by someone other than "
            "who asked for it"
        )
    due = domain.due_date(complaint.received_on, ComplaintStatus.EXTENDED_APPROVED)
    _move(
        conn,
        complaint,
        ComplaintStatus.EXTENDED_APPROVED,
        actor=who,
        at=moment,
        action="complaint.approve",
        values={"due_on": due, "approved_by": who},
        payload={"due_on": due.isoformat()},
    )
    return due


def resolve(
    conn: Connection,
    vault: PiiVault,
    complaint_id: int,
    *,
    resolution: str,
    root_cause: str,
    actor: str,
    now: datetime,
) -> None:
    """Answer the complaint: record the resolution and root cause, stop the clock and
    release the complaint hold. Audited as ``complaint.resolve``."""
    who, moment = _actor(actor), _utc(now)
    text = _text(resolution, "resolution", limit=domain.MAX_TEXT)
    cause = _vocabulary(RootCause, root_cause, "root_cause")
    complaint = _row(conn, complaint_id)
    day = _business_day(conn, moment)
    if day < complaint.received_on:
        raise ValidationError("now", "a complaint cannot be resolved before it was received")
    _move(
        conn,
        complaint,
        ComplaintStatus.RESOLVED,
        actor=who,
        at=moment,
        action="complaint.resolve",
        values={
            "resolution_enc": vault.encrypt(str(text), context=Contexts.COMPLAINT_RESOLUTION),
            "root_cause": cause.value,
            "resolved_on": day,
            "resolved_by": who,
        },
        payload={
            "root_cause": cause.value,
            "resolved_on": day.isoformat(),
            "on_time": day <= complaint.due_on,
        },
    )
    if complaint.hold_id is not None:
        from forbear.store.contacts import Hold

        until = conn.execute(
            select(Hold.until).where(Hold.id == complaint.hold_id)
        ).scalar_one_or_none()
        if until is None:
            contact_service.release_hold(conn, complaint.hold_id, actor=who, at=moment)


def close(conn: Connection, complaint_id: int, *, actor: str, now: datetime) -> None:
    """Close a resolved complaint (``complaint.close``)."""
    who, moment = _actor(actor), _utc(now)
    complaint = _row(conn, complaint_id)
    _move(
        conn,
        complaint,
        ComplaintStatus.CLOSED,
        actor=who,
        at=moment,
        action="complaint.close",
        values={"closed_on": _business_day(conn, moment)},
    )


@dataclass(frozen=True)
class LinkedContact:
    attempt_id: int
    loan_id: int
    channel: str
    party: str
    at: datetime
    actor: str
    allowed: bool
    blocked_by: list[str]
    outcome: str | None


@dataclass(frozen=True)
class ComplaintView:
    id: int
    borrower_id: int
    loan_id: int | None
    source: str
    category: str
    status: str
    description: str
    received_at: datetime
    received_on: date
    due_on: date
    filed_by: str
    hold_id: int | None
    extension_reason: str | None
    extended_by: str | None
    approved_by: str | None
    resolution: str | None
    root_cause: str | None
    resolved_on: date | None
    resolved_by: str | None
    closed_on: date | None
    clock: SlaClock
    contacts: list[LinkedContact]


def get_complaint(
    conn: Connection, vault: PiiVault, complaint_id: int, *, as_of: date
) -> ComplaintView:
    """One complaint with its SLA clock as of ``as_of`` and the contacts it is about (its
    free text decrypted)."""
    c = _row(conn, complaint_id)
    rows = conn.execute(
        select(ContactAttempt.__table__)
        .join(ComplaintContact, ComplaintContact.contact_attempt_id == ContactAttempt.id)
        .where(ComplaintContact.complaint_id == complaint_id)
        .order_by(ContactAttempt.at, ContactAttempt.id)
    ).all()
    linked = [
        LinkedContact(
            attempt_id=a.id,
            loan_id=a.loan_id,
            channel=a.channel,
            party=a.party,
            at=a.at,
            actor=a.actor,
            allowed=a.allowed,
            blocked_by=[str(r) for r in json.loads(a.blocked_by)],
            outcome=a.outcome,
        )
        for a in rows
    ]
    return ComplaintView(
        id=c.id,
        borrower_id=c.borrower_id,
        loan_id=c.loan_id,
        source=c.source,
        category=c.category,
        status=c.status,
        description=vault.decrypt(c.description_enc, context=Contexts.COMPLAINT_DESCRIPTION),
        received_at=c.received_at,
        received_on=c.received_on,
        due_on=c.due_on,
        filed_by=c.filed_by,
        hold_id=c.hold_id,
        extension_reason=vault.decrypt_optional(
            c.extension_reason_enc, context=Contexts.COMPLAINT_EXTENSION_REASON
        ),
        extended_by=c.extended_by,
        approved_by=c.approved_by,
        resolution=vault.decrypt_optional(c.resolution_enc, context=Contexts.COMPLAINT_RESOLUTION),
        root_cause=c.root_cause,
        resolved_on=c.resolved_on,
        resolved_by=c.resolved_by,
        closed_on=c.closed_on,
        clock=domain.clock(c.received_on, c.due_on, as_of, resolved_on=c.resolved_on),
        contacts=linked,
    )


QUEUE: dict[str, pl.DataType] = {
    "complaint_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "source": pl.String(),
    "category": pl.String(),
    "status": pl.String(),
    "received_on": pl.Date(),
    "due_on": pl.Date(),
    "resolved_on": pl.Date(),
    "days_left": pl.Int64(),
    "urgency": pl.String(),
    "escalate": pl.Boolean(),
    "contacts": pl.Int64(),
}

_URGENCY_ORDER = {
    domain.Urgency.OVERDUE.value: 0,
    domain.Urgency.DUE_SOON.value: 1,
    domain.Urgency.ON_TRACK.value: 2,
    domain.Urgency.ANSWERED.value: 3,
}


def list_complaints(
    conn: Connection,
    *,
    as_of: date,
    status: str | None = None,
    open_only: bool = False,
    borrower_id: int | None = None,
    loan_ids: Sequence[int] | None = None,
    limit: int = 500,
) -> pl.DataFrame:
    """The complaints queue as ``QUEUE``: overdue first, then due soon, then by due date."""
    stmt = (
        select(
            Complaint.id,
            Complaint.borrower_id,
            Complaint.loan_id,
            Complaint.source,
            Complaint.category,
            Complaint.status,
            Complaint.received_on,
            Complaint.due_on,
            Complaint.resolved_on,
            func.count(ComplaintContact.contact_attempt_id),
        )
        .outerjoin(ComplaintContact, ComplaintContact.complaint_id == Complaint.id)
        .group_by(Complaint.id)
    )
    if status is not None:
        stmt = stmt.where(Complaint.status == _vocabulary(ComplaintStatus, status, "status").value)
    if open_only:
        stmt = stmt.where(Complaint.status.in_([s.value for s in domain.OPEN_STATUSES]))
    if borrower_id is not None:
        stmt = stmt.where(Complaint.borrower_id == borrower_id)
    if loan_ids is not None:
        stmt = stmt.where(Complaint.loan_id.in_(list(loan_ids)))
    records = []
    for row in conn.execute(stmt):
        sla = domain.clock(row.received_on, row.due_on, as_of, resolved_on=row.resolved_on)
        records.append(
            {
                "complaint_id": row[0],
                "borrower_id": row.borrower_id,
                "loan_id": row.loan_id,
                "source": row.source,
                "category": row.category,
                "status": row.status,
                "received_on": row.received_on,
                "due_on": row.due_on,
                "resolved_on": row.resolved_on,
                "days_left": sla.days_left,
                "urgency": sla.urgency.value,
                "escalate": sla.escalate,
                "contacts": row[9],
            }
        )
    records.sort(key=lambda r: (_URGENCY_ORDER[str(r["urgency"])], r["due_on"], r["complaint_id"]))
    return pl.DataFrame(records[:limit], schema=QUEUE)
