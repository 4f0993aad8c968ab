"""The outbox for staff: messages by status, the list (newest first), retry a dead or
failed message, cancel a queued one (issue 13). Permissions and scope are the use
cases' (:mod:`forbear.services.outreach.outbox`): ``account.view`` to read (the text as
sent only with ``compliance.view`` or ``contact.make``, masked otherwise),
``contact.make`` to retry or cancel, on loans in the caller's scope."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from forbear.services.outreach import outbox
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(prefix="/outbox", tags=["outbox"])
Reader = Annotated[Principal, Depends(require_any(outbox.VIEW))]
Worker = Annotated[Principal, Depends(require_any(outbox.ACT))]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
Status = Literal["queued", "sending", "sent", "delivered", "failed", "dead", "cancelled"]
ChannelName = Literal["sms", "email", "app_push", "ai_call", "im", "letter", "call", "visit"]


class StatusCountOut(BaseModel):
    status: str
    channel: str
    count: int


class OutboxItemOut(BaseModel):
    id: int
    as_of: date
    loan_id: int
    borrower_id: int
    channel: str
    template: str | None
    article: str | None
    origin: str
    status: str
    tries: int
    due_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    provider: str | None
    reason_rules: list[str]
    last_error: str | None
    text: str | None = Field(description="the text as sent (masked for roles that may not read it)")
    text_masked: bool
    can_retry: bool
    can_cancel: bool


class OutboxList(BaseModel):
    items: list[OutboxItemOut]
    next_before_id: int | None


class Done(BaseModel):
    id: int
    status: str


def item_out(item: outbox.OutboxItem) -> OutboxItemOut:
    return OutboxItemOut(**{name: getattr(item, name) for name in OutboxItemOut.model_fields})


@router.get("/status", response_model=list[StatusCountOut], summary="Messages by status")
def status_counts(request: Request, principal: Reader) -> list[StatusCountOut]:
    web = state_of(request)
    with web.forbear.reading() as conn:
        found = outbox.status_counts(conn, principal.as_actor(), now=web.now(), today=web.today())
    return [StatusCountOut(status=c.status, channel=c.channel, count=c.count) for c in found]


@router.get("", response_model=OutboxList, summary="Messages, newest first")
def list_messages(
    request: Request,
    principal: Reader,
    status: Annotated[Status | None, Query()] = None,
    channel: Annotated[ChannelName | None, Query()] = None,
    borrower_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    loan_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=outbox.MAX_LIST)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> OutboxList:
    web = state_of(request)
    with web.forbear.reading() as conn:
        items = outbox.list_messages(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            now=web.now(),
            today=web.today(),
            status=status,
            channel=channel,
            borrower_id=borrower_id,
            loan_id=loan_id,
            limit=limit,
            before_id=before_id,
        )
    return OutboxList(
        items=[item_out(i) for i in items],
        next_before_id=items[-1].id if len(items) == limit else None,
    )


@router.post(
    "/{message_id}/retry", response_model=Done, summary="Queue a dead or failed message again"
)
def retry(request: Request, principal: Worker, message_id: MessageId) -> Done:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        outbox.retry(conn, principal.as_actor(), message_id, now=web.now(), today=web.today())
    return Done(id=message_id, status="queued")


@router.post("/{message_id}/cancel", response_model=Done, summary="Cancel a queued message")
def cancel(request: Request, principal: Worker, message_id: MessageId) -> Done:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        outbox.cancel(conn, principal.as_actor(), message_id, now=web.now(), today=web.today())
    return Done(id=message_id, status="cancelled")
