"""The agents' reply inbox (回复收件箱, issue 13): borrowers' replies that are not opt-outs,
oldest first, in the reader's scope (:mod:`forbear.services.outreach.replies`), each marked
handled once dealt with. Reading needs ``account.view``; marking handled ``contact.make``
(the form posts with the CSRF token, then redirects back)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from forbear.services.outreach import replies
from forbear.web.deps import require_any, state_of
from forbear.web.pages.render import page
from forbear.web.permissions import ACCOUNT_VIEW, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Handler = Annotated[Principal, Depends(require_any(replies.HANDLE))]
ReplyId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/replies")
def inbox(request: Request, principal: Viewer, done: str | None = None) -> Response:
    web = state_of(request)
    with web.forbear.reading() as conn:
        found = replies.list_unhandled(
            conn,
            principal.as_actor(),
            vault=web.forbear.vault,
            now=web.now(),
            today=web.today(),
        )
    return page(
        request,
        "replies/inbox.html",
        principal,
        replies=found,
        done=done if done in ("handled", "already_handled") else None,
    )


@router.post("/replies/{reply_id}/handled")
def handled(request: Request, principal: Handler, reply_id: ReplyId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        changed = replies.mark_handled(
            conn, principal.as_actor(), reply_id, now=web.now(), today=web.today()
        )
    done = "handled" if changed else "already_handled"
    return RedirectResponse(f"/replies?done={done}", 303)
