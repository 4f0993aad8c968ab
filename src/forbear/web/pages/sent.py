"""The sent-messages page (已发送消息): what the dispatcher handed to each channel (the
sandbox's messages in the demo), with status, channel, times, the reasons a message was
cancelled, and the text as sent for the roles that may read it (masked otherwise);
retry and cancel buttons for those who may contact borrowers (issue 13). Each route
calls one use case of :mod:`forbear.services.outreach.outbox`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.services.outreach import outbox
from forbear.web.deps import require_any, state_of
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Reader = Annotated[Principal, Depends(require_any(outbox.VIEW))]
Worker = Annotated[Principal, Depends(require_any(outbox.ACT))]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
STATUSES = ("queued", "sending", "sent", "delivered", "failed", "dead", "cancelled")
CHANNELS = ("sms", "email", "app_push", "ai_call", "im", "letter")
PAGE = 50


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if value not in allowed:
        raise ValidationError(field, f"one of {', '.join(allowed)}")
    return value


@router.get("/sent")
def sent(
    request: Request,
    principal: Reader,
    status: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    web = state_of(request)
    chosen_status = _choice(status, STATUSES, "status")
    chosen_channel = _choice(channel, CHANNELS, "channel")
    actor = principal.as_actor()
    with web.forbear.reading() as conn:
        counts = outbox.status_counts(conn, actor, now=web.now(), today=web.today())
        items = outbox.list_messages(
            conn,
            web.forbear.vault,
            actor,
            now=web.now(),
            today=web.today(),
            status=chosen_status,
            channel=chosen_channel,
            limit=PAGE,
            before_id=before,
        )
    totals: dict[str, int] = {}
    for c in counts:
        totals[c.status] = totals.get(c.status, 0) + c.count
    return page(
        request,
        "outbox/sent.html",
        principal,
        items=items,
        totals=totals,
        statuses=STATUSES,
        channels=CHANNELS,
        chosen_status=chosen_status,
        chosen_channel=chosen_channel,
        next_before=items[-1].id if len(items) == PAGE else None,
        done=done if done in ("retried", "cancelled") else None,
    )


@router.post("/sent/{message_id}/retry")
def retry(request: Request, principal: Worker, message_id: MessageId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        outbox.retry(conn, principal.as_actor(), message_id, now=web.now(), today=web.today())
    return RedirectResponse("/sent?done=retried", status_code=303)


@router.post("/sent/{message_id}/cancel")
def cancel(request: Request, principal: Worker, message_id: MessageId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        outbox.cancel(conn, principal.as_actor(), message_id, now=web.now(), today=web.today())
    return RedirectResponse("/sent?done=cancelled", status_code=303)
