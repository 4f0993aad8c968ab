"""Signed provider callbacks under /api/v1/channels: delivery receipts, inbound replies, real-
time payments (issue 13).

Machine to machine: no session, no CSRF token, no API token. Each provider signs the raw
body with its shared secret (``Settings.channel_secrets``; :mod:`forbear.domain.signatures`):
``X-Forbear-Timestamp`` (unix seconds) and ``X-Forbear-Signature`` (hex HMAC-SHA256 of
``<timestamp>.<body>``). The request guard's body size limit applies as everywhere.

Refusals, and nothing is written for any of them:

======================================  ======  =================================
what                                    status  ``error.code``
======================================  ======  =================================
provider without a configured secret    401     ``signature_unknown_provider``
no timestamp or no signature            401     ``signature_missing``
signature or timestamp not well formed  401     ``signature_malformed``
timestamp outside the window            401     ``signature_stale``
signature does not match the body       401     ``signature_mismatch``
the same signed request again           401     ``signature_replayed``
body not JSON, or not the shape below   400     ``malformed_callback``
a value the use case refuses            400     ``invalid_callback`` (``field``)
unknown message or loan                 404     ``not_found``
contradicts what is stored              409     ``conflict``
======================================  ======  =================================

An event delivered again (a provider's retry, freshly signed) answers 200 with ``status``
``duplicate`` and changes nothing. The answers say nothing about a borrower: a reply from
an unknown number is answered like any other.

With ``Settings.assistant_sms`` on, an SMS reply that is not an opt-out is routed to the
borrower assistant (issue 14): once the reply's transaction has committed and the provider
has its answer (the same answer as ever), the reply is handed to the conversation engine
(:mod:`forbear.assistant.engine`), which queues its answers for the dispatcher. If the
engine fails, the failure is logged (its type only, no personal data) and the reply stays
for the agents' reply inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, BackgroundTasks, Path, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic import ValidationError as SchemaError
from starlette.concurrency import run_in_threadpool

from forbear.domain.errors import ValidationError
from forbear.domain.signatures import SignatureRefused, verify
from forbear.services.outreach import payments, receipts, replies
from forbear.services.outreach.callbacks import CallbackKind, Replayed, SignedCallback, accept
from forbear.web.deps import assistant_engine, state_of
from forbear.web.errors import ERROR_RESPONSES, render
from forbear.web.i18n import Translator, request_lang

log = logging.getLogger("forbear.web.channels")
router = APIRouter(prefix="/channels", tags=["channels"])

TIMESTAMP_HEADER = "x-forbear-timestamp"
SIGNATURE_HEADER = "x-forbear-signature"

Provider = Annotated[str, Path(min_length=1, max_length=32, description="the provider's name")]
M = TypeVar("M", bound=BaseModel)


class _Callback(BaseModel):
    # Providers add fields of their own: ignored, never an error.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ReceiptIn(_Callback):
    message_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="the outbox's dedupe key"
    )
    provider_ref: str | None = Field(default=None, min_length=1, max_length=128)
    status: Literal[
        "delivered", "answered", "no_answer", "busy", "failed", "undelivered", "invalid_number"
    ]
    at: AwareDatetime
    event_id: str | None = Field(default=None, min_length=1, max_length=100)


class ReplyIn(_Callback):
    sender: str = Field(alias="from", min_length=1, max_length=320)
    to: str | None = Field(default=None, max_length=320)
    text: str = Field(max_length=replies.MAX_TEXT)
    at: AwareDatetime | None = None
    channel: Literal["sms", "email"] = "sms"
    message_id: str | None = Field(default=None, min_length=1, max_length=64)
    event_id: str | None = Field(default=None, min_length=1, max_length=100)


class PaymentIn(_Callback):
    transaction_id: str = Field(min_length=1, max_length=64)
    loan_ref: str | None = Field(default=None, min_length=1, max_length=64)
    loan_id: int | None = Field(default=None, ge=1, le=2**62)
    amount: str = Field(min_length=1, max_length=32, description="yuan, e.g. 1234.56")
    paid_at: str = Field(min_length=1, max_length=40)
    channel: str | None = Field(default=None, max_length=16)


class CallbackOut(BaseModel):
    status: Literal["applied", "duplicate"]


class ReceiptOut(CallbackOut):
    outbox_status: str | None = None
    outcome: str | None = None


class PaymentOut(CallbackOut):
    payment_id: int | None
    loan_id: int
    amount_fen: int


async def _signed(
    request: Request, provider: str, kind: CallbackKind, model: type[M]
) -> tuple[SignedCallback, M]:
    """The body checked against the provider's signature, then parsed (raises
    :class:`SignatureRefused` or :class:`SchemaError`)."""
    body = await request.body()
    web = state_of(request)
    secret = web.forbear.settings.channel_secrets.get(provider)
    if secret is None or not secret.get_secret_value():
        raise SignatureRefused("unknown_provider")
    signature = request.headers.get(SIGNATURE_HEADER)
    moment = verify(
        secret.get_secret_value().encode(),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=signature,
        body=body,
        now=web.now(),
    )
    parsed = model.model_validate_json(body)
    assert signature is not None  # verify refused a missing one
    return SignedCallback(provider, kind, signature, datetime.fromtimestamp(moment, UTC)), parsed


async def _answer(
    request: Request,
    provider: str,
    kind: CallbackKind,
    model: type[M],
    work: Callable[[SignedCallback, M], BaseModel],
) -> Response | BaseModel:
    t = Translator(request_lang(request))
    try:
        callback, parsed = await _signed(request, provider, kind, model)
        return await run_in_threadpool(work, callback, parsed)
    except (SignatureRefused, Replayed) as exc:
        return render(request, 401, f"signature_{exc.reason}", t(f"replies.signature.{exc.reason}"))
    except SchemaError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('type', 'invalid')}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        return render(request, 400, "malformed_callback", t("replies.malformed"), details=problems)
    except ValidationError as exc:
        message = t("replies.invalid", field=exc.field, reason=exc.reason)
        return render(request, 400, "invalid_callback", message, field=exc.field)


RESPONSES: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSES[code] for code in (400, 401, 404, 409, 413)
}


@router.post(
    "/{provider}/receipts",
    response_model=ReceiptOut,
    responses=RESPONSES,
    summary="A delivery receipt or call outcome",
)
async def receipt(request: Request, provider: Provider) -> Response | BaseModel:
    """What became of a message handed to the provider (``message_id``, the idempotency key
    it was given, or ``provider_ref``): the message's status and the contact's outcome
    (recorded once); ``invalid_number`` also stops that contact point."""
    web = state_of(request)

    def work(callback: SignedCallback, body: ReceiptIn) -> ReceiptOut:
        found = receipts.Receipt(
            status=body.status,
            at=body.at,
            message_id=body.message_id,
            provider_ref=body.provider_ref,
            event_id=body.event_id,
        )
        with web.forbear.transaction() as conn:
            now = web.now()
            accepted = accept(conn, callback, receipts.event_key(found), now=now)
            done = receipts.apply_receipt(conn, accepted, found, provider=provider, now=now)
        return ReceiptOut(
            status=done.status,
            outbox_status=done.outbox_status,
            outcome=done.outcome,
        )

    return await _answer(request, provider, CallbackKind.RECEIPT, ReceiptIn, work)


@router.post(
    "/{provider}/replies",
    response_model=CallbackOut,
    responses=RESPONSES,
    summary="A borrower's reply (SMS or e-mail)",
)
async def reply(
    request: Request, provider: Provider, background: BackgroundTasks
) -> Response | BaseModel:
    """A reply to a message: an opt-out (退订 / TD / STOP ...) stops that medium and is
    confirmed once; any other reply goes to the agents, or to the borrower assistant when
    ``assistant_sms`` is on (then the assistant answers by SMS). The answer is the same
    whether the sender is known or not."""
    web = state_of(request)
    to_assistant = web.forbear.settings.assistant_sms

    def work(callback: SignedCallback, body: ReplyIn) -> CallbackOut:
        found = replies.IncomingReply(
            channel=body.channel,
            sender=body.sender,
            text=body.text,
            sent_at=body.at,
            message_id=body.message_id,
            event_id=body.event_id,
        )
        vault = web.forbear.vault
        with web.forbear.transaction() as conn:
            now = web.now()
            accepted = accept(conn, callback, replies.event_key(found, vault), now=now)
            done = replies.receive_reply(
                conn,
                accepted,
                found,
                provider=provider,
                vault=vault,
                now=now,
                assistant_sms=to_assistant,
            )
        # committed: the engine works after the provider has its answer
        if done.routed_to == "assistant" and done.reply_id is not None:
            background.add_task(hand_to_assistant, request, done.reply_id, found, now)
        return CallbackOut(status=done.status)

    return await _answer(request, provider, CallbackKind.REPLY, ReplyIn, work)


def hand_to_assistant(
    request: Request, reply_id: int, found: replies.IncomingReply, received_at: datetime
) -> None:
    """The stored reply to the conversation engine, then marked handled by it. Never
    raises: a failure is logged without personal data (the error's type only) and the reply
    stays unhandled, so it reaches the agents' reply inbox."""
    web = state_of(request)
    try:
        from forbear.assistant.engine import Incoming  # only when the assistant is on

        engine = assistant_engine(request)
        out = engine.handle(
            Incoming(channel="sms", text=found.text, received_at=received_at, sender=found.sender)
        )
        with web.forbear.transaction() as conn:
            replies.mark_handled_by_assistant(conn, reply_id, out.conversation_id, now=web.now())
    except Exception as exc:  # the reply stays for the agents
        log.error("assistant did not take reply %s: %s", reply_id, type(exc).__name__)


@router.post(
    "/{provider}/payments",
    response_model=PaymentOut,
    responses=RESPONSES,
    summary="A confirmed payment, in real time",
)
async def payment(request: Request, provider: Provider) -> Response | BaseModel:
    """Post a confirmed payment at once (the payments file's checks; idempotent by
    ``transaction_id``): the borrower situation, promises and queued messages follow."""
    web = state_of(request)

    def work(callback: SignedCallback, body: PaymentIn) -> PaymentOut:
        found = payments.LivePayment(
            transaction_id=body.transaction_id,
            amount=body.amount,
            paid_at=body.paid_at,
            loan_ref=body.loan_ref,
            loan_id=body.loan_id,
            channel=body.channel,
        )
        with web.forbear.transaction() as conn:
            now = web.now()
            accepted = accept(conn, callback, f"txn:{body.transaction_id}", now=now)
            done = payments.post_payment(
                conn,
                accepted,
                found,
                provider=provider,
                zone=web.forbear.settings.lender_timezone,
                now=now,
                today=web.today(),
            )
        return PaymentOut(
            status=done.status,
            payment_id=done.payment_id,
            loan_id=done.loan_id,
            amount_fen=done.amount,
        )

    return await _answer(request, provider, CallbackKind.PAYMENT, PaymentIn, work)
