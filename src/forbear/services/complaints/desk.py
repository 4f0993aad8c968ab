"""Complaints for a staff member: the same use cases as :mod:`.cases`, checked for who asks.

Every front end (the compliance console's pages, the API, the coming assistant) calls
these with an :class:`~forbear.domain.access.Actor` and the moment (``now``, and ``today``
for the bucket scope's book date):

- **permissions**: reading needs ``compliance.view`` or ``plan.approve`` (:data:`READ`);
  working a complaint needs ``compliance.view`` (:data:`WORK`), except approving an
  extension, which a ``plan.approve`` holder may do too; filing needs ``contact.make`` or
  ``compliance.view`` (:data:`FILE`), and a regulator referral ``compliance.view``;
- **scope**: a complaint about a loan outside the actor's scope answers like one that does
  not exist (:class:`NotFound` "complaint"), and a scoped actor (agency, bucket scope)
  never sees a complaint about no loan; the queue shows only complaints in scope
  (:mod:`forbear.services.scope`);
- **the description** (free text) is shown only to a role that holds ``compliance.view``
  and may unmask names for the complaint purpose (:func:`may_read_description`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from forbear.domain.access import Actor, PiiField, Purpose, can, mask_for, may_unmask
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.services import scope
from forbear.services.complaints import cases, library, satisfaction
from forbear.services.complaints.cases import ComplaintView
from forbear.services.complaints.common import _business_day
from forbear.services.loans import borrower_of, external_refs
from forbear.store.complaints import Complaint, SatisfactionResponse
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Borrower, Loan

READ = ("compliance.view", "plan.approve")
WORK = ("compliance.view",)
FILE = ("contact.make", "compliance.view")
ACTIONS = ("start", "extend", "approve", "resolve", "close")
MAX_REF = 64
MAX_WINDOW_DAYS = 366


def require_any(actor: Actor, permissions: tuple[str, ...]) -> None:
    """:class:`PermissionDenied` unless ``actor`` holds one of ``permissions``."""
    if not any(actor.may(p) for p in permissions):
        raise PermissionDenied(str(actor.role), " / ".join(permissions))


def may_read_description(actor: Actor) -> bool:
    """May ``actor`` read a complaint's free text (module docstring)?"""
    if actor.role is None:
        return True  # an operator at the command line
    return can(actor.role, "compliance.view") and may_unmask(
        actor.role, PiiField.NAME, Purpose.COMPLAINT
    )


def business_day(conn: Connection, now: datetime) -> date:
    """The lender's business day at ``now``."""
    return _business_day(conn, now)


def report_window(
    conn: Connection, now: datetime, start: date | None, end: date | None
) -> tuple[date, date]:
    """``start``..``end``, by default the 30 days to the business day of ``now``; at most a
    year."""
    last = end or business_day(conn, now)
    first = start or date.fromordinal(last.toordinal() - 29)
    if last < first:
        raise ValidationError("end", "the window ends before it starts")
    if (last - first).days >= MAX_WINDOW_DAYS:
        raise ValidationError("start", f"a window of at most {MAX_WINDOW_DAYS} days")
    return first, last


def require_complaint(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    complaint_id: int,
    *,
    now: datetime,
    today: date,
) -> ComplaintView:
    """The complaint, if it exists and its loan is in the actor's scope (else
    :class:`NotFound`)."""
    require_any(actor, READ)
    found = conn.execute(
        select(Complaint.loan_id).where(Complaint.id == complaint_id)
    ).one_or_none()
    if found is None or (found[0] is None and actor.scoped):
        # not about a loan: a scoped actor cannot be shown to see it (the queue leaves it
        # out too)
        raise NotFound("complaint", str(complaint_id))
    if found[0] is not None:
        try:
            scope.require_loan(conn, actor, int(found[0]), now, today)
        except NotFound:
            raise NotFound("complaint", str(complaint_id)) from None
    return cases.get_complaint(conn, vault, complaint_id, as_of=business_day(conn, now))


def borrower_in_scope(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> int:
    """The borrower of ``loan_id`` after the scope check (:class:`NotFound` otherwise)."""
    scope.require_loan(conn, actor, loan_id, now, today)
    return borrower_of(conn, loan_id)


def queue(
    conn: Connection,
    actor: Actor,
    *,
    now: datetime,
    today: date,
    status: str | None,
    open_only: bool,
    limit: int = 500,
) -> tuple[date, list[dict[str, Any]]]:
    """The complaints queue as ``actor`` may see it (its scope), overdue first, with the
    business day it is judged on."""
    require_any(actor, READ)
    day = business_day(conn, now)
    seen = scope.visible_loans(conn, actor, now, today)
    frame = cases.list_complaints(
        conn,
        as_of=day,
        status=status,
        open_only=open_only,
        loan_ids=None if seen is None else sorted(seen),
        limit=limit,
    )
    return day, frame.to_dicts()


def file(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    loan_id: int | None = None,
    loan_ref: str | None = None,
    source: str,
    category: str,
    description: str,
    contact_attempt_ids: list[int],
    now: datetime,
    today: date,
) -> ComplaintView:
    """File a complaint about a loan in the actor's scope (the complaint hold goes on),
    named by its id or by ``loan_ref``, the lender's reference people see on every screen
    and letter. The contact attempts it is about must be of that loan."""
    require_any(actor, FILE)
    if source == "regulator" and not actor.may("compliance.view"):
        raise ValidationError("source", "regulator referrals are filed by compliance")
    loan_id = (
        loan_by_ref(conn, actor, loan_ref, now=now, today=today) if loan_id is None else loan_id
    )
    borrower = borrower_in_scope(conn, actor, loan_id, now=now, today=today)
    attempts = sorted(set(int(i) for i in contact_attempt_ids))
    if attempts:
        of_loan = dict(
            conn.execute(
                select(ContactAttempt.id, ContactAttempt.loan_id).where(
                    ContactAttempt.id.in_(attempts)
                )
            ).all()
        )
        for attempt in attempts:
            if attempt not in of_loan:
                raise NotFound("contact attempt", str(attempt))
            if of_loan[attempt] != loan_id:
                raise ValidationError(
                    "contact_attempt_ids", f"contact #{attempt} is not one of this loan's"
                )
    complaint_id = cases.file_complaint(
        conn,
        vault,
        borrower_id=borrower,
        loan_id=loan_id,
        source=source,
        category=category,
        description=description,
        actor=actor.name,
        now=now,
        contact_attempt_ids=contact_attempt_ids,
    )
    return cases.get_complaint(conn, vault, complaint_id, as_of=business_day(conn, now))


def act(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    complaint_id: int,
    action: str,
    *,
    now: datetime,
    today: date,
    reason: str | None = None,
    resolution: str | None = None,
    root_cause: str | None = None,
) -> ComplaintView:
    """Move a complaint in the actor's scope: ``start``, ``extend`` (``reason``),
    ``approve`` (the extension), ``resolve`` (``resolution``, ``root_cause``) or
    ``close``; the complaint as it is afterwards."""
    if action not in ACTIONS:
        raise ValidationError("action", f"one of: {', '.join(ACTIONS)}")
    require_any(actor, READ if action == "approve" else WORK)
    require_complaint(conn, vault, actor, complaint_id, now=now, today=today)
    who = actor.name
    if action == "start":
        cases.start_work(conn, complaint_id, actor=who, now=now)
    elif action == "extend":
        cases.extend(conn, vault, complaint_id, reason=reason or "", actor=who, now=now)
    elif action == "approve":
        cases.approve_extension(conn, complaint_id, actor=who, now=now)
    elif action == "resolve":
        cases.resolve(
            conn,
            vault,
            complaint_id,
            resolution=resolution or "",
            root_cause=root_cause or "",
            actor=who,
            now=now,
        )
    else:
        cases.close(conn, complaint_id, actor=who, now=now)
    return cases.get_complaint(conn, vault, complaint_id, as_of=business_day(conn, now))


@dataclass(frozen=True)
class ComplaintDetail:
    """One complaint for the console: the view, the borrower's name masked for the actor's
    role, the loan's reference and the survey answer, if any."""

    view: ComplaintView
    borrower_name: str | None
    loan_ref: str | None
    survey_score: int | None


def detail(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    complaint_id: int,
    *,
    now: datetime,
    today: date,
) -> ComplaintDetail:
    view = require_complaint(conn, vault, actor, complaint_id, now=now, today=today)
    blob = conn.execute(
        select(Borrower.name_enc).where(Borrower.id == view.borrower_id)
    ).scalar_one_or_none()
    name = vault.decrypt_optional(blob, context=Contexts.BORROWER_NAME)
    if name is not None and actor.role is not None:
        name = mask_for(actor.role, PiiField.NAME, name)
    refs = external_refs(conn, [view.loan_id] if view.loan_id is not None else [])
    score = conn.execute(
        select(SatisfactionResponse.score).where(
            SatisfactionResponse.subject_type == "complaint",
            SatisfactionResponse.subject_id == complaint_id,
        )
    ).scalar_one_or_none()
    return ComplaintDetail(
        view=view,
        borrower_name=name,
        loan_ref=refs.get(view.loan_id) if view.loan_id is not None else None,
        survey_score=None if score is None else int(score),
    )


def record_survey(
    conn: Connection,
    actor: Actor,
    *,
    loan_id: int,
    subject_type: str,
    subject_id: int,
    score: int,
    now: datetime,
    today: date,
) -> int:
    """A borrower's satisfaction answer, recorded by staff for a loan in their scope."""
    require_any(actor, FILE)
    borrower = borrower_in_scope(conn, actor, loan_id, now=now, today=today)
    return satisfaction.record_satisfaction(
        conn,
        borrower_id=borrower,
        subject_type=subject_type,
        subject_id=subject_id,
        score=score,
        actor=actor.name,
        now=now,
        loan_id=loan_id,
    )


def complaint_survey(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    complaint_id: int,
    *,
    score: int,
    now: datetime,
    today: date,
) -> int:
    """The borrower's answer to the survey after a complaint in the actor's scope."""
    require_any(actor, WORK)
    view = require_complaint(conn, vault, actor, complaint_id, now=now, today=today)
    return satisfaction.record_satisfaction(
        conn,
        borrower_id=view.borrower_id,
        subject_type="complaint",
        subject_id=complaint_id,
        score=score,
        actor=actor.name,
        now=now,
        loan_id=view.loan_id,
    )


def add_lesson(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    loan_id: int,
    outcome: str,
    category: str,
    lesson: str,
    now: datetime,
    today: date,
) -> dict[str, object]:
    """A case-library entry for a loan in the actor's scope; the entry as stored."""
    require_any(actor, READ)
    scope.require_loan(conn, actor, loan_id, now, today)
    case_id = library.add_case(
        conn,
        vault,
        loan_id=loan_id,
        outcome=outcome,
        category=category,
        lesson=lesson,
        actor=actor.name,
        now=now,
    )
    return library.get_case(conn, vault, case_id)


def loan_by_ref(
    conn: Connection, actor: Actor, loan_ref: str | None, *, now: datetime, today: date
) -> int:
    """The loan the lender calls ``loan_ref`` (as printed: spaces and case ignored), in
    ``actor``'s scope; :class:`ValidationError` when empty, :class:`NotFound` ("loan",
    the reference) when unknown or out of scope."""
    ref = (loan_ref or "").strip()
    if not ref:
        raise ValidationError("loan_ref", "the loan reference is required")
    if len(ref) > MAX_REF:
        raise ValidationError("loan_ref", f"at most {MAX_REF} characters")
    found = conn.execute(select(Loan.id).where(Loan.external_ref == ref)).scalar()
    if found is None:
        found = conn.execute(
            select(Loan.id).where(func.upper(Loan.external_ref) == ref.upper())
        ).scalar()
    if found is None:
        raise NotFound("loan", ref)
    try:
        scope.require_loan(conn, actor, int(found), now, today)
    except NotFound:
        raise NotFound("loan", ref) from None
    return int(found)


def recent_attempts(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    now: datetime,
    today: date,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """The latest contact attempts of a loan in ``actor``'s scope (allowed or blocked),
    newest first, for linking to a complaint: id, moment, channel, party, outcome."""
    require_any(actor, FILE)
    scope.require_loan(conn, actor, loan_id, now, today)
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(
                ContactAttempt.id,
                ContactAttempt.at,
                ContactAttempt.channel,
                ContactAttempt.party,
                ContactAttempt.allowed,
                ContactAttempt.outcome,
            )
            .where(ContactAttempt.loan_id == loan_id)
            .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
            .limit(limit)
        )
    ]


def loan_refs(conn: Connection, loan_ids: list[int]) -> dict[int, str]:
    """The lender's references of these loans (for lists naming accounts)."""
    return external_refs(conn, loan_ids) if loan_ids else {}
