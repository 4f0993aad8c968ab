"""Repayment plans over the API: quote and offer (``plan.offer``, within the role's limits
of the plan policy: an offer beyond them is a 422 naming the limit), list, show, accept
(the borrower's yes), cancel (an accepted or active plan needs ``plan.approve``, checked
by the use case). Each route parses, calls one use case of
:mod:`forbear.services.plans.desk` (permission and scope checked there: a plan on a loan
out of scope is a 404) in one transaction, and renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from forbear.domain.plans.policy import BeyondAuthority
from forbear.services.plans import OfferResult, desk
from forbear.services.plans import approvals as plan_approvals
from forbear.web.collection_views import (
    ApprovalIn,
    ApprovalList,
    ApprovalOut,
    DecisionIn,
    PlanCancelIn,
    PlanDetail,
    PlanIn,
    PlanList,
    PlanOut,
    QuoteOut,
    approval_api,
    beyond_authority,
    line_out,
    plan_out,
    quote_out,
)
from forbear.web.deps import WebState, require_any, state_of, translator
from forbear.web.i18n import Translator
from forbear.web.permissions import ACCOUNT_VIEW, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["collection"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Offerer = Annotated[Principal, Depends(require_any("plan.offer"))]
Approver = Annotated[Principal, Depends(require_any("plan.approve"))]
ApprovalId = Annotated[int, Path(ge=1, le=MAX_ID, description="the submission's id")]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the loan's internal id")]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the plan's id")]


def make_offer(
    web: WebState, principal: Principal, loan_id: int, body: PlanIn, t: Translator, *, save: bool
) -> OfferResult:
    """Quote or offer, in one transaction; beyond the role's authority is a 422 in the
    user's language."""
    try:
        with web.forbear.transaction() as conn:
            return desk.offer(
                conn,
                principal.as_actor(),
                loan_id,
                body.plan_request(),
                now=web.now(),
                today=web.today(),
                income=body.income_fen,
                expenses=body.expenses_fen,
                save=save,
            )
    except BeyondAuthority as exc:
        raise beyond_authority(exc, t) from None


@router.post(
    "/accounts/{loan_id}/plans/quote",
    response_model=QuoteOut,
    summary="Compute a plan offer within the role's authority (nothing is saved)",
)
def quote_plan(request: Request, principal: Offerer, loan_id: LoanId, body: PlanIn) -> QuoteOut:
    web, t = state_of(request), translator(request)
    return quote_out(make_offer(web, principal, loan_id, body, t, save=False), t)


@router.post(
    "/accounts/{loan_id}/plans",
    response_model=QuoteOut,
    status_code=201,
    summary="Save a plan as offered to the borrower (within the role's authority)",
)
def offer_plan(request: Request, principal: Offerer, loan_id: LoanId, body: PlanIn) -> QuoteOut:
    web, t = state_of(request), translator(request)
    return quote_out(make_offer(web, principal, loan_id, body, t, save=True), t)


@router.get("/accounts/{loan_id}/plans", response_model=PlanList, summary="A loan's plans")
def get_plans(request: Request, principal: Viewer, loan_id: LoanId) -> PlanList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = desk.of_loan(conn, principal.as_actor(), loan_id, now=web.now(), today=web.today())
    return PlanList(loan_id=loan_id, items=[plan_out(p) for p in found])


@router.get("/plans/{plan_id}", response_model=PlanDetail, summary="One plan with its schedule")
def get_plan(request: Request, principal: Viewer, plan_id: PlanId) -> PlanDetail:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info, lines = desk.detail(
            conn, principal.as_actor(), plan_id, now=web.now(), today=web.today()
        )
    return PlanDetail(**plan_out(info).model_dump(), lines=[line_out(ln) for ln in lines])


@router.post(
    "/plans/{plan_id}/accept",
    response_model=PlanOut,
    summary="Record the borrower's acceptance of an offered plan",
)
def accept_plan(request: Request, principal: Offerer, plan_id: PlanId) -> PlanOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info = desk.accept(conn, principal.as_actor(), plan_id, now=web.now(), today=web.today())
    return plan_out(info)


@router.post(
    "/plans/{plan_id}/cancel",
    response_model=PlanOut,
    summary="Cancel a plan (an accepted or active one needs plan.approve)",
)
def cancel_plan(
    request: Request, principal: Offerer, plan_id: PlanId, body: PlanCancelIn | None = None
) -> PlanOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info = desk.cancel(
            conn,
            principal.as_actor(),
            plan_id,
            now=web.now(),
            today=web.today(),
            reason=body.reason if body is not None else None,
            vault=web.forbear.vault,
        )
    return plan_out(info)


# ---------------------------------------------------------------------------- approvals


@router.post(
    "/accounts/{loan_id}/plans/submit",
    response_model=ApprovalOut,
    status_code=201,
    summary="Submit a plan beyond the role's authority, with a reason, for a supervisor",
)
def submit_plan(
    request: Request, principal: Offerer, loan_id: LoanId, body: ApprovalIn
) -> ApprovalOut:
    web, t = state_of(request), translator(request)
    try:
        with web.forbear.transaction() as conn:
            found = plan_approvals.submit(
                conn,
                principal.as_actor(),
                loan_id,
                body.plan_request(),
                reason=body.reason,
                vault=web.forbear.vault,
                now=web.now(),
                today=web.today(),
                income=body.income_fen,
                expenses=body.expenses_fen,
            )
    except BeyondAuthority as exc:
        raise beyond_authority(exc, t) from None
    return approval_api(found, t)


@router.get(
    "/approvals",
    response_model=ApprovalList,
    summary="Plans awaiting a supervisor's decision (plan.approve), oldest first",
)
def list_approvals(request: Request, principal: Approver) -> ApprovalList:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        found = plan_approvals.queue(
            conn, principal.as_actor(), vault=None, now=web.now(), today=web.today()
        )
    return ApprovalList(items=[approval_api(a, t) for a in found])


@router.post(
    "/approvals/{approval_id}/decide",
    response_model=ApprovalOut,
    summary="Approve, adjust (within the supervisor's authority) or refuse a submission",
)
def decide_approval(
    request: Request, principal: Approver, approval_id: ApprovalId, body: DecisionIn
) -> ApprovalOut:
    web, t = state_of(request), translator(request)
    adjusted = body.adjusted
    try:
        with web.forbear.transaction() as conn:
            found = plan_approvals.decide(
                conn,
                principal.as_actor(),
                approval_id,
                body.decision,
                vault=web.forbear.vault,
                now=web.now(),
                today=web.today(),
                reason=body.reason,
                adjusted=adjusted.plan_request() if adjusted is not None else None,
                income=adjusted.income_fen if adjusted is not None else None,
                expenses=adjusted.expenses_fen if adjusted is not None else None,
            )
    except BeyondAuthority as exc:
        raise beyond_authority(exc, t) from None
    return approval_api(found, t)
