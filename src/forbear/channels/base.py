"""The one small protocol every channel adapter implements.

The dispatcher hands an adapter an :class:`OutgoingMessage` that has already passed the
gate and the content filter; the adapter gives it to its provider and answers
:class:`Accepted`, or raises :class:`TransientFailure` (try again later: throttled, timed
out, a server error) or :class:`PermanentFailure` (never again to this address: an invalid
number, a bounced address, a refused template). Errors carry a short reason and the
provider's code, never the address or the text: they are logged and stored.

``message_id`` is the outbox row's stable ``dedupe_key``: adapters pass it to the provider
as the idempotency key (client reference, ``Message-ID``, ``X-Idempotency-Key``), so a
message retried after a crash is accepted once.

An adapter whose provider takes many messages in one request may also implement
:class:`BatchAdapter` (``send_many``: one outcome per message, in order, each
:class:`Accepted` or a :class:`ChannelFailure`, never raised for one message); the
dispatcher then hands it up to the provider's ``batch_size`` messages at once (the
channels file; 1, the default, keeps one ``send`` a message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OutgoingMessage:
    """One message, ready to go. ``to`` is the decrypted address (phone number, e-mail
    address, the lender's app user id for push, a postal address for letters): personal
    data, never logged. ``params`` are the template variables, for providers that take a
    template id and parameters instead of a text (the large Chinese SMS APIs)."""

    message_id: str
    channel: str  # forbear.domain.compliance.schema.Channel value: sms, email, app_push, ...
    to: str
    body: str
    lang: str = "zh"
    subject: str | None = None
    template: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    borrower_ref: str = ""  # an opaque reference the lender's own systems know (no PII)
    loan_ref: str = ""


@dataclass(frozen=True)
class Accepted:
    """The provider took the message. ``provider_ref`` is its own id (for receipts)."""

    provider: str
    provider_ref: str | None = None


class ChannelFailure(Exception):
    """A send that did not go. ``reason`` is short and free of personal data."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason if code is None else f"{reason} ({code})")
        self.reason = reason
        self.code = code


class TransientFailure(ChannelFailure):
    """Try again later (throttled, timed out, a 5xx). ``retry_after`` in seconds when the
    provider said so."""

    def __init__(
        self, reason: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after


class PermanentFailure(ChannelFailure):
    """Never again like this. ``address_invalid`` when the address itself is bad (an
    invalid number, a bounced mailbox): the contact point is then marked invalid."""

    def __init__(
        self, reason: str, *, code: str | None = None, address_invalid: bool = False
    ) -> None:
        super().__init__(reason, code=code)
        self.address_invalid = address_invalid


@runtime_checkable
class ChannelAdapter(Protocol):
    """A provider for one or more channels. ``send`` blocks for at most the adapter's own
    timeout. ``flush`` finishes a batch (the letters' daily PDFs and manifest; a no-op
    elsewhere); ``close`` releases connections. ``rate_per_second`` is the provider's
    limit the dispatcher keeps to (None: no limit)."""

    name: str
    rate_per_second: float | None

    def send(self, message: OutgoingMessage) -> Accepted: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class BatchAdapter(ChannelAdapter, Protocol):
    """A :class:`ChannelAdapter` whose provider takes many messages in one request, each
    under its own idempotency key, and answers for each. ``send_many`` returns one outcome
    per message in the order given: :class:`Accepted`, or the :class:`ChannelFailure` the
    single ``send`` would have raised for it (a failure of the whole request, a timeout or
    a 5xx, is every message's). ``max_batch``: the most messages one call may carry."""

    max_batch: int

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Accepted | ChannelFailure]: ...
