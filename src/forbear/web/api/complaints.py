"""Complaints, satisfaction surveys and the case library over the API (issue 7).

Each route calls :mod:`forbear.services.complaints` in one transaction: a refused request
writes nothing. Permissions (``forbear/domain/access_roles.yaml``):

- filing a complaint: agents and agency agents (``contact.make``: what a borrower says on
  a call; source ``agent``) and compliance officers (``compliance.view``: regulator
  referrals, source ``regulator``, or ``agent``). Portal complaints come from the portal.
- the queue and a complaint: compliance officers and supervisors (``plan.approve``), read;
  the description (free text that may hold personal data) is shown in clear only to roles
  that may unmask for the *complaint* purpose (compliance officers), withheld otherwise.
- working a complaint (start, extend, resolve, close): ``compliance.view``; approving the
  further 30 days: a supervisor or compliance officer other than who extended it.
- recording a survey answer: ``contact.make`` or ``compliance.view``; results and
  complaint rates: supervisors and compliance officers.
- the case library: supervisors and compliance officers read and write it.

Loans outside the caller's scope answer 404 as everywhere else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from forbear.domain import complaints as domain
from forbear.domain.access import PiiField, Purpose, Role, can, may_unmask
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import complaints as svc
from forbear.store.complaints import Complaint
from forbear.store.models import Loan
from forbear.web import reads, scope
from forbear.web.api.schemas import Request as StrictRequest
from forbear.web.deps import WebState, require_any, state_of
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["complaints"])

READ = ("compliance.view", "plan.approve")
WORK = ("compliance.view",)
FILE = ("contact.make", "compliance.view")
Reader = Annotated[Principal, Depends(require_any(*READ))]
Worker = Annotated[Principal, Depends(require_any(*WORK))]
Filer = Annotated[Principal, Depends(require_any(*FILE))]
Approver = Annotated[Principal, Depends(require_any(*READ))]
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="the complaint's id")]
MAX_WINDOW_DAYS = 366

Category = Literal["harassment", "third_party", "privacy", "amount", "attitude", "other"]
RootCause = Literal[
    "agent_conduct", "contact_rules", "data_error", "process", "product", "no_fault", "other"
]
Status = Literal["open", "in_progress", "extended", "extended_approved", "resolved", "closed"]


# ------------------------------------------------------------------------------ models


class SlaClockOut(BaseModel):
    rule_id: str = Field(examples=["CN.COMPLAINT.SLA"])
    due_on: date = Field(description="answer by the end of this business day")
    days_left: int = Field(description="negative once overdue", examples=[9])
    urgency: Literal["on_track", "due_soon", "overdue", "answered"]
    escalate: bool = Field(description="due within 3 days, or overdue")


class ComplaintSummary(BaseModel):
    id: int = Field(examples=[12])
    borrower_id: int
    loan_id: int | None
    source: str = Field(examples=["agent"])
    category: str = Field(examples=["harassment"])
    status: str = Field(examples=["open"])
    received_on: date
    resolved_on: date | None = None
    contacts: int = Field(description="linked contact attempts", examples=[2])
    clock: SlaClockOut


class ComplaintList(BaseModel):
    as_of: date
    total: int
    items: list[ComplaintSummary]


class LinkedContactOut(BaseModel):
    attempt_id: int
    loan_id: int
    channel: str = Field(examples=["call"])
    party: str = Field(examples=["debtor"])
    at: datetime
    actor: str
    allowed: bool
    blocked_by: list[str]
    outcome: str | None


class ComplaintOut(ComplaintSummary):
    description: str | None = Field(
        description="free text; null when the role may not see it (description_withheld)"
    )
    description_withheld: bool
    filed_by: str
    hold_id: int | None = Field(description="the contact hold the complaint put on")
    extension_reason: str | None = None
    extended_by: str | None = None
    approved_by: str | None = None
    resolution: str | None = None
    root_cause: str | None = None
    resolved_by: str | None = None
    closed_on: date | None = None
    linked_contacts: list[LinkedContactOut]


class ComplaintRequest(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID, examples=[42], description="the loan complained about")
    source: Literal["agent", "regulator"] = Field(
        default="agent", description="regulator referrals need compliance.view"
    )
    category: Category = Field(examples=["harassment"])
    description: str = Field(
        min_length=1, max_length=domain.MAX_DESCRIPTION, examples=["借款人称晚间多次来电"]
    )
    contact_attempt_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=100, description="the contacts complained about"
    )


class ExtendRequest(StrictRequest):
    reason: str = Field(min_length=1, max_length=domain.MAX_TEXT, examples=["需调取通话录音核实"])


class ResolveRequest(StrictRequest):
    resolution: str = Field(
        min_length=1, max_length=domain.MAX_TEXT, examples=["已核实并向借款人致歉，调整联系频率"]
    )
    root_cause: RootCause = Field(examples=["contact_rules"])


class SatisfactionRequest(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID, description="the loan the subject belongs to")
    subject_type: Literal["plan", "promise", "complaint"]
    subject_id: int = Field(ge=1, le=MAX_ID)
    score: int = Field(ge=1, le=5, description="1 very dissatisfied .. 5 very satisfied")


class SatisfactionOut(BaseModel):
    id: int
    subject_type: str
    subject_id: int
    score: int


class SatisfactionRow(BaseModel):
    subject_type: str = Field(examples=["plan"])
    responses: int
    mean_score: float | None
    share_4_5: float | None = Field(description="share of answers 4 or 5")


class SatisfactionSummaryOut(BaseModel):
    start: date
    end: date
    rows: list[SatisfactionRow]


class RateRow(BaseModel):
    level: Literal["overall", "arm", "team"]
    key: str = Field(examples=["champion"])
    contacts: int
    complaints: int
    per_10k: float | None = Field(description="complaints per 10,000 contacts")


class RatesOut(BaseModel):
    start: date
    end: date
    rows: list[RateRow]


class CaseRequest(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID)
    outcome: Literal["success", "failure"]
    category: str = Field(min_length=1, max_length=32, examples=["plan"])
    lesson: str = Field(
        min_length=1,
        max_length=domain.MAX_TEXT,
        examples=["Early hardship plan after job loss; every instalment kept"],
    )


class CaseOut(BaseModel):
    id: int
    loan_id: int
    outcome: str
    category: str
    lesson: str
    written_by: str
    written_on: date


class CaseList(BaseModel):
    total: int
    items: list[CaseOut]


# ------------------------------------------------------------------------------ helpers


def business_day(conn: Connection, web: WebState) -> date:
    return web.now().astimezone(svc.lender_zone(conn)).date()


def may_read_description(principal: Principal) -> bool:
    return can(principal.role, "compliance.view") and may_unmask(
        principal.role, PiiField.NAME, Purpose.COMPLAINT
    )


def clock_out(row: dict[str, Any] | svc.ComplaintView) -> SlaClockOut:
    if isinstance(row, svc.ComplaintView):
        sla = row.clock
        return SlaClockOut(
            rule_id=domain.RULE_ID,
            due_on=sla.due_on,
            days_left=sla.days_left,
            urgency=sla.urgency.value,
            escalate=sla.escalate,
        )
    return SlaClockOut(
        rule_id=domain.RULE_ID,
        due_on=row["due_on"],
        days_left=row["days_left"],
        urgency=row["urgency"],
        escalate=row["escalate"],
    )


def summary_out(row: dict[str, Any]) -> ComplaintSummary:
    return ComplaintSummary(
        id=row["complaint_id"],
        borrower_id=row["borrower_id"],
        loan_id=row["loan_id"],
        source=row["source"],
        category=row["category"],
        status=row["status"],
        received_on=row["received_on"],
        resolved_on=row["resolved_on"],
        contacts=row["contacts"],
        clock=clock_out(row),
    )


def complaint_out(view: svc.ComplaintView, principal: Principal) -> ComplaintOut:
    shown = may_read_description(principal)
    return ComplaintOut(
        id=view.id,
        borrower_id=view.borrower_id,
        loan_id=view.loan_id,
        source=view.source,
        category=view.category,
        status=view.status,
        received_on=view.received_on,
        resolved_on=view.resolved_on,
        contacts=len(view.contacts),
        clock=clock_out(view),
        description=view.description if shown else None,
        description_withheld=not shown,
        filed_by=view.filed_by,
        hold_id=view.hold_id,
        extension_reason=view.extension_reason if shown else None,
        extended_by=view.extended_by,
        approved_by=view.approved_by,
        resolution=view.resolution if shown else None,
        root_cause=view.root_cause,
        resolved_by=view.resolved_by,
        closed_on=view.closed_on,
        linked_contacts=[
            LinkedContactOut(
                attempt_id=c.attempt_id,
                loan_id=c.loan_id,
                channel=c.channel,
                party=c.party,
                at=c.at,
                actor=c.actor,
                allowed=c.allowed,
                blocked_by=c.blocked_by,
                outcome=c.outcome,
            )
            for c in view.contacts
        ],
    )


def require_complaint(
    conn: Connection, web: WebState, principal: Principal, complaint_id: int
) -> svc.ComplaintView:
    """The complaint, if it exists and its loan is in the caller's scope (else 404)."""
    loan_id = conn.execute(
        select(Complaint.loan_id).where(Complaint.id == complaint_id)
    ).one_or_none()
    if loan_id is None:
        raise NotFound("complaint", str(complaint_id))
    if loan_id[0] is None and scope.is_scoped(principal):
        # not about a loan: a scoped user (buckets, agency) cannot be shown to see it, and
        # the scoped queue leaves it out too
        raise NotFound("complaint", str(complaint_id))
    if loan_id[0] is not None:
        try:
            scope.require_loan(
                conn, principal, loan_id[0], web.now(), reads.book_date(conn, web.today())
            )
        except NotFound:
            raise NotFound("complaint", str(complaint_id)) from None
    return svc.get_complaint(conn, web.forbear.vault, complaint_id, as_of=business_day(conn, web))


def in_scope(conn: Connection, web: WebState, principal: Principal, loan_id: int) -> int:
    """The borrower of ``loan_id`` after the scope check (404 otherwise)."""
    scope.require_loan(conn, principal, loan_id, web.now(), reads.book_date(conn, web.today()))
    borrower: int = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
    return borrower


def window(
    conn: Connection, web: WebState, start: date | None, end: date | None
) -> tuple[date, date]:
    """``start``..``end``, by default the 30 days to today; at most a year."""
    last = end or business_day(conn, web)
    first = start or date.fromordinal(last.toordinal() - 29)
    if last < first:
        raise ValidationError("end", "the window ends before it starts")
    if (last - first).days >= MAX_WINDOW_DAYS:
        raise ValidationError("start", f"a window of at most {MAX_WINDOW_DAYS} days")
    return first, last


def queue_for(
    conn: Connection,
    web: WebState,
    principal: Principal,
    *,
    status: str | None,
    open_only: bool,
    limit: int = 500,
) -> tuple[date, list[dict[str, Any]]]:
    """The complaints queue as seen by ``principal`` (its scope), overdue first."""
    day = business_day(conn, web)
    loan_ids = None
    if principal.role is Role.AGENCY_AGENT or principal.scope_buckets:
        visible = scope.visible(principal, web.now(), reads.book_date(conn, web.today()))
        loan_ids = list(conn.execute(select(Loan.id).where(visible)).scalars())
    frame = svc.list_complaints(
        conn, as_of=day, status=status, open_only=open_only, loan_ids=loan_ids, limit=limit
    )
    return day, frame.to_dicts()


# ------------------------------------------------------------------------------ routes


@router.get("/complaints", response_model=ComplaintList, summary="The complaints queue")
def list_complaints(
    request: Request,
    principal: Reader,
    status: Annotated[Status | None, Query()] = None,
    open_only: Annotated[bool, Query(description="only complaints not yet answered")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> ComplaintList:
    """Overdue first, then due soon, then by due date; each with its SLA clock
    (``CN.COMPLAINT.SLA``)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day, rows = queue_for(conn, web, principal, status=status, open_only=open_only, limit=limit)
    return ComplaintList(as_of=day, total=len(rows), items=[summary_out(r) for r in rows])


@router.post(
    "/complaints",
    response_model=ComplaintOut,
    status_code=201,
    summary="File a complaint (puts the complaint hold on the account)",
)
def file_complaint(request: Request, principal: Filer, body: ComplaintRequest) -> ComplaintOut:
    web = state_of(request)
    if body.source == "regulator" and not can(principal.role, "compliance.view"):
        raise ValidationError("source", "regulator referrals are filed by compliance")
    with web.forbear.transaction() as conn:
        borrower = in_scope(conn, web, principal, body.loan_id)
        complaint_id = svc.file_complaint(
            conn,
            web.forbear.vault,
            borrower_id=borrower,
            loan_id=body.loan_id,
            source=body.source,
            category=body.category,
            description=body.description,
            actor=principal.actor,
            now=web.now(),
            contact_attempt_ids=body.contact_attempt_ids,
        )
        view = svc.get_complaint(
            conn, web.forbear.vault, complaint_id, as_of=business_day(conn, web)
        )
    return complaint_out(view, principal)


@router.get(
    "/complaints/rates",
    response_model=RatesOut,
    summary="Complaints per 10,000 contacts, overall, by strategy arm and by team",
)
def complaint_rates(
    request: Request,
    principal: Reader,
    start: Annotated[
        date | None, Query(description="first business day (default: 30 days ago)")
    ] = None,
    end: Annotated[date | None, Query(description="last business day (default: today)")] = None,
) -> RatesOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        first, last = window(conn, web, start, end)
        frame = svc.complaint_rates(conn, first, last)
    return RatesOut(start=first, end=last, rows=[RateRow(**r) for r in frame.to_dicts()])


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, summary="One complaint")
def get_complaint(request: Request, principal: Reader, complaint_id: ComplaintId) -> ComplaintOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        view = require_complaint(conn, web, principal, complaint_id)
    return complaint_out(view, principal)


def apply_action(
    request: Request, principal: Principal, complaint_id: int, action: str, **values: str
) -> ComplaintOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        require_complaint(conn, web, principal, complaint_id)
        who, now = principal.actor, web.now()
        if action == "start":
            svc.start_work(conn, complaint_id, actor=who, now=now)
        elif action == "extend":
            svc.extend(
                conn, web.forbear.vault, complaint_id, reason=values["reason"], actor=who, now=now
            )
        elif action == "approve":
            svc.approve_extension(conn, complaint_id, actor=who, now=now)
        elif action == "resolve":
            svc.resolve(
                conn,
                web.forbear.vault,
                complaint_id,
                resolution=values["resolution"],
                root_cause=values["root_cause"],
                actor=who,
                now=now,
            )
        else:
            svc.close(conn, complaint_id, actor=who, now=now)
        view = svc.get_complaint(
            conn, web.forbear.vault, complaint_id, as_of=business_day(conn, web)
        )
    return complaint_out(view, principal)


@router.post(
    "/complaints/{complaint_id}/start",
    response_model=ComplaintOut,
    summary="Start investigating an open complaint",
)
def start_complaint(request: Request, principal: Worker, complaint_id: ComplaintId) -> ComplaintOut:
    return apply_action(request, principal, complaint_id, "start")


@router.post(
    "/complaints/{complaint_id}/extend",
    response_model=ComplaintOut,
    summary="Extend the deadline to 30 days from receipt (reason required)",
)
def extend_complaint(
    request: Request, principal: Worker, complaint_id: ComplaintId, body: ExtendRequest
) -> ComplaintOut:
    return apply_action(request, principal, complaint_id, "extend", reason=body.reason)


@router.post(
    "/complaints/{complaint_id}/approve",
    response_model=ComplaintOut,
    summary="Approve a further 30 days (supervisor or compliance, not who extended it)",
)
def approve_complaint(
    request: Request, principal: Approver, complaint_id: ComplaintId
) -> ComplaintOut:
    return apply_action(request, principal, complaint_id, "approve")


@router.post(
    "/complaints/{complaint_id}/resolve",
    response_model=ComplaintOut,
    summary="Answer the complaint: resolution and root cause; releases the hold",
)
def resolve_complaint(
    request: Request, principal: Worker, complaint_id: ComplaintId, body: ResolveRequest
) -> ComplaintOut:
    return apply_action(
        request,
        principal,
        complaint_id,
        "resolve",
        resolution=body.resolution,
        root_cause=body.root_cause,
    )


@router.post(
    "/complaints/{complaint_id}/close",
    response_model=ComplaintOut,
    summary="Close a resolved complaint",
)
def close_complaint(request: Request, principal: Worker, complaint_id: ComplaintId) -> ComplaintOut:
    return apply_action(request, principal, complaint_id, "close")


@router.post(
    "/satisfaction",
    response_model=SatisfactionOut,
    status_code=201,
    summary="Record the one-question survey after a plan, a promise or a complaint",
)
def record_satisfaction(
    request: Request, principal: Filer, body: SatisfactionRequest
) -> SatisfactionOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        borrower = in_scope(conn, web, principal, body.loan_id)
        response_id = svc.record_satisfaction(
            conn,
            borrower_id=borrower,
            subject_type=body.subject_type,
            subject_id=body.subject_id,
            score=body.score,
            actor=principal.actor,
            now=web.now(),
            loan_id=body.loan_id,
        )
    return SatisfactionOut(
        id=response_id, subject_type=body.subject_type, subject_id=body.subject_id, score=body.score
    )


@router.get(
    "/satisfaction/summary",
    response_model=SatisfactionSummaryOut,
    summary="Survey results by subject: responses, mean score, share of 4-5",
)
def satisfaction_summary(
    request: Request,
    principal: Reader,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> SatisfactionSummaryOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        first, last = window(conn, web, start, end)
        frame = svc.satisfaction_summary(conn, first, last)
    return SatisfactionSummaryOut(
        start=first, end=last, rows=[SatisfactionRow(**r) for r in frame.to_dicts()]
    )


def case_out(row: dict[str, Any]) -> CaseOut:
    return CaseOut(
        id=row["case_id"],
        loan_id=row["loan_id"],
        outcome=row["outcome"],
        category=row["category"],
        lesson=row["lesson"],
        written_by=row["written_by"],
        written_on=row["written_on"],
    )


@router.get("/cases", response_model=CaseList, summary="Search the case library")
def search_cases(
    request: Request,
    principal: Reader,
    text: Annotated[str | None, Query(max_length=200, description="words in the lesson")] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[Literal["success", "failure"] | None, Query()] = None,
) -> CaseList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        frame = svc.search_cases(
            conn, web.forbear.vault, text=text, category=category, outcome=outcome
        )
        seen = scope.visible_loans(conn, principal, web.now(), reads.book_date(conn, web.today()))
    rows = [case_out(r) for r in frame.to_dicts() if seen is None or r["loan_id"] in seen]
    return CaseList(total=len(rows), items=rows)


@router.post(
    "/cases",
    response_model=CaseOut,
    status_code=201,
    summary="Tag a closed account success or failure with its lesson",
)
def add_case(request: Request, principal: Reader, body: CaseRequest) -> CaseOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        in_scope(conn, web, principal, body.loan_id)
        case_id = svc.add_case(
            conn,
            web.forbear.vault,
            loan_id=body.loan_id,
            outcome=body.outcome,
            category=body.category,
            lesson=body.lesson,
            actor=principal.actor,
            now=web.now(),
        )
        row = svc.get_case(conn, web.forbear.vault, case_id)
    return case_out(row)
