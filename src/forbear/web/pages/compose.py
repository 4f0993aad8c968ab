"""Composing a message to a borrower from the workbench: choose, preview, send (issue 13).

Plain forms, no JavaScript needed:

1. ``GET /accounts/{loan_id}/compose``: one list of everything that may go, grouped by
   channel (templates approved for the debtor, education articles), with the channels this
   borrower cannot be reached on marked; choosing is a GET, so the preview is a page of
   its own;
2. ``GET /accounts/{loan_id}/compose?choice=sms:template:CN.M1.REMIND.SMS``: the text as
   the borrower would get it (checked by the content filter) and the gate's answer now
   (allowed, or blocked with its rule ids, their explanation and the earliest allowed time
   in the borrower's zone). When it may go, a send form carries a fresh request id;
3. ``POST /accounts/{loan_id}/compose``: :func:`forbear.services.outreach.compose.send`;
   queued, the browser is redirected (post, redirect, get) to the page saying so. A double
   click or a resubmitted form carries the same request id and queues nothing more. A
   refusal re-renders the preview with the reason (409).

The account page shows the borrower's correspondence (:func:`correspondence_section`):
the messages with their status and, for the roles that may read them, the texts as sent,
and the borrower's replies.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from forbear.domain.errors import ValidationError
from forbear.services import contacts as contact_service
from forbear.services.outreach import compose, correspondence, replies
from forbear.web.deps import gate_lang, require_any, state_of
from forbear.web.pages.account_parts import account_section, local
from forbear.web.pages.render import page
from forbear.web.permissions import CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
KINDS = ("template", "article")


def parse_choice(value: str) -> tuple[str, str | None, str | None]:
    """``channel:template:CODE`` or ``channel:article:slug`` -> (channel, template,
    article); :class:`ValidationError` otherwise."""
    channel, _, rest = value.partition(":")
    kind, _, code = rest.partition(":")
    if not channel or kind not in KINDS or not 0 < len(code) <= 64:
        raise ValidationError("choice", "choose a message from the list")
    return (channel, code, None) if kind == "template" else (channel, None, code)


def _compose_page(
    request: Request,
    principal: Principal,
    loan_id: int,
    *,
    choice: str | None,
    sent_id: int | None = None,
    refusal: compose.GateAnswer | None = None,
    status_code: int = 200,
) -> Response:
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    lang = gate_lang(request)
    shown: compose.Preview | None = None
    with web.forbear.reading() as conn:
        found = compose.choices(conn, actor, loan_id, now=now, today=today, lang=lang)
        if choice:
            channel, template, article = parse_choice(choice)
            rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
            shown = compose.preview(
                conn,
                web.forbear.vault,
                rules,
                actor,
                loan_id,
                channel=channel,
                template=template,
                article=article,
                now=now,
                today=today,
                public_url=web.forbear.settings.public_url,
                lang=lang,
            )
    return page(
        request,
        "outreach/compose.html",
        principal,
        status_code=status_code,
        loan_id=loan_id,
        choices=found,
        choice=choice or "",
        preview=shown,
        gate=refusal or (shown.gate if shown is not None else None),
        refused_now=refusal is not None,
        request_id=uuid.uuid4().hex,
        sent_id=sent_id,
    )


@router.get("/accounts/{loan_id}/compose")
def compose_page(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    choice: Annotated[str | None, Query(max_length=100)] = None,
    sent: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    return _compose_page(request, principal, loan_id, choice=choice, sent_id=sent)


@router.post("/accounts/{loan_id}/compose")
def send(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    choice: Annotated[str, Form(max_length=100)],
    request_id: Annotated[str, Form(max_length=64)],
) -> Response:
    web = state_of(request)
    channel, template, article = parse_choice(choice)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        sent = compose.send(
            conn,
            web.forbear.vault,
            rules,
            principal.as_actor(),
            loan_id,
            channel=channel,
            template=template,
            article=article,
            request_id=request_id,
            now=web.now(),
            today=web.today(),
            public_url=web.forbear.settings.public_url,
            lang=gate_lang(request),
        )
    if sent.message is None:  # refused now (audited): the preview again, with why
        return _compose_page(
            request, principal, loan_id, choice=choice, refusal=sent.gate, status_code=409
        )
    return RedirectResponse(f"/accounts/{loan_id}/compose?sent={sent.message.id}", 303)


@account_section
def correspondence_section(
    request: Request, conn: Connection, principal: Principal, loan_id: int, as_of: date | None
) -> dict[str, Any]:
    """The borrower's correspondence on the account page (inside its transaction, after
    the scope check)."""
    del as_of
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    found = correspondence.for_loan(conn, web.forbear.vault, actor, loan_id, at=now, today=today)
    answers = replies.list_for_borrower(
        conn, actor, found.borrower_id, vault=web.forbear.vault, now=now, today=today, limit=50
    )
    zone = web.forbear.settings.lender_timezone
    return {
        "letters": found.letters[:50],
        "borrower_replies": answers,
        "local_time": lambda moment: local(moment, zone),
    }
