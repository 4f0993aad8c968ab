"""The agent's workbench: today's queue from the daily run, by priority; accounts that no
longer need the work since the run are listed apart with the reason
(:mod:`forbear.services.queue`)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from forbear.services import queue
from forbear.web.deps import require_any, state_of
from forbear.web.pages.render import page
from forbear.web.permissions import ACCOUNT_VIEW
from forbear.web.sessions import Principal

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/workbench", 303)


@router.get("/workbench")
def workbench(request: Request, principal: Viewer) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = queue.work_queue(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            at=web.now(),
            today=web.today(),
            agent_ref=principal.agent_ref,
            team_id=principal.team_id,
        )
    items = found.items
    by_bucket = Counter(i.bucket or "-" for i in items)
    chart = {
        "kind": "bar",
        "x": sorted(by_bucket),
        "y": [by_bucket[b] for b in sorted(by_bucket)],
    }
    return page(
        request,
        "workbench.html",
        principal,
        queue_date=found.as_of,
        items=items,
        settled=found.settled,
        chart=chart if items else None,
    )
