"""The assistant's pages (issue 14): the borrower's chat on the portal and the agents'
handoff queue and take-over page on the workbench.

**The chat** (``/portal/chat``, the portal session as on every portal page): the
transcript of the borrower's conversation, a text box and the quick replies as buttons.
Without JavaScript it is a plain form: POST (the session's CSRF token), the engine answers,
then a redirect back to the page (POST/redirect/GET); the conversation's id and the last
answer's quick replies and notices ride in a signed cookie (:data:`CHAT_COOKIE`, HttpOnly,
path ``/portal``), never in the URL. With JavaScript, ``/static/assistant-chat.js`` posts
the same form to ``POST /api/v1/assistant/messages`` and appends the replies without a
reload. An empty message gets a notice and reaches nobody; a long one is cut by the engine
with a polite note; nothing a borrower types makes an error page (a control character is
refused by the request guard for every page, with its own clear page).

**The handoff** (``/assistant/queue``, ``/assistant/conversations/{id}``; the contact
permission, the conversations in the agent's scope: :mod:`forbear.services.assistant`):
the waiting and taken conversations oldest first (channel, waiting since, reason, detected
intent, filled slots, verification state); one conversation's transcript (masked per role by
the service), take over, reply (the content filter's refusal shown with its rules), give
back to the assistant, close. Every form carries the CSRF token and redirects back; a
repeated submission (a double click, a reload) changes nothing twice: taking over what is
already yours, releasing or closing again are no-ops, and a reply identical to the agent's
last one within two minutes is not sent again (the use case's rule).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.compliance.content import ContentRejected
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import assistant as conversations
from forbear.services import portal as svc
from forbear.web.deps import WebState, assistant_engine, require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.portal_parts import act, redirect_sign_in, render
from forbear.web.pages.render import page
from forbear.web.permissions import CONTACT, MAX_ID
from forbear.web.portal_session import borrower_of, set_cookie
from forbear.web.sessions import Principal

if TYPE_CHECKING:
    from forbear.assistant.engine import Outgoing

log = logging.getLogger("forbear.web.assistant")
router = APIRouter()

CHAT_COOKIE = "forbear_chat"
CHAT_MAX_AGE = 24 * 3600  # a conversation idle for 24 hours is closed anyway
MAX_FORM_TEXT = 4000  # the engine cuts anything over 1,000 characters with a polite note
MAX_OPTIONS = 8
DONE = ("taken", "replied", "released", "closed", "not_waiting", "not_yours")

Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID)]


# ---------------------------------------------------------------------------- the chat


def _chat_state(request: Request, session: svc.BorrowerSession) -> dict[str, Any]:
    """The signed cookie's last answer, if it is this borrower's (else nothing)."""
    web = state_of(request)
    raw = request.cookies.get(CHAT_COOKIE)
    value = web.signer.unsign(raw, max_age=CHAT_MAX_AGE) if raw else None
    if value is None:
        return {}
    try:
        found = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(found, dict) or found.get("b") != session.borrower_id:
        return {}
    return found


def _remember(request: Request, response: Response, borrower_id: int, out: Outgoing) -> None:
    value = {
        "b": borrower_id,
        "c": out.conversation_id,
        "o": [[o.label[:100], o.value[:100]] for o in out.options[:MAX_OPTIONS]],
        "h": out.handed_over,
        "a": out.agent_joined,
    }
    web = state_of(request)
    signed = web.signer.sign(json.dumps(value, ensure_ascii=False))
    set_cookie(request, response, CHAT_COOKIE, signed, CHAT_MAX_AGE)


def _conversation_of(value: str | int | None) -> int | None:
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        return None
    return int(text)


@router.get("/portal/chat")
def chat_page(
    request: Request, notice: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    state = _chat_state(request, session)
    conversation_id = _conversation_of(state.get("c"))
    turns: list[conversations.Turn] = []
    with web.forbear.reading() as conn:
        if conversation_id is None:  # the latest conversation of the borrower, if any
            latest = conversations.borrower_conversations(conn, session.borrower_id, limit=1)
            conversation_id = latest[0] if latest else None
        continuing = conversation_id
        if conversation_id is not None:
            try:
                turns = conversations.borrower_transcript(
                    conn, web.forbear.vault, session.borrower_id, conversation_id
                )
                # the borrower's own (checked just above): the form continues it only if it
                # is the portal's and open (one held through the lender's app or by SMS is
                # shown, and the next message starts the portal's own)
                found = conversations.get_conversation(conn, web.forbear.vault, conversation_id)
                if found.channel != "portal" or found.status == "closed":
                    continuing = None
            except NotFound:  # purged, or never this borrower's: a new chat
                conversation_id, state = None, {}
    agent_joined = bool(state.get("a")) or any(turn.role == "agent" for turn in turns)
    t = Translator(request_lang(request))
    return render(
        request,
        "assistant/chat.html",
        session,
        turns=turns,
        conversation_id=continuing if conversation_id is not None else None,
        options=[(label, value) for label, value in state.get("o", [])],
        agent_joined=agent_joined,
        handed_over=bool(state.get("h")) and not agent_joined,
        notice=t(f"assistant.chat.{notice}", limit=MAX_FORM_TEXT)
        if notice in ("empty_text", "too_long", "unavailable")
        else None,
        max_text=MAX_FORM_TEXT,
    )


@router.post("/portal/chat")
def chat_send(
    request: Request,
    text: Annotated[str, Form()] = "",
    option: Annotated[str, Form()] = "",
    conversation_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    # No length limits on the fields: a long text is the engine's to answer, never a 422
    # page (the request guard still caps the body's size).
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        message = option if option.strip() else text
        if not message.strip():
            return RedirectResponse("/portal/chat?notice=empty_text", 303)
        if len(message) > MAX_FORM_TEXT:
            message = message[:MAX_FORM_TEXT]
        try:
            engine = assistant_engine(request)
        except Exception as exc:  # a missing or broken model: the page says so
            log.error("assistant engine unavailable: %s", type(exc).__name__)
            return RedirectResponse("/portal/chat?notice=unavailable", 303)
        from forbear.assistant.engine import Incoming  # with the engine: see assistant_engine

        t = Translator(request_lang(request))
        out = engine.handle(
            Incoming(
                channel="portal",
                text=message,
                received_at=web.now(),
                borrower_id=session.borrower_id,
                conversation_id=_conversation_of(conversation_id),
                language="en" if t.lang == "en" else "zh",
            )
        )
        response = RedirectResponse("/portal/chat#latest", 303)
        _remember(request, response, session.borrower_id, out)
        return response

    return act(request, csrf_token, work)


# ---------------------------------------------------------------------------- handoff


@router.get("/assistant/queue")
def queue_page(
    request: Request,
    principal: Contactor,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    web = state_of(request)
    with web.forbear.reading() as conn:
        entries = conversations.queue(conn, principal.as_actor(), web.forbear.vault, web.now())
    return page(
        request,
        "assistant/queue.html",
        principal,
        entries=entries,
        done=done if done in DONE else None,
    )


def _conversation_page(
    request: Request,
    principal: Principal,
    conversation_id: int,
    *,
    done: str | None = None,
    refused: ContentRejected | None = None,
    invalid: str | None = None,
    draft: str = "",
    status_code: int = 200,
) -> Response:
    web = state_of(request)
    actor, vault, now = principal.as_actor(), web.forbear.vault, web.now()
    with web.forbear.reading() as conn:
        found = conversations.find_conversation(conn, actor, vault, conversation_id, now=now)
        turns = conversations.transcript(conn, actor, vault, conversation_id, now=now)
        entries = conversations.queue(conn, actor, vault, now)
    entry = next((e for e in entries if e.conversation_id == conversation_id), None)
    return page(
        request,
        "assistant/conversation.html",
        principal,
        status_code=status_code,
        conversation_id=conversation_id,
        conversation=found,
        entry=entry,
        me=actor.name,
        turns=turns,
        done=done if done in DONE else None,
        refused=refused,
        invalid=invalid,
        draft=draft,
    )


@router.get("/assistant/conversations/{conversation_id}")
def conversation_page(
    request: Request,
    principal: Contactor,
    conversation_id: ConversationId,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _conversation_page(request, principal, conversation_id, done=done)


def _back(conversation_id: int, done: str) -> Response:
    return RedirectResponse(f"/assistant/conversations/{conversation_id}?done={done}", 303)


@router.post("/assistant/conversations/{conversation_id}/take-over")
def take_over(request: Request, principal: Contactor, conversation_id: ConversationId) -> Response:
    web = state_of(request)
    actor, vault, now = principal.as_actor(), web.forbear.vault, web.now()
    try:
        with web.forbear.transaction() as conn:
            conversations.take_over(conn, actor, vault, conversation_id, now)
    except Conflict:
        # a second click of the one who has it, or another agent was quicker
        with web.forbear.reading() as conn:
            found = conversations.find_conversation(conn, actor, vault, conversation_id, now=now)
        return _back(conversation_id, "taken" if found.agent == actor.name else "not_waiting")
    return _back(conversation_id, "taken")


@router.post("/assistant/conversations/{conversation_id}/reply")
def reply(
    request: Request,
    principal: Contactor,
    conversation_id: ConversationId,
    text: Annotated[str, Form()] = "",
) -> Response:
    # No length limit on the field: the use case says what is too long, on this page.
    web = state_of(request)
    actor, vault, now = principal.as_actor(), web.forbear.vault, web.now()
    t = Translator(request_lang(request))
    try:
        with web.forbear.transaction() as conn:
            # a double submission is answered once by the use case (under its lock)
            conversations.agent_reply(conn, actor, vault, conversation_id, text, now)
    except ContentRejected as exc:
        return _conversation_page(
            request, principal, conversation_id, refused=exc, draft=text, status_code=422
        )
    except ValidationError as exc:
        message = t("error.validation", field=exc.field, reason=exc.reason)
        return _conversation_page(
            request, principal, conversation_id, invalid=message, draft=text, status_code=422
        )
    except Conflict:  # not (or no longer) this agent's conversation
        return _back(conversation_id, "not_yours")
    return _back(conversation_id, "replied")


@router.post("/assistant/conversations/{conversation_id}/release")
def release(request: Request, principal: Contactor, conversation_id: ConversationId) -> Response:
    web = state_of(request)
    actor, vault, now = principal.as_actor(), web.forbear.vault, web.now()
    try:
        with web.forbear.transaction() as conn:
            conversations.release(conn, actor, vault, conversation_id, now)
    except Conflict:  # already given back (a second click), or somebody else's
        with web.forbear.reading() as conn:
            found = conversations.find_conversation(conn, actor, vault, conversation_id, now=now)
        return _back(conversation_id, "released" if found.status == "bot" else "not_yours")
    return _back(conversation_id, "released")


@router.post("/assistant/conversations/{conversation_id}/close")
def close(request: Request, principal: Contactor, conversation_id: ConversationId) -> Response:
    web = state_of(request)
    actor, vault, now = principal.as_actor(), web.forbear.vault, web.now()
    try:
        with web.forbear.transaction() as conn:
            conversations.close(conn, actor, vault, conversation_id, now)
    except Conflict:  # another agent has it
        return _back(conversation_id, "not_yours")
    return RedirectResponse("/assistant/queue?done=closed", 303)
