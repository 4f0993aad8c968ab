"""Agencies, notices to the debtor, demands for payment and account flags a human
established: each one audited record.

``at`` is when the fact happened (a placement starts, a notice or demand was given);
``now``, where a function takes it, is when it is recorded (``created_at``), the same as
``at`` when not given (no clock is read here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from forbear.domain.errors import NotFound, ValidationError
from forbear.services.contacts.common import (
    _actor,
    _borrower_of,
    _channel,
    _insert_audited,
    _iso,
    _utc,
    _vocabulary,
)
from forbear.store import audit
from forbear.store.contacts import (
    AccountFlags,
    AccountNotice,
    AgencyAssignment,
    ContactAttempt,
    Demand,
    NoticeKind,
)


def assign_agency(
    conn: Connection,
    *,
    loan_id: int,
    agency_id: int,
    at: datetime,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Place a loan with an agency from ``at``; any open placement ends at ``at``, so no
    account is with two agencies at once (CN.AGENCY.SCOPE). The agency may work it only
    after the debtor is notified (:func:`notify_agency`, CN.AGENCY.NOTIFY_DEBTOR)."""
    _actor(actor)
    moment = _utc(at, "at")
    _borrower_of(conn, loan_id)
    conn.execute(
        update(AgencyAssignment)
        .where(AgencyAssignment.loan_id == loan_id, AgencyAssignment.to_at.is_(None))
        .values(to_at=moment)
    )
    return _insert_audited(
        conn,
        AgencyAssignment,
        {"loan_id": loan_id, "agency_id": agency_id, "from_at": moment},
        action="agency.assign",
        actor=actor,
        now=now or at,
        subject=("loan", loan_id),
        payload={"agency_id": agency_id, "from": moment.isoformat()},
    )


def notify_agency(
    conn: Connection,
    *,
    loan_id: int,
    agency_id: int,
    at: datetime,
    actor: str,
    evidence_ref: str | None = None,
    now: datetime | None = None,
) -> int:
    """Log that the debtor was told the account goes to ``agency_id``
    (CN.AGENCY.NOTIFY_DEBTOR; 银行保险机构消费者权益保护管理办法)."""
    return log_notice(
        conn,
        loan_id=loan_id,
        kind=NoticeKind.AGENCY_NOTICE,
        at=at,
        actor=actor,
        agency_id=agency_id,
        evidence_ref=evidence_ref,
        now=now,
    )


def log_notice(
    conn: Connection,
    *,
    loan_id: int,
    kind: str,
    at: datetime,
    actor: str,
    agency_id: int | None = None,
    evidence_ref: str | None = None,
    now: datetime | None = None,
) -> int:
    """Log a notice to the debtor: ``agency_notice`` (needs ``agency_id``),
    ``assignment`` (CN.ASSIGN.NOTICE) or ``credit_prenotice`` (CN.CREDIT.PRENOTICE)."""
    _actor(actor)
    notice = _vocabulary(NoticeKind, kind, "kind")
    if notice is NoticeKind.AGENCY_NOTICE and agency_id is None:
        raise ValidationError("agency_id", "an agency notice names the agency")
    moment = _utc(at, "at")
    _borrower_of(conn, loan_id)
    return _insert_audited(
        conn,
        AccountNotice,
        {
            "loan_id": loan_id,
            "kind": notice.value,
            "agency_id": agency_id,
            "at": moment,
            "evidence_ref": evidence_ref,
        },
        action="notice.log",
        actor=actor,
        now=now or at,
        subject=("loan", loan_id),
        payload={"kind": notice.value, "agency_id": agency_id, "at": moment.isoformat()},
    )


def log_demand(
    conn: Connection,
    *,
    loan_id: int,
    at: datetime,
    channel: str,
    evidence_ref: str,
    actor: str,
    contact_attempt_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Log a demand for payment with a reference to its proof (a recording id, a letter's
    tracking number): each demand restarts the limitation period (CN.LIMITATION;
    民法典 art. 195), so the proof must be kept."""
    _actor(actor)
    medium = _channel(channel)
    moment = _utc(at, "at")
    if not evidence_ref.strip():
        raise ValidationError("evidence_ref", "a demand needs a reference to its proof")
    _borrower_of(conn, loan_id)
    if contact_attempt_id is not None:
        owner = conn.execute(
            select(ContactAttempt.loan_id, ContactAttempt.allowed).where(
                ContactAttempt.id == contact_attempt_id
            )
        ).one_or_none()
        if owner is None:
            raise NotFound("contact attempt", str(contact_attempt_id))
        if owner.loan_id != loan_id or not owner.allowed:
            raise ValidationError(
                "contact_attempt_id", "not an allowed contact attempt on this loan"
            )
    demand_id = conn.execute(
        insert(Demand)
        .values(
            loan_id=loan_id,
            at=moment,
            channel=medium.value,
            evidence_ref=evidence_ref,
            contact_attempt_id=contact_attempt_id,
            created_by=actor,
            created_at=_utc(now or at, "now"),
        )
        .returning(Demand.id)
    ).scalar_one()
    audit.record(
        conn,
        action="demand.log",
        actor=actor,
        subject_type="loan",
        subject_id=str(loan_id),
        payload={"channel": medium.value, "at": moment.isoformat(), "demand_id": demand_id},
    )
    return int(demand_id)


def set_account_flags(
    conn: Connection,
    *,
    loan_id: int,
    actor: str,
    at: datetime,
    assigned_at: datetime | None = None,
    assignee_ref: str | None = None,
    debtor_unreachable_since: datetime | None = None,
) -> None:
    """Record what a human established: the debt sold/assigned (CN.ASSIGN.NOTICE), the
    debtor unreachable (CN.3P.LOST_CONTACT_GATE). Audited as ``account.flags``."""
    _actor(actor)
    _borrower_of(conn, loan_id)
    values: dict[str, Any] = {
        "assigned_at": _utc(assigned_at, "assigned_at") if assigned_at else None,
        "assignee_ref": assignee_ref,
        "debtor_unreachable_since": (
            _utc(debtor_unreachable_since, "debtor_unreachable_since")
            if debtor_unreachable_since
            else None
        ),
        "updated_at": _utc(at, "at"),
        "updated_by": actor,
    }
    exists = conn.execute(
        select(AccountFlags.loan_id).where(AccountFlags.loan_id == loan_id)
    ).one_or_none()
    if exists is None:
        conn.execute(insert(AccountFlags).values(loan_id=loan_id, **values))
    else:
        conn.execute(update(AccountFlags).where(AccountFlags.loan_id == loan_id).values(**values))
    audit.record(
        conn,
        action="account.flags",
        actor=actor,
        subject_type="loan",
        subject_id=str(loan_id),
        payload={
            "assigned_at": _iso(values["assigned_at"]),
            "debtor_unreachable_since": _iso(values["debtor_unreachable_since"]),
        },
    )
