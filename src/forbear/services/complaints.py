"""Complaints and feedback (issue 7): file and work complaints against the SLA clock,
one-question satisfaction surveys, and the case library of closed accounts.

Every function works in the caller's transaction (``conn``) and never commits; every
state change is audited in that transaction (``complaint.*``, ``satisfaction.record``,
``case.add``). Validation happens before anything is written.

Free text (a complaint's description, its resolution, an extension reason, a lesson) may
hold personal data: it is stored encrypted with the PII vault (the functions that write or
show it take the ``vault``), shown to the roles that may see it, and never logged or put
in an audit payload or an error message.

The hold: filing a complaint puts a ``complaint`` hold (:class:`HoldKind.COMPLAINT`) on the
loan (or, without a loan, on every loan of the borrower). Whether the gate honours it is
the lender configuration's ``complaint_hold`` setting (the gate skips complaint holds when
it is false), so the hold is always recorded and the configuration decides, at the moment
of contact, whether it blocks. Resolving the complaint releases the hold.

The SLA clock is :mod:`forbear.domain.complaints` (``CN.COMPLAINT.SLA``).

Errors: :class:`ValidationError` (a value outside its vocabulary or range, empty text, a
naive time, contacts of another borrower), :class:`NotFound` (unknown borrower, loan,
complaint, contact attempt, survey subject), :class:`Conflict` (a move the lifecycle does
not allow, a second survey answer, a second case entry, an extension approved by the
person who asked for it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Row, case, func, insert, select, update

from forbear.domain import complaints as domain
from forbear.domain.complaints import (
    CaseOutcome,
    ComplaintCategory,
    ComplaintSource,
    ComplaintStatus,
    RootCause,
    SlaClock,
    SurveySubject,
)
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import contacts as contact_service
from forbear.store import audit
from forbear.store.complaints import CaseEntry, Complaint, ComplaintContact, SatisfactionResponse
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Borrower, Loan
from forbear.store.plans import Plan
from forbear.store.promises import Promise
from forbear.store.runs import Decision

E = TypeVar("E", bound=StrEnum)

# --- helpers ------------------------------------------------------------------------------


def _actor(actor: str) -> str:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")
    return actor.strip()


def _utc(moment: datetime, field: str = "now") -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)


def _vocabulary(enum: type[E], value: object, field: str) -> E:
    allowed = ", ".join(member.value for member in enum)
    if not isinstance(value, str):
        raise ValidationError(field, f"must be one of {allowed}")
    try:
        return enum(value)
    except ValueError:
        raise ValidationError(field, f"must be one of {allowed}") from None


def _text(value: object, field: str, *, limit: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, f"at most {limit} characters")
    return value.strip()


def lender_zone(conn: Connection) -> ZoneInfo:
    """The lender's zone: business dates (receipt day, due day) are days there."""
    from forbear.services.lender import rules_in_force

    # the stored configuration, else the default (complaint use cases are not given the
    # data directory, so a development lender.yaml is not read here)
    return ZoneInfo(rules_in_force(conn, None).timezone_default)


def _business_day(conn: Connection, moment: datetime) -> date:
    return moment.astimezone(lender_zone(conn)).date()


def _require_borrower(conn: Connection, borrower_id: int) -> None:
    if conn.execute(select(Borrower.id).where(Borrower.id == borrower_id)).first() is None:
        raise NotFound("borrower", str(borrower_id))


def _require_loan_of(conn: Connection, loan_id: int, borrower_id: int) -> None:
    owner = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one_or_none()
    if owner is None:
        raise NotFound("loan", str(loan_id))
    if owner != borrower_id:
        raise ValidationError("loan_id", "the loan is not the borrower's")


def _row(conn: Connection, complaint_id: int) -> Row[Any]:
    row = conn.execute(
        select(Complaint.__table__).where(Complaint.id == complaint_id)
    ).one_or_none()
    if row is None:
        raise NotFound("complaint", str(complaint_id))
    return row


def _move(
    conn: Connection,
    complaint: Row[Any],
    to: ComplaintStatus,
    *,
    actor: str,
    at: datetime,
    action: str,
    values: dict[str, object],
    payload: dict[str, object] | None = None,
) -> None:
    current = ComplaintStatus(complaint.status)
    if not domain.can_move(current, to):
        raise Conflict(f"complaint {complaint.id} is {current.value}: it cannot become {to.value}")
    conn.execute(
        update(Complaint)
        .where(Complaint.id == complaint.id, Complaint.status == current.value)
        .values(status=to.value, **values)
    )
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type="complaint",
        subject_id=str(complaint.id),
        payload={"from": current.value, "to": to.value, **(payload or {})},
        at=at,
    )


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


# --- satisfaction -------------------------------------------------------------------------


def _subject_loan(
    conn: Connection, subject: SurveySubject, subject_id: int
) -> tuple[int | None, int]:
    """(loan id, borrower id) of a survey's subject; NotFound when it does not exist."""
    if subject is SurveySubject.COMPLAINT:
        row = conn.execute(
            select(Complaint.loan_id, Complaint.borrower_id, Complaint.status).where(
                Complaint.id == subject_id
            )
        ).one_or_none()
        if row is None:
            raise NotFound("complaint", str(subject_id))
        if ComplaintStatus(row.status) in domain.OPEN_STATUSES:
            raise Conflict(f"complaint {subject_id} is not resolved yet: no survey before then")
        return row.loan_id, int(row.borrower_id)
    table = Plan if subject is SurveySubject.PLAN else Promise
    found = conn.execute(
        select(table.loan_id, Loan.borrower_id)
        .join(Loan, Loan.id == table.loan_id)
        .where(table.id == subject_id)
    ).one_or_none()
    if found is None:
        raise NotFound(subject.value, str(subject_id))
    return int(found[0]), int(found[1])


def record_satisfaction(
    conn: Connection,
    *,
    borrower_id: int,
    subject_type: str,
    subject_id: int,
    score: int,
    actor: str,
    now: datetime,
    loan_id: int | None = None,
) -> int:
    """Record the one-question survey ("how satisfied are you?", 1..5) after a plan, a
    promise or a complaint's resolution; one answer per subject. Returns the response id;
    audited as ``satisfaction.record``."""
    who, moment = _actor(actor), _utc(now)
    subject = _vocabulary(SurveySubject, subject_type, "subject_type")
    if isinstance(score, bool) or not isinstance(score, int) or score not in domain.SCORES:
        raise ValidationError("score", "must be a whole number from 1 to 5")
    _require_borrower(conn, borrower_id)
    subject_loan, owner = _subject_loan(conn, subject, subject_id)
    if owner != borrower_id:
        raise ValidationError("subject_id", "the subject is not the borrower's")
    if loan_id is not None:
        _require_loan_of(conn, loan_id, borrower_id)
        if subject_loan is not None and loan_id != subject_loan:
            raise ValidationError("loan_id", "the subject is on another loan")
    taken = conn.execute(
        select(SatisfactionResponse.id).where(
            SatisfactionResponse.subject_type == subject.value,
            SatisfactionResponse.subject_id == subject_id,
        )
    ).first()
    if taken is not None:
        raise Conflict(f"the {subject.value} {subject_id} survey is already answered")
    response_id = int(
        conn.execute(
            insert(SatisfactionResponse)
            .values(
                borrower_id=borrower_id,
                loan_id=loan_id if loan_id is not None else subject_loan,
                subject_type=subject.value,
                subject_id=subject_id,
                score=score,
                answered_at=moment,
                answered_on=_business_day(conn, moment),
                recorded_by=who,
            )
            .returning(SatisfactionResponse.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="satisfaction.record",
        actor=who,
        subject_type="satisfaction_response",
        subject_id=str(response_id),
        payload={"subject_type": subject.value, "subject_id": subject_id, "score": score},
        at=moment,
    )
    return response_id


SATISFACTION: dict[str, pl.DataType] = {
    "subject_type": pl.String(),  # plan, promise, complaint, or "all"
    "responses": pl.Int64(),
    "mean_score": pl.Float64(),  # null when no responses
    "share_4_5": pl.Float64(),  # share of 4 and 5 answers, null when no responses
}


def _check_window(start: date, end: date) -> None:
    if end < start:
        raise ValidationError("end", "the window ends before it starts")


def satisfaction_summary(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Survey results answered on business days ``start``..``end`` as ``SATISFACTION``:
    one row per subject type (all three, zero when none) and one ``all`` row."""
    _check_window(start, end)
    rows = conn.execute(
        select(
            SatisfactionResponse.subject_type,
            func.count(),
            func.sum(SatisfactionResponse.score),
            func.sum(case((SatisfactionResponse.score >= 4, 1), else_=0)),
        )
        .where(SatisfactionResponse.answered_on.between(start, end))
        .group_by(SatisfactionResponse.subject_type)
    ).all()
    by_type = {str(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}
    out = []
    totals = [0, 0, 0]
    for subject in SurveySubject:
        n, total, high = by_type.get(subject.value, (0, 0, 0))
        totals = [totals[0] + n, totals[1] + total, totals[2] + high]
        out.append(_summary_row(subject.value, n, total, high))
    out.append(_summary_row("all", *totals))
    return pl.DataFrame(out, schema=SATISFACTION)


def _summary_row(name: str, n: int, total: int, high: int) -> dict[str, object]:
    return {
        "subject_type": name,
        "responses": n,
        "mean_score": total / n if n else None,
        "share_4_5": high / n if n else None,
    }


# --- complaint rates ----------------------------------------------------------------------

RATES: dict[str, pl.DataType] = {
    "level": pl.String(),  # overall, arm, team
    "key": pl.String(),  # "all", the arm's or the team's name ("(none)" when unassigned)
    "contacts": pl.Int64(),  # allowed contact attempts made in the window
    "complaints": pl.Int64(),  # complaints received in the window
    "per_10k": pl.Float64(),  # complaints per 10,000 contacts (null without contacts)
}
NONE_KEY = "(none)"


def complaint_rates(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Complaints received on business days ``start``..``end`` per 10,000 allowed contact
    attempts made then, overall, by strategy arm and by team, as ``RATES``. A contact or
    a complaint takes the arm and team of the loan's latest decision on or before its day
    (``(none)`` without one; a complaint without a loan counts only overall)."""
    _check_window(start, end)
    zone = lender_zone(conn)
    lo = datetime.combine(start, time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    attempts = pl.DataFrame(
        [
            {"loan_id": r[0], "day": r[1].astimezone(zone).date()}
            for r in conn.execute(
                select(ContactAttempt.loan_id, ContactAttempt.at).where(
                    ContactAttempt.allowed.is_(True),
                    ContactAttempt.at >= lo,
                    ContactAttempt.at < hi,
                )
            )
        ],
        schema={"loan_id": pl.Int64(), "day": pl.Date()},
    )
    complaints = pl.DataFrame(
        [
            {"loan_id": r[0], "day": r[1]}
            for r in conn.execute(
                select(Complaint.loan_id, Complaint.received_on).where(
                    Complaint.received_on.between(start, end)
                )
            )
        ],
        schema={"loan_id": pl.Int64(), "day": pl.Date()},
    )
    loans = pl.concat([attempts["loan_id"], complaints["loan_id"]]).drop_nulls().unique()
    decisions = pl.DataFrame(
        [
            {"loan_id": r[0], "as_of": r[1], "arm": r[2], "team": r[3]}
            for r in conn.execute(
                select(Decision.loan_id, Decision.as_of, Decision.arm, Decision.team_id)
                .where(Decision.as_of <= end, Decision.loan_id.in_(loans.to_list()))
                .order_by(Decision.loan_id, Decision.as_of, Decision.action_index)
            )
        ]
        if len(loans)
        else [],
        schema={"loan_id": pl.Int64(), "as_of": pl.Date(), "arm": pl.String(), "team": pl.String()},
    ).unique(subset=["loan_id", "as_of"], keep="first", maintain_order=True)

    def tagged(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.with_row_index("row")
            .sort("day")
            .join_asof(
                decisions.sort("as_of"),
                left_on="day",
                right_on="as_of",
                by="loan_id",
                check_sortedness=False,  # sorted by day above; groups are not checked
            )
            .with_columns(pl.col("arm").fill_null(NONE_KEY), pl.col("team").fill_null(NONE_KEY))
        )

    a, c = tagged(attempts), tagged(complaints.filter(pl.col("loan_id").is_not_null()))
    rows = [
        {
            "level": "overall",
            "key": "all",
            "contacts": attempts.height,
            "complaints": complaints.height,
        }
    ]
    for level, column in (("arm", "arm"), ("team", "team")):
        counts_a = dict(a.group_by(column).len().iter_rows())
        counts_c = dict(c.group_by(column).len().iter_rows())
        for key in sorted(set(counts_a) | set(counts_c)):
            rows.append(
                {
                    "level": level,
                    "key": key,
                    "contacts": counts_a.get(key, 0),
                    "complaints": counts_c.get(key, 0),
                }
            )
    return pl.DataFrame(rows, schema={k: RATES[k] for k in RATES if k != "per_10k"}).with_columns(
        per_10k=pl.when(pl.col("contacts") > 0)
        .then(pl.col("complaints") * 10_000 / pl.col("contacts"))
        .otherwise(None)
        .cast(pl.Float64)
    )


# --- blocked contacts (the compliance console) ---------------------------------------------

BLOCKED_RULES: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "online": pl.Int64(),  # contact attempts the gate blocked at the moment of contact
    "daily": pl.Int64(),  # planned contacts the daily run's gate blocked
    "total": pl.Int64(),
}
BLOCKED: dict[str, pl.DataType] = {
    "source": pl.String(),  # online or daily
    "ref": pl.Int64(),  # the attempt id (online) or the decision's action index (daily)
    "loan_id": pl.Int64(),
    "channel": pl.String(),
    "day": pl.Date(),
    "at": pl.Datetime("us", "UTC"),  # online only
    "actor": pl.String(),  # online only
    "blocked_by": pl.List(pl.String()),
}


def _blocked(conn: Connection, start: date, end: date) -> pl.DataFrame:
    _check_window(start, end)
    zone = lender_zone(conn)
    lo = datetime.combine(start, time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    rows: list[dict[str, object]] = []
    a = ContactAttempt
    for r in conn.execute(
        select(a.id, a.loan_id, a.channel, a.at, a.actor, a.blocked_by).where(
            a.allowed.is_(False), a.at >= lo, a.at < hi
        )
    ):
        rows.append(
            {
                "source": "online",
                "ref": r[0],
                "loan_id": r[1],
                "channel": r[2],
                "day": r[3].astimezone(zone).date(),
                "at": r[3],
                "actor": r[4],
                "blocked_by": [str(x) for x in json.loads(r[5] or "[]")],
            }
        )
    d = Decision
    for q in conn.execute(
        select(d.action_index, d.loan_id, d.channel, d.as_of, d.blocked_by).where(
            d.allowed.is_(False), d.as_of.between(start, end)
        )
    ):
        rows.append(
            {
                "source": "daily",
                "ref": q[0],
                "loan_id": q[1],
                "channel": q[2],
                "day": q[3],
                "at": None,
                "actor": None,
                "blocked_by": [str(x) for x in json.loads(q[4] or "[]")],
            }
        )
    return pl.DataFrame(rows, schema=BLOCKED)


def blocked_by_rule(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Blocked contacts on business days ``start``..``end`` per rule id, online and in the
    daily run, as ``BLOCKED_RULES``, most frequent first (a contact blocked by two rules
    counts under each)."""
    exploded = _blocked(conn, start, end).explode("blocked_by").drop_nulls("blocked_by")
    if exploded.is_empty():
        return pl.DataFrame(schema=BLOCKED_RULES)
    return (
        exploded.group_by("blocked_by")
        .agg(
            online=(pl.col("source") == "online").sum().cast(pl.Int64),
            daily=(pl.col("source") == "daily").sum().cast(pl.Int64),
        )
        .rename({"blocked_by": "rule_id"})
        .with_columns(total=pl.col("online") + pl.col("daily"))
        .sort(["total", "rule_id"], descending=[True, False])
        .select(list(BLOCKED_RULES))
    )


def blocked_contacts(
    conn: Connection, *, rule_id: str, start: date, end: date, limit: int = 200
) -> pl.DataFrame:
    """The blocked contacts of one rule (drill-down), newest first, as ``BLOCKED``."""
    frame = _blocked(conn, start, end)
    return (
        frame.filter(pl.col("blocked_by").list.contains(rule_id))
        .sort(["day", "source", "ref"], descending=[True, True, True])
        .head(limit)
    )


# --- the case library ---------------------------------------------------------------------

CASES: dict[str, pl.DataType] = {
    "case_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "outcome": pl.String(),
    "category": pl.String(),
    "lesson": pl.String(),
    "written_by": pl.String(),
    "written_on": pl.Date(),
}


def add_case(
    conn: Connection,
    vault: PiiVault,
    *,
    loan_id: int,
    outcome: str,
    category: str,
    lesson: str,
    actor: str,
    now: datetime,
) -> int:
    """Tag a closed account ``success`` or ``failure`` with the lesson learnt (one entry
    per loan; the caller checks the writer is a supervisor or compliance officer; the
    lesson must hold no personal data). Audited as ``case.add``."""
    who, moment = _actor(actor), _utc(now)
    result = _vocabulary(CaseOutcome, outcome, "outcome")
    tag = _text(category, "category", limit=32)
    text = _text(lesson, "lesson", limit=domain.MAX_TEXT)
    if conn.execute(select(Loan.id).where(Loan.id == loan_id)).first() is None:
        raise NotFound("loan", str(loan_id))
    if conn.execute(select(CaseEntry.id).where(CaseEntry.loan_id == loan_id)).first():
        raise Conflict(f"loan {loan_id} is already in the case library")
    case_id = int(
        conn.execute(
            insert(CaseEntry)
            .values(
                loan_id=loan_id,
                outcome=result.value,
                category=tag,
                lesson_enc=vault.encrypt(str(text), context=Contexts.CASE_LESSON),
                written_by=who,
                written_on=_business_day(conn, moment),
            )
            .returning(CaseEntry.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="case.add",
        actor=who,
        subject_type="case",
        subject_id=str(case_id),
        payload={"loan_id": loan_id, "outcome": result.value, "category": tag},
        at=moment,
    )
    return case_id


_CASE_COLUMNS = (
    CaseEntry.id,
    CaseEntry.loan_id,
    CaseEntry.outcome,
    CaseEntry.category,
    CaseEntry.lesson_enc,
    CaseEntry.written_by,
    CaseEntry.written_on,
)


def _case_row(vault: PiiVault, row: Any) -> dict[str, object]:
    entry: dict[str, object] = dict(zip(CASES, row, strict=True))
    entry["lesson"] = vault.decrypt(row.lesson_enc, context=Contexts.CASE_LESSON)
    return entry


def get_case(conn: Connection, vault: PiiVault, case_id: int) -> dict[str, object]:
    """One case library entry as a ``CASES`` row."""
    row = conn.execute(select(*_CASE_COLUMNS).where(CaseEntry.id == case_id)).one_or_none()
    if row is None:
        raise NotFound("case", str(case_id))
    return _case_row(vault, row)


def search_cases(
    conn: Connection,
    vault: PiiVault,
    *,
    text: str | None = None,
    category: str | None = None,
    outcome: str | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Case library entries matching every given filter (``text``: words found in the
    lesson or the category, case-insensitive), newest first, as ``CASES``.

    The lesson is encrypted, so the words are matched after decryption, in Python: the
    case library is a curated list (one entry per closed account a supervisor chose to
    tag), small enough to scan; the outcome and category filters still run in SQL."""
    stmt = select(*_CASE_COLUMNS)
    if outcome is not None:
        stmt = stmt.where(CaseEntry.outcome == _vocabulary(CaseOutcome, outcome, "outcome").value)
    if category is not None and category.strip():
        stmt = stmt.where(func.lower(CaseEntry.category) == category.strip().lower())
    words: list[str] = []
    if text is not None:
        if len(text) > 200:
            raise ValidationError("text", "at most 200 characters")
        words = [w for w in text.lower().split() if w]
    stmt = stmt.order_by(CaseEntry.written_on.desc(), CaseEntry.id.desc())
    found: list[dict[str, object]] = []
    for row in conn.execute(stmt):
        entry = _case_row(vault, row)
        haystack = (str(entry["lesson"]).lower(), str(entry["category"]).lower())
        if all(any(w in field for field in haystack) for w in words):
            found.append(entry)
            if len(found) >= limit:
                break
    return pl.DataFrame(found, schema=CASES)


__all__ = [
    "CASES",
    "QUEUE",
    "RATES",
    "SATISFACTION",
    "ComplaintView",
    "LinkedContact",
    "add_case",
    "approve_extension",
    "blocked_by_rule",
    "blocked_contacts",
    "close",
    "complaint_rates",
    "extend",
    "file_complaint",
    "get_case",
    "get_complaint",
    "lender_zone",
    "list_complaints",
    "record_satisfaction",
    "resolve",
    "satisfaction_summary",
    "search_cases",
    "start_work",
]
