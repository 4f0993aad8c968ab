"""Complaints, satisfaction surveys and the case library over the API (issue 7).

Each route calls one use case of :mod:`forbear.services.complaints.desk` (which checks the
permissions and the scope below, whatever the front end) in one transaction: a refused
request writes nothing. Schemas are :mod:`forbear.web.complaint_views`. Permissions
(``forbear/domain/access_roles.yaml``):

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

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from forbear.services import complaints as svc
from forbear.services.complaints import desk
from forbear.services.scope import visible_loans
from forbear.web.complaint_views import (
    CaseList,
    CaseOut,
    CaseRequest,
    ComplaintList,
    ComplaintOut,
    ComplaintRequest,
    ExtendRequest,
    RateRow,
    RatesOut,
    ResolveRequest,
    SatisfactionOut,
    SatisfactionRequest,
    SatisfactionRow,
    SatisfactionSummaryOut,
    Status,
    case_out,
    complaint_out,
    summary_out,
)
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["complaints"])

READ, WORK, FILE = desk.READ, desk.WORK, desk.FILE
Reader = Annotated[Principal, Depends(require_any(*READ))]
Worker = Annotated[Principal, Depends(require_any(*WORK))]
Filer = Annotated[Principal, Depends(require_any(*FILE))]
Approver = Annotated[Principal, Depends(require_any(*READ))]
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID, description="the complaint's id")]
Start = Annotated[date | None, Query(description="first business day (default: 30 days ago)")]
End = Annotated[date | None, Query(description="last business day (default: today)")]


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
        day, rows = desk.queue(
            conn,
            principal.as_actor(),
            now=web.now(),
            today=web.today(),
            status=status,
            open_only=open_only,
            limit=limit,
        )
    return ComplaintList(as_of=day, total=len(rows), items=[summary_out(r) for r in rows])


@router.post(
    "/complaints",
    response_model=ComplaintOut,
    status_code=201,
    summary="File a complaint (puts the complaint hold on the account)",
)
def file_complaint(request: Request, principal: Filer, body: ComplaintRequest) -> ComplaintOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        view = desk.file(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id=body.loan_id,
            loan_ref=body.loan_ref,
            source=body.source,
            category=body.category,
            description=body.description,
            contact_attempt_ids=body.contact_attempt_ids,
            now=web.now(),
            today=web.today(),
        )
    return complaint_out(view, principal)


@router.get(
    "/complaints/rates",
    response_model=RatesOut,
    summary="Complaints per 10,000 contacts, overall, by strategy arm and by team",
)
def complaint_rates(
    request: Request, principal: Reader, start: Start = None, end: End = None
) -> RatesOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        first, last = desk.report_window(conn, web.now(), start, end)
        frame = svc.complaint_rates(conn, first, last)
    return RatesOut(start=first, end=last, rows=[RateRow(**r) for r in frame.to_dicts()])


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, summary="One complaint")
def get_complaint(request: Request, principal: Reader, complaint_id: ComplaintId) -> ComplaintOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        view = desk.require_complaint(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            complaint_id,
            now=web.now(),
            today=web.today(),
        )
    return complaint_out(view, principal)


def _act(
    request: Request, principal: Principal, complaint_id: int, action: str, **values: str
) -> ComplaintOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        view = desk.act(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            complaint_id,
            action,
            now=web.now(),
            today=web.today(),
            **values,
        )
    return complaint_out(view, principal)


@router.post(
    "/complaints/{complaint_id}/start",
    response_model=ComplaintOut,
    summary="Start investigating an open complaint",
)
def start_complaint(request: Request, principal: Worker, complaint_id: ComplaintId) -> ComplaintOut:
    return _act(request, principal, complaint_id, "start")


@router.post(
    "/complaints/{complaint_id}/extend",
    response_model=ComplaintOut,
    summary="Extend the deadline to 30 days from receipt (reason required)",
)
def extend_complaint(
    request: Request, principal: Worker, complaint_id: ComplaintId, body: ExtendRequest
) -> ComplaintOut:
    return _act(request, principal, complaint_id, "extend", reason=body.reason)


@router.post(
    "/complaints/{complaint_id}/approve",
    response_model=ComplaintOut,
    summary="Approve a further 30 days (supervisor or compliance, not who extended it)",
)
def approve_complaint(
    request: Request, principal: Approver, complaint_id: ComplaintId
) -> ComplaintOut:
    return _act(request, principal, complaint_id, "approve")


@router.post(
    "/complaints/{complaint_id}/resolve",
    response_model=ComplaintOut,
    summary="Answer the complaint: resolution and root cause; releases the hold",
)
def resolve_complaint(
    request: Request, principal: Worker, complaint_id: ComplaintId, body: ResolveRequest
) -> ComplaintOut:
    return _act(
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
    return _act(request, principal, complaint_id, "close")


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
        response_id = desk.record_survey(
            conn,
            principal.as_actor(),
            loan_id=body.loan_id,
            subject_type=body.subject_type,
            subject_id=body.subject_id,
            score=body.score,
            now=web.now(),
            today=web.today(),
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
    start: Start = None,
    end: End = None,
) -> SatisfactionSummaryOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        first, last = desk.report_window(conn, web.now(), start, end)
        frame = svc.satisfaction_summary(conn, first, last)
    return SatisfactionSummaryOut(
        start=first, end=last, rows=[SatisfactionRow(**r) for r in frame.to_dicts()]
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
        seen = visible_loans(conn, principal.as_actor(), web.now(), web.today())
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
        row = desk.add_lesson(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id=body.loan_id,
            outcome=body.outcome,
            category=body.category,
            lesson=body.lesson,
            now=web.now(),
            today=web.today(),
        )
    return case_out(row)
