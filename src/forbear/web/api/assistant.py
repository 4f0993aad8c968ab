"""The assistant's API (``/api/v1/assistant/...``, issue 14): the lender's own app, and the
portal chat's script, talk to the conversation engine (:mod:`forbear.assistant.engine`).

``POST /assistant/messages`` with ``{"text", "conversation_id"?, "language"?}`` answers the
engine's :class:`~forbear.assistant.engine.Outgoing`: the conversation id (send it back to
continue), the replies (already through the guardrails and the content filter), quick-reply
options, the dialogue state, whether a person has been asked to take over
(``handed_over``) and whether one is answering now (``agent_joined``: the assistant is then
silent). ``GET /assistant/conversations/{id}`` is the transcript of one of the caller's
conversations. A conversation of another borrower answers 404 exactly like a missing one.

**Who may call**, one of:

1. *A borrower's portal session* (the portal cookie, after ``POST /api/v1/portal/session``);
   unsafe methods carry the session's CSRF token in ``X-CSRF-Token``. The conversation's
   channel is ``portal``.
2. *The lender's app server, signing for a borrower it has authenticated* (the borrower
   counts as verified: the app vouched for them). The scheme is the signed-webhook scheme
   of the provider callbacks (:mod:`forbear.domain.signatures`) under the secret of the
   provider ``app`` in ``Settings.channel_secrets`` (``FORBEAR_CHANNEL_SECRETS='{"app":
   "..."}'``):

   - ``X-Forbear-Timestamp``: unix seconds, within 5 minutes of the server's clock;
   - ``X-Forbear-Signature``: hex HMAC-SHA256 under the secret of ``<timestamp>.<content>``,
     where the content is the raw request body for ``POST``, and for ``GET`` the request
     target as sent: the path and the query string (``GET`` has no body: signing the target
     binds the signature to the conversation asked for);
   - the borrower: ``borrower_ref`` (the lender's customer number, ``borrowers.external_ref``)
     in the JSON body of ``POST``, in the query string of ``GET``
     (``?borrower_ref=C000123``);
   - each signature is accepted once (recorded like a provider callback of provider
     ``app``, ``channel_callbacks``): the same signed request again is a replay (401).

   The conversation's channel is ``api``: the replies come back in the answer, nothing is
   sent by SMS.

Refusals (nothing is written): no credential 401 ``unauthenticated``; a signed request:
401 ``signature_unknown_provider`` / ``signature_missing`` / ``signature_malformed`` /
``signature_stale`` / ``signature_mismatch`` / ``signature_replayed``, and 401
``signature_unknown_borrower`` for a ``borrower_ref`` the lender does not have; a portal
session without the CSRF token 403 ``csrf_failed``; a body not in the shape below 422
``invalid_request`` (400 ``malformed_json``); a control character 400; the engine not
available (its model not built) 503 ``unavailable``. Empty, emoji-only and mixed-script
texts are answered by the assistant, never refused; a text over
:data:`MAX_TEXT` characters is refused (the assistant itself cuts one over 1,000 with a
polite note).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as SchemaError
from starlette.concurrency import run_in_threadpool

from forbear.domain.errors import ValidationError
from forbear.domain.signatures import SignatureRefused, verify
from forbear.services import assistant as conversations
from forbear.services.outreach.callbacks import CallbackKind, Replayed, SignedCallback, accept
from forbear.services.portal import apps
from forbear.web import portal_session
from forbear.web.deps import CSRF_HEADER, assistant_engine, state_of
from forbear.web.errors import ERROR_RESPONSES, CsrfFailed, Unauthenticated, render
from forbear.web.i18n import LANG_COOKIE, Translator, request_lang
from forbear.web.permissions import MAX_ID
from forbear.web.security import same

if TYPE_CHECKING:
    from forbear.assistant.engine import Outgoing

log = logging.getLogger("forbear.web.assistant")
router = APIRouter(prefix="/assistant", tags=["assistant"])

APP_PROVIDER = "app"
TIMESTAMP_HEADER = "x-forbear-timestamp"
SIGNATURE_HEADER = "x-forbear-signature"
MAX_TEXT = 4000
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID)]


# ---------------------------------------------------------------------------- who calls


@dataclass(frozen=True)
class Caller:
    borrower_id: int
    channel: Literal["portal", "api"]  # portal (a portal session) or api (the lender's app, signed)


class SignedRefusal(Exception):
    """A signed request refused: ``reason`` names why (never a secret or a value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _signed_content(request: Request, body: bytes) -> bytes:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return target.encode()
    return body


def _borrower_ref(request: Request, body: bytes) -> str:
    if request.method == "GET":
        ref = request.query_params.get("borrower_ref", "")
    else:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        ref = parsed.get("borrower_ref", "") if isinstance(parsed, dict) else ""
    if not isinstance(ref, str) or not ref.strip():
        raise ValidationError("borrower_ref", "required in a request signed by the app")
    if len(ref) > apps.MAX_REF:
        raise ValidationError("borrower_ref", f"at most {apps.MAX_REF} characters")
    return ref


def _app_caller(request: Request, body: bytes) -> Caller:
    """A request signed by the lender's app server (module docstring): its signature
    checked, accepted once, and the borrower it names (runs in the thread pool)."""
    web = state_of(request)
    secret = web.forbear.settings.channel_secrets.get(APP_PROVIDER)
    if secret is None or not secret.get_secret_value():
        raise SignedRefusal("unknown_provider")
    signature = request.headers.get(SIGNATURE_HEADER)
    now = web.now()
    try:
        moment = verify(
            secret.get_secret_value().encode(),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=signature,
            body=_signed_content(request, body),
            now=now,
        )
    except SignatureRefused as exc:
        raise SignedRefusal(exc.reason) from None
    assert signature is not None  # verify refused a missing one
    if request.method == "POST":  # a body that will be refused spends no signature
        try:
            MessageIn.model_validate_json(body)
        except SchemaError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
    ref = _borrower_ref(request, body)
    callback = SignedCallback(
        APP_PROVIDER, CallbackKind.REPLY, signature, datetime.fromtimestamp(moment, UTC)
    )
    try:
        with web.forbear.transaction() as conn:
            # every signature once: the event key is the signature itself
            accept(conn, callback, f"app:{signature.lower()}", now=now)
            borrower_id = apps.borrower_by_ref(conn, ref)
    except Replayed:
        raise SignedRefusal("replayed") from None
    if borrower_id is None:  # the signature is spent all the same
        raise SignedRefusal("unknown_borrower")
    return Caller(borrower_id, "api")


def _portal_caller(request: Request) -> Caller:
    session = portal_session.borrower_of(request)
    if session is None:
        raise Unauthenticated(invalid=False)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not same(sent, session.csrf_token):
            raise CsrfFailed()
    return Caller(session.borrower_id, "portal")


async def caller(request: Request) -> Caller | SignedRefusal:
    """The borrower this request speaks for: a signed app request when it carries the
    signature headers, else the portal session. A refused signature comes back as a value
    (the route answers it: 401 with its own code), a missing session or CSRF token raises
    (the error map answers)."""
    if request.headers.get(SIGNATURE_HEADER) is not None or (
        request.headers.get(TIMESTAMP_HEADER) is not None
    ):
        body = await request.body()
        try:
            return await run_in_threadpool(_app_caller, request, body)
        except SignedRefusal as exc:
            return exc
    return await run_in_threadpool(_portal_caller, request)


Borrower = Annotated[Caller | SignedRefusal, Depends(caller)]


def refused(request: Request, exc: SignedRefusal) -> Response:
    t = Translator(request_lang(request))
    if exc.reason == "unknown_borrower":
        message = t("assistant.api.unknown_borrower")
    else:
        message = t(f"replies.signature.{exc.reason}")
    return render(request, 401, f"signature_{exc.reason}", message)


# ---------------------------------------------------------------------------- schemas


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MessageIn(_Strict):
    text: str = Field(
        max_length=MAX_TEXT,
        description="what the borrower wrote (empty and emoji-only texts are answered too)",
        examples=["我还欠多少钱？"],
    )
    conversation_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="continue this conversation"
    )
    language: Literal["zh", "en"] | None = Field(
        default=None, description="the front end's language hint"
    )
    borrower_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=apps.MAX_REF,
        description="the lender's customer number: only in requests signed by the app",
    )


class OptionOut(BaseModel):
    label: str = Field(examples=["是的"])
    value: str = Field(examples=["是"])


class MessageOut(BaseModel):
    conversation_id: int
    replies: list[str] = Field(examples=[["您好，请问有什么可以帮您？"]])
    options: list[OptionOut]
    state: str = Field(examples=["idle"])
    intent: str | None = Field(examples=["balance"])
    handed_over: bool
    agent_joined: bool
    language: str = Field(examples=["zh"])


class TurnOut(BaseModel):
    seq: int
    role: str = Field(examples=["borrower"], description="borrower | assistant | agent | system")
    text: str | None
    created_at: datetime


class TranscriptOut(BaseModel):
    conversation_id: int
    turns: list[TurnOut]


def message_out(out: Outgoing) -> MessageOut:
    return MessageOut(
        conversation_id=out.conversation_id,
        replies=list(out.replies),
        options=[OptionOut(label=o.label, value=o.value) for o in out.options],
        state=out.state,
        intent=out.intent,
        handed_over=out.handed_over,
        agent_joined=out.agent_joined,
        language=out.language,
    )


def language_of(request: Request, hint: str | None) -> str | None:
    """The body's hint, else a language the caller asked for (``?lang=``, the language
    cookie, ``Accept-Language``), else None: the engine reads the message's own."""
    if hint in ("zh", "en"):
        return hint
    asked = (
        request.query_params.get("lang")
        or request.cookies.get(LANG_COOKIE)
        or request.headers.get("accept-language")
    )
    if not asked:
        return None
    return "en" if request_lang(request) == "en" else "zh"


def unavailable(request: Request) -> Response:
    t = Translator(request_lang(request))
    return render(
        request,
        503,
        "unavailable",
        t("assistant.api.unavailable"),
        headers={"Retry-After": "30"},
    )


# ---------------------------------------------------------------------------- routes

AUTH = (
    "Authentication: the borrower's portal session (cookie, `X-CSRF-Token` on POST), or the "
    "lender's app server signing for a borrower it has authenticated: `X-Forbear-Timestamp` "
    "(unix seconds) and `X-Forbear-Signature` (hex HMAC-SHA256 under the secret of provider "
    "`app` of `<timestamp>.<content>`; content = the raw body for POST, the path and query for "
    "GET), the borrower named by `borrower_ref` (body for POST, query for GET). Each signature "
    "is accepted once. Another borrower's conversation answers 404 like a missing one."
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSES[code] for code in (400, 401, 403, 404, 413, 422, 503)
}


@router.post(
    "/messages",
    response_model=MessageOut,
    responses=RESPONSES,
    summary="A borrower's message to the assistant, and its answer",
    description=AUTH,
)
def post_message(request: Request, who: Borrower, body: MessageIn) -> MessageOut | Response:
    if isinstance(who, SignedRefusal):
        return refused(request, who)
    if who.channel == "portal" and body.borrower_ref is not None:
        raise ValidationError("borrower_ref", "only in a request signed by the lender's app")
    web = state_of(request)
    try:
        engine = assistant_engine(request)
    except Exception as exc:  # a missing or broken model: the app stays up, this waits
        log.error("assistant engine unavailable: %s", type(exc).__name__)
        return unavailable(request)
    from forbear.assistant.engine import Incoming  # with the engine: see assistant_engine

    out = engine.handle(
        Incoming(
            channel=who.channel,
            text=body.text,
            received_at=web.now(),
            borrower_id=who.borrower_id,
            conversation_id=body.conversation_id,
            language=language_of(request, body.language),
        )
    )
    return message_out(out)


@router.get(
    "/conversations/{conversation_id}",
    response_model=TranscriptOut,
    responses=RESPONSES,
    summary="The transcript of one of the borrower's conversations",
    description=AUTH,
)
def get_conversation(
    request: Request, who: Borrower, conversation_id: ConversationId
) -> TranscriptOut | Response:
    if isinstance(who, SignedRefusal):
        return refused(request, who)
    web = state_of(request)
    with web.forbear.reading() as conn:
        turns = conversations.borrower_transcript(
            conn, web.forbear.vault, who.borrower_id, conversation_id
        )
    return TranscriptOut(
        conversation_id=conversation_id,
        turns=[
            TurnOut(seq=t.seq, role=t.role, text=t.text, created_at=t.created_at) for t in turns
        ],
    )
