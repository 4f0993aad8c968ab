"""The supervisors' queue of plans beyond an agent's authority (issue 15, item 2).

``GET /approvals``: the submissions awaiting a decision (oldest first) and the latest
decisions, of the loans in the supervisor's scope. ``POST /approvals/{id}/decide``:
approve as submitted, adjust the terms, or refuse with a reason, through
:func:`forbear.services.plans.approvals.decide`, which checks ``plan.approve``, the scope
and that the submission is still pending (of two supervisors deciding at once, the second
gets this page again with a 409 and the first decision named; nothing is written twice).
A refusal keeps what was typed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.plans.policy import BeyondAuthority
from forbear.services.plans import approvals as svc
from forbear.web import collection_views as views
from forbear.web.deps import require_any, state_of, translator
from forbear.web.pages.collection import PlanForm, _plan_in, _refusal
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Approver = Annotated[Principal, Depends(require_any("plan.approve"))]
ApprovalId = Annotated[int, Path(ge=1, le=MAX_ID)]
DONE = ("approved", "adjusted", "refused")


def _queue(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    web, t = state_of(request), translator(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    vault = web.forbear.vault
    with web.forbear.transaction() as conn:
        pending = svc.queue(conn, actor, vault=vault, now=now, today=today)
        recent = svc.queue(conn, actor, vault=vault, now=now, today=today, pending=False, limit=30)
    return page(
        request,
        "approvals/queue.html",
        principal,
        status_code=status_code,
        pending=[views.approval_out(a, t) for a in pending],
        recent=[views.approval_out(a, t) for a in recent],
        plan_fields=views.PLAN_FIELDS,
        plan_types=("deferral", "restructure", "settlement", "hardship"),
        **(extra or {}),
    )


@router.get("/approvals")
def approvals_page(
    request: Request,
    principal: Approver,
    done: Annotated[str | None, Query(max_length=12)] = None,
    id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    plan: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    notice = None
    if done in DONE and id is not None:
        notice = {"done": done, "id": id, "plan": plan}
    return _queue(request, principal, extra={"notice": notice})


@router.post("/approvals/{approval_id}/decide")
def decide(
    request: Request,
    principal: Approver,
    approval_id: ApprovalId,
    form: PlanForm,
    decision: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=svc.MAX_REASON)] = "",
) -> Response:
    web, t = state_of(request), translator(request)
    try:
        adjusted = None
        income = expenses = None
        if decision == "adjust":
            body = _plan_in(form)
            adjusted = body.plan_request()
            income, expenses = body.income_fen, body.expenses_fen
        with web.forbear.transaction() as conn:
            found = svc.decide(
                conn,
                principal.as_actor(),
                approval_id,
                decision,
                vault=web.forbear.vault,
                now=web.now(),
                today=web.today(),
                reason=reason,
                adjusted=adjusted,
                income=income,
                expenses=expenses,
            )
    except BeyondAuthority as exc:
        message, status = _refusal(request, views.beyond_authority(exc, t))
        return _refused(request, principal, approval_id, form, decision, reason, message, status)
    except (ValidationError, Conflict) as exc:
        message, status = _refusal(request, exc)
        return _refused(request, principal, approval_id, form, decision, reason, message, status)
    query = f"done={found.status}&id={found.id}"
    if found.plan_id is not None:
        query += f"&plan={found.plan_id}"
    return RedirectResponse(f"/approvals?{query}", 303)


def _refused(
    request: Request,
    principal: Principal,
    approval_id: int,
    form: dict[str, str],
    decision: str,
    reason: str,
    message: str,
    status: int,
) -> Response:
    """The queue again, the refusal beside the submission, the typed values kept."""
    typed = {"form": form, "decision": decision, "reason": reason}
    return _queue(
        request,
        principal,
        status_code=status,
        extra={"error": {"id": approval_id, "message": message}, "typed": typed},
    )
