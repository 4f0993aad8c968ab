"""Messages an agent sends from the workbench: templates and articles to choose from, the
rendered preview, send, and the borrower's correspondence (issue 13).

- ``GET /outreach/loans/{loan_id}/choices``: per channel, whether the borrower can be
  reached there and the approved templates and articles it carries;
- ``POST /outreach/loans/{loan_id}/preview``: the text as the borrower would get it and
  the gate's answer now (nothing written);
- ``POST /outreach/loans/{loan_id}/messages``: ask the gate now and queue the message for
  the dispatcher: ``201`` when queued, ``200`` when this ``request_id`` had queued it
  already (a retried POST queues nothing more), ``409 contact_blocked`` with the rule ids
  (``details``) and the earliest allowed time when the gate refuses it now;
- ``GET /outreach/loans/{loan_id}/messages``: the messages to the borrower with their
  status, and the borrower's replies; texts for the roles that may read them.

Everything is :mod:`forbear.services.outreach.compose` /
:mod:`~forbear.services.outreach.correspondence`; a loan outside the caller's scope is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from forbear.domain.compliance.schema import Channel
from forbear.services import contacts as contact_service
from forbear.services.outreach import compose, correspondence, replies
from forbear.web.deps import gate_lang, require_any, state_of, translator
from forbear.web.errors import ErrorBody, ErrorResponse
from forbear.web.permissions import ACCOUNT_VIEW, CONTACT, MAX_ID
from forbear.web.schema_base import Request as RequestBody
from forbear.web.sessions import Principal

router = APIRouter(prefix="/outreach", tags=["outreach"])
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
SENDABLE = tuple(c.value for c in compose.SENDABLE)


# ------------------------------------------------------------------------------ schemas


class TemplateOut(BaseModel):
    code: str
    version: int
    lang: str
    body: str = Field(description="the approved template with its {placeholders}")


class ArticleOut(BaseModel):
    slug: str
    title: str
    summary: str


class ChannelOut(BaseModel):
    channel: str = Field(examples=["sms"])
    reachable: bool
    unreachable: str | None = Field(
        default=None, description="no_contact_point or opted_out", examples=[None]
    )
    templates: list[TemplateOut]
    articles: list[ArticleOut]


class ChoicesOut(BaseModel):
    loan_id: int
    channels: list[ChannelOut]


class MessageChoice(RequestBody):
    channel: Channel = Field(examples=["sms"], description=f"one of {', '.join(SENDABLE)}")
    template: str | None = Field(
        default=None, min_length=1, max_length=64, examples=["CN.M1.REMIND.SMS"]
    )
    article: str | None = Field(default=None, min_length=1, max_length=64, examples=[None])


class SendRequest(MessageChoice):
    request_id: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the client's id of this send (a UUID): a retried POST queues once",
        examples=["5f0c1b6e-1d0a-4a53-9a57-3d0f3c6f1e2b"],
    )


class GateOut(BaseModel):
    allowed: bool
    blocked_by: list[str]
    earliest_allowed_at: datetime | None
    earliest_allowed_local: str | None = Field(description="in the borrower's zone")
    timezone: str
    explanation: list[str] = Field(description="why it is blocked, in the caller's language")


class PreviewOut(BaseModel):
    loan_id: int
    channel: str
    template: str | None
    article: str | None
    lang: str
    subject: str | None
    body: str = Field(description="the text as the borrower would get it now")
    refused: list[str] = Field(
        description="the content filter's rule ids, or OUTBOX.MISSING_VARIABLE and the "
        "missing variables: the text may not go at all"
    )
    sendable: bool
    gate: GateOut


class QueuedOut(BaseModel):
    message_id: int
    dedupe_key: str = Field(description="the message's stable id (the provider's idempotency key)")
    loan_id: int
    channel: str
    template: str | None
    article: str | None
    status: str
    due_at: datetime
    created_at: datetime
    created: bool = Field(description="false when this request_id had queued it before")


class LetterOut(BaseModel):
    message_id: int
    loan_id: int
    origin: str = Field(description="run, agent or system")
    actor: str | None
    channel: str
    template: str | None
    article: str | None
    status: str = Field(description="queued, sending, sent, delivered, failed, dead, cancelled")
    reasons: list[str] = Field(description="rule ids or the reason of a cancellation")
    error: str | None
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    subject: str | None = Field(default=None, description="an e-mail's or a letter's")
    text: str | None = Field(description="the text as sent, for roles that may read it")
    text_hidden: bool


class ReplyOut(BaseModel):
    reply_id: int
    channel: str
    received_at: datetime
    classification: str
    handled_at: datetime | None
    text: str | None
    text_hidden: bool


class CorrespondenceOut(BaseModel):
    loan_id: int
    messages: list[LetterOut]
    replies: list[ReplyOut]


def gate_out(answer: compose.GateAnswer) -> GateOut:
    return GateOut(
        allowed=answer.allowed,
        blocked_by=list(answer.blocked_by),
        earliest_allowed_at=answer.earliest_allowed_at,
        earliest_allowed_local=answer.earliest_local,
        timezone=answer.timezone,
        explanation=list(answer.explanation),
    )


# ------------------------------------------------------------------------------ routes


@router.get(
    "/loans/{loan_id}/choices",
    response_model=ChoicesOut,
    summary="What may be sent to this borrower, per channel, and whether they can be reached",
)
def choices(request: Request, principal: Contactor, loan_id: LoanId) -> ChoicesOut:
    web = state_of(request)
    with web.forbear.reading() as conn:
        found = compose.choices(
            conn,
            principal.as_actor(),
            loan_id,
            now=web.now(),
            today=web.today(),
            lang=gate_lang(request),
        )
    return ChoicesOut(
        loan_id=found.loan_id,
        channels=[
            ChannelOut(
                channel=c.channel,
                reachable=c.reachable,
                unreachable=c.unreachable,
                templates=[
                    TemplateOut(code=x.code, version=x.version, lang=x.lang, body=x.body)
                    for x in c.templates
                ],
                articles=[
                    ArticleOut(slug=a.slug, title=a.title, summary=a.summary) for a in c.articles
                ],
            )
            for c in found.channels
        ],
    )


@router.post(
    "/loans/{loan_id}/preview",
    response_model=PreviewOut,
    summary="The text as the borrower would get it, and the compliance gate's answer now",
)
def preview(
    request: Request, principal: Contactor, loan_id: LoanId, body: MessageChoice
) -> PreviewOut:
    web = state_of(request)
    with web.forbear.reading() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        shown = compose.preview(
            conn,
            web.forbear.vault,
            rules,
            principal.as_actor(),
            loan_id,
            channel=body.channel.value,
            template=body.template,
            article=body.article,
            now=web.now(),
            today=web.today(),
            public_url=web.forbear.settings.public_url,
            lang=gate_lang(request),
        )
    return PreviewOut(
        loan_id=shown.loan_id,
        channel=shown.channel,
        template=shown.template,
        article=shown.article,
        lang=shown.lang,
        subject=shown.subject,
        body=shown.body,
        refused=list(shown.refused),
        sendable=shown.sendable,
        gate=gate_out(shown.gate),
    )


@router.post(
    "/loans/{loan_id}/messages",
    response_model=QueuedOut,
    status_code=201,
    summary="Ask the gate now and queue the message for the dispatcher (once per request_id)",
    responses={
        200: {"model": QueuedOut, "description": "this request_id had queued it already"},
        409: {"model": ErrorResponse, "description": "the gate refuses it now (rule ids)"},
    },
)
def send(request: Request, principal: Contactor, loan_id: LoanId, body: SendRequest) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        sent = compose.send(
            conn,
            web.forbear.vault,
            rules,
            principal.as_actor(),
            loan_id,
            channel=body.channel.value,
            template=body.template,
            article=body.article,
            request_id=body.request_id,
            now=web.now(),
            today=web.today(),
            public_url=web.forbear.settings.public_url,
            lang=gate_lang(request),
        )
    # the refusal is audited (committed above); the answer says why and until when
    if sent.message is None:
        t = translator(request)
        answer = sent.gate
        message = t(
            "outreach.blocked",
            rules=", ".join(answer.blocked_by),
            earliest=(
                t("outreach.earliest", at=answer.earliest_local, zone=answer.timezone)
                if answer.earliest_local
                else t("outreach.never")
            ),
        )
        error = ErrorResponse(
            error=ErrorBody(
                code="contact_blocked",
                message=message,
                field="channel",
                details=[*answer.blocked_by, *answer.explanation],
            )
        )
        return JSONResponse(error.model_dump(), status_code=409)
    queued = sent.message
    out = QueuedOut(
        message_id=queued.id,
        dedupe_key=queued.dedupe_key,
        loan_id=queued.loan_id,
        channel=queued.channel,
        template=queued.template,
        article=queued.article,
        status=queued.status,
        due_at=queued.due_at,
        created_at=queued.created_at,
        created=sent.created,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if sent.created else 200)


@router.get(
    "/loans/{loan_id}/messages",
    response_model=CorrespondenceOut,
    summary="The messages to this borrower with their status, and the borrower's replies",
)
def messages(request: Request, principal: Viewer, loan_id: LoanId) -> CorrespondenceOut:
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.reading() as conn:
        found = correspondence.for_loan(
            conn, web.forbear.vault, actor, loan_id, at=now, today=today
        )
        answers = replies.list_for_borrower(
            conn, actor, found.borrower_id, vault=web.forbear.vault, now=now, today=today
        )
    return CorrespondenceOut(
        loan_id=loan_id,
        messages=[
            LetterOut(
                message_id=x.id,
                loan_id=x.loan_id,
                origin=x.origin,
                actor=x.actor,
                channel=x.channel,
                template=x.template,
                article=x.article,
                status=x.status,
                reasons=list(x.reasons),
                error=x.error,
                created_at=x.created_at,
                due_at=x.due_at,
                sent_at=x.sent_at,
                delivered_at=x.delivered_at,
                subject=x.subject,
                text=x.text,
                text_hidden=x.text_hidden,
            )
            for x in found.letters
        ],
        replies=[
            ReplyOut(
                reply_id=r.id,
                channel=r.channel,
                received_at=r.received_at,
                classification=r.classification,
                handled_at=r.handled_at,
                text=r.text,
                text_hidden=r.text_hidden,
            )
            for r in answers
        ],
    )
