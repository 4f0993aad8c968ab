"""The agent's workbench: today's queue from the daily run, by priority, each row worked
or not today with its last outcome; the callbacks due (约定回电); the contacts left
without an outcome; a search by phone, ID number, name or reference; "next account".
Accounts that no longer need the work since the run are listed apart with the reason
(:mod:`forbear.services.queue`).

The queue's chart is a plain HTML bar list: the workbench loads no chart library.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.access import Role
from forbear.services import queue
from forbear.services.contacts import callbacks
from forbear.web.deps import require_any, state_of
from forbear.web.pages.account_parts import local
from forbear.web.pages.render import page
from forbear.web.permissions import ACCOUNT_VIEW, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]

# Where each role lands after signing in: a page it may open (an admin on the workbench
# saw a 403 page).
LANDING = {Role.ADMIN: "/admin/staff", Role.LEGAL: "/legal"}


def landing(role: Role) -> str:
    return LANDING.get(role, "/workbench")


@router.get("/")
def home() -> Response:
    return RedirectResponse("/workbench", 303)


def agent_queue(request: Request, principal: Principal) -> queue.WorkQueue:
    web = state_of(request)
    with web.forbear.reading() as conn:
        return queue.work_queue(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            at=web.now(),
            today=web.today(),
            agent_ref=principal.agent_ref,
            team_id=principal.team_id,
            zone=web.forbear.settings.lender_timezone,
        )


@router.get("/workbench")
def workbench(request: Request, principal: Viewer) -> Response:
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.reading() as conn:
        found = queue.work_queue(
            conn,
            web.forbear.vault,
            actor,
            at=now,
            today=today,
            agent_ref=principal.agent_ref,
            team_id=principal.team_id,
            zone=web.forbear.settings.lender_timezone,
        )
        due = []
        if principal.agent_ref:
            due = callbacks.open_callbacks(
                conn, actor, now=now, today=today, agent_ref=principal.agent_ref
            )
        pending = queue.pending_outcomes(conn, actor, at=now, today=today)
    items = found.items
    by_bucket = Counter(i.bucket or "-" for i in items)
    top = max(by_bucket.values(), default=1)
    bars = [
        {"bucket": b, "count": by_bucket[b], "pct": round(100 * by_bucket[b] / top)}
        for b in sorted(by_bucket)
    ]
    worked = sum(1 for i in items if i.worked)
    following = queue.next_account(items, None)
    return page(
        request,
        "workbench.html",
        principal,
        queue_date=found.as_of,
        items=items,
        settled=found.settled,
        bars=bars,
        worked=worked,
        callbacks=due,
        pending=pending,
        next_item=following,
        zone=web.forbear.settings.lender_timezone,
        local=local,
    )


@router.get("/workbench/next")
def next_account(
    request: Request,
    principal: Viewer,
    after: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """On to the next account: a callback due now first, else the next unworked item of
    the agent's queue after ``after``; the workbench when nothing is left."""
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    if principal.agent_ref:
        with web.forbear.reading() as conn:
            due = callbacks.open_callbacks(
                conn, actor, now=now, today=today, agent_ref=principal.agent_ref
            )
        for callback in due:
            if callback.due and callback.loan_id != after:
                return RedirectResponse(f"/accounts/{callback.loan_id}#contact", 303)
    following = queue.next_account(agent_queue(request, principal).items, after)
    if following is None:
        return RedirectResponse("/workbench?done=1", 303)
    return RedirectResponse(f"/accounts/{following.loan_id}#contact", 303)
