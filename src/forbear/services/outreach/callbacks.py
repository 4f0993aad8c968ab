"""What every signed provider callback shares: the record that refuses a replay and makes a
repeated event a no-op (:mod:`forbear.store.outreach`, ``channel_callbacks``).

The front end checks the signature (:func:`forbear.domain.signatures.verify`) before
anything is read or written, then calls the use case of the callback's kind in one
transaction; the use case calls :func:`accept` first:

- the same signed request a second time (the same provider and signature) is a replay:
  :class:`Replayed` (the front end answers 401) and nothing changes;
- a new delivery of an event already applied (the same provider, kind and event key, as a
  provider retrying a webhook sends it, freshly signed) is recorded as ``duplicate`` and
  the use case returns at once: no second effect.

Both checks are serialised on their key (:mod:`forbear.store.locks`: an advisory lock on
PostgreSQL, the write lock on SQLite), so two parallel deliveries of one event apply it
exactly once; the unique constraints of ``channel_callbacks`` stand behind them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from forbear.domain.errors import ForbearError, ValidationError
from forbear.store.locks import LockSpace, lock
from forbear.store.outreach import CallbackKind as CallbackKind  # re-exported: front ends name it
from forbear.store.outreach import CallbackResult, ChannelCallback

MAX_EVENT_KEY = 160


class Replayed(ForbearError):
    """A signed callback already accepted once (the same signature): refused, and it
    changed nothing."""

    def __init__(self) -> None:
        super().__init__("signature refused: replayed")
        self.reason = "replayed"


@dataclass(frozen=True)
class SignedCallback:
    """A callback whose signature the front end has checked."""

    provider: str
    kind: CallbackKind
    signature: str  # hex, as sent
    signed_at: datetime  # its timestamp


@dataclass(frozen=True)
class Accepted:
    """The callback's record: ``fresh`` unless the event was already applied."""

    callback_id: int
    fresh: bool

    @property
    def result(self) -> CallbackResult:
        return CallbackResult.APPLIED if self.fresh else CallbackResult.DUPLICATE


def signature_digest(provider: str, signature: str) -> str:
    return hashlib.sha256(f"{provider}\x00{signature.lower()}".encode()).hexdigest()


def accept(
    conn: Connection, callback: SignedCallback, event_key: str, *, now: datetime
) -> Accepted:
    """Record ``callback`` (:class:`Replayed` if its signature was seen before) and say
    whether its event (``event_key``) is new (module docstring)."""
    if not event_key or len(event_key) > MAX_EVENT_KEY:
        raise ValidationError("event_id", f"1 to {MAX_EVENT_KEY} characters")
    digest = signature_digest(callback.provider, callback.signature)
    lock(conn, LockSpace.KEY, f"callback-signature:{digest}")
    seen = conn.execute(
        select(ChannelCallback.id).where(ChannelCallback.signature_sha256 == digest)
    ).first()
    if seen is not None:
        raise Replayed()
    lock(conn, LockSpace.KEY, f"callback-event:{callback.provider}:{callback.kind}:{event_key}")
    before = conn.execute(
        select(ChannelCallback.id).where(
            ChannelCallback.provider == callback.provider,
            ChannelCallback.kind == callback.kind.value,
            ChannelCallback.event_key == event_key,
        )
    ).first()
    fresh = before is None
    new_id = conn.execute(
        insert(ChannelCallback)
        .values(
            provider=callback.provider,
            kind=callback.kind.value,
            signature_sha256=digest,
            event_key=event_key if fresh else None,
            result=(CallbackResult.APPLIED if fresh else CallbackResult.DUPLICATE).value,
            signed_at=callback.signed_at,
            received_at=now,
        )
        .returning(ChannelCallback.id)
    ).scalar_one()
    return Accepted(int(new_id), fresh)


def mark_duplicate(conn: Connection, accepted: Accepted) -> Accepted:
    """The event turned out to be applied already by another path (a payment imported from
    a file before its callback came): the record says so, and nothing else changes."""
    conn.execute(
        update(ChannelCallback)
        .where(ChannelCallback.id == accepted.callback_id)
        .values(result=CallbackResult.DUPLICATE.value)
    )
    return Accepted(accepted.callback_id, False)
