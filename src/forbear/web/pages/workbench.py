"""The agent's workbench: today's queue from the daily run, by priority."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from forbear.web import reads
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
    today = web.today()
    with web.forbear.transaction() as conn:
        day = reads.queue_date(conn, today)
        items = (
            []
            if day is None
            else reads.work_queue(conn, web.forbear.vault, principal, at=web.now(), as_of=day)
        )
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
        queue_date=day,
        items=items,
        chart=chart if items else None,
    )
