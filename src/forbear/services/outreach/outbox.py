"""The outbox, for the people who run it: how many messages are where, which ones, the
text as sent, and putting a dead or failed message back in the queue or cancelling one
that has not gone yet (``forbear outbox``, the "sent messages" page and its API).

Permissions (``domain/access_roles.yaml``): seeing the outbox needs ``account.view`` and
shows only the loans in the actor's scope (an agency agent sees its placements); the
text as sent (it holds the name, the amount, a portal link) needs ``compliance.view``
(compliance officers) or ``contact.make`` for a message of a loan in scope, otherwise it
is shown masked; retry and cancel need ``contact.make`` (they send or stop a contact)
on a loan in scope. The command line's operator (no role) may do all of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from forbear.domain.access import Actor
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services.days import book_date as book_date_on
from forbear.services.outreach import checks
from forbear.services.outreach.dispatch import unseal
from forbear.services.scope import require_loan, visible
from forbear.store import audit
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.runs import OutboxMessage, OutboxStatus

VIEW = "account.view"
TEXT = "compliance.view"
ACT = "contact.make"
MAX_LIST = 500
_O = OutboxMessage
RETRYABLE = (OutboxStatus.DEAD.value, OutboxStatus.FAILED.value)
CANCELLABLE = (OutboxStatus.QUEUED.value,)


@dataclass(frozen=True)
class StatusCount:
    status: str
    channel: str
    count: int


@dataclass(frozen=True)
class OutboxItem:
    """One message as the list shows it. ``text`` is the text as sent (None before it
    was rendered); ``text_masked`` says it was masked for this actor."""

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
    text: str | None
    text_masked: bool
    can_retry: bool
    can_cancel: bool


def _scoped(actor: Actor, now: datetime, today: date, conn: Connection) -> Any:
    book = book_date_on(conn, today) if actor.scope_buckets else None
    return _O.loan_id.in_(select(Loan.id).where(visible(actor, now, book)))


def status_counts(
    conn: Connection, actor: Actor, *, now: datetime, today: date
) -> list[StatusCount]:
    """Messages by status and channel (in the actor's scope)."""
    actor.require(VIEW)
    query = select(_O.status, _O.channel, func.count()).group_by(_O.status, _O.channel)
    if actor.scoped:
        query = query.where(_scoped(actor, now, today, conn))
    rows = conn.execute(query.order_by(_O.status, _O.channel)).all()
    return [StatusCount(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def list_messages(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    now: datetime,
    today: date,
    status: str | None = None,
    channel: str | None = None,
    borrower_id: int | None = None,
    loan_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[OutboxItem]:
    """The newest messages first (``before_id`` pages on), filtered."""
    actor.require(VIEW)
    if status is not None and status not in {s.value for s in OutboxStatus}:
        raise ValidationError("status", f"one of {', '.join(s.value for s in OutboxStatus)}")
    if channel is not None and (not channel.isidentifier() or len(channel) > 16):
        raise ValidationError("channel", "a channel name")
    if not 1 <= limit <= MAX_LIST:
        raise ValidationError("limit", f"between 1 and {MAX_LIST}")
    # the assistant's answers to senders on no file belong to no loan: the assistant's
    # conversation pages show them, not the collection outbox
    query = select(_O).where(_O.loan_id.is_not(None)).order_by(_O.id.desc()).limit(limit)
    if status is not None:
        query = query.where(_O.status == status)
    if channel is not None:
        query = query.where(_O.channel == channel)
    if borrower_id is not None:
        query = query.where(_O.borrower_id == borrower_id)
    if loan_id is not None:
        query = query.where(_O.loan_id == loan_id)
    if before_id is not None:
        query = query.where(_O.id < before_id)
    if actor.scoped:
        query = query.where(_scoped(actor, now, today, conn))
    sees_text = actor.may(TEXT) or actor.may(ACT)
    acts = actor.may(ACT)
    found = []
    for row in conn.execute(query).all():
        text: str | None = None
        if row.body_enc is not None:
            text = unseal(vault, row.body_enc).body
        masked = text is not None and not sees_text
        if masked and text is not None:
            text = mask_text(text)
        found.append(
            OutboxItem(
                id=int(row.id),
                as_of=row.as_of,
                loan_id=int(row.loan_id),
                borrower_id=int(row.borrower_id),
                channel=str(row.channel),
                template=row.template,
                article=row.article,
                origin=str(row.origin),
                status=str(row.status),
                tries=int(row.tries or 0),
                due_at=row.due_at,
                next_attempt_at=row.next_attempt_at,
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
                provider=row.provider,
                reason_rules=list(json.loads(row.reason_rules or "[]")),
                last_error=row.last_error,
                text=text,
                text_masked=masked,
                can_retry=acts and row.status in RETRYABLE,
                can_cancel=acts and row.status in CANCELLABLE,
            )
        )
    return found


_DIGITS = re.compile(r"\d")
_LINK = re.compile(r"https?://\S+")
_CJK_NAME = re.compile(r"^(【[^】]*】)?([\u4e00-\u9fff·*]{1,6}?)(您好|：|，)")


def mask_text(text: str) -> str:
    """A text as sent, for a role that may not read it: digits starred, links cut and a
    leading name (``张伟您好``) masked to its surname."""
    out = _LINK.sub("[链接]", text)
    out = _DIGITS.sub("*", out)

    def name(match: re.Match[str]) -> str:
        word = match.group(2)
        return f"{match.group(1) or ''}{word[0]}{'*' * (len(word) - 1)}{match.group(3)}"

    return _CJK_NAME.sub(name, out, count=1)


def _row(conn: Connection, outbox_id: int) -> Any:
    found = conn.execute(
        select(_O.id, _O.loan_id, _O.status).where(_O.id == outbox_id, _O.loan_id.is_not(None))
    ).one_or_none()
    if found is None:
        raise NotFound("outbox message", str(outbox_id))
    return found


def retry(conn: Connection, actor: Actor, outbox_id: int, *, now: datetime, today: date) -> None:
    """A dead or failed message back in the queue, due now: it is checked by the gate and
    rendered again when it is sent, with a fresh count of tries."""
    actor.require(ACT)
    found = _row(conn, outbox_id)
    require_loan(conn, actor, int(found.loan_id), now, today)
    changed = conn.execute(
        update(_O)
        .where(_O.id == outbox_id, _O.status.in_(RETRYABLE))
        .values(
            status=OutboxStatus.QUEUED.value,
            next_attempt_at=now,
            tries=0,
            lease_until=None,
            claimed_by=None,
            contact_attempt_id=None,
            body_enc=None,
            last_error=None,
            updated_at=now,
        )
    ).rowcount
    if not changed:
        raise Conflict(
            f"message {outbox_id} is {found.status}: only dead or failed ones are retried"
        )
    audit.record(
        conn,
        action="outbox.requeued",
        actor=actor.name,
        subject_type="outbox",
        subject_id=str(outbox_id),
        payload={"outbox_id": outbox_id, "loan_id": int(found.loan_id), "was": str(found.status)},
        at=now,
    )


def cancel(conn: Connection, actor: Actor, outbox_id: int, *, now: datetime, today: date) -> None:
    """Cancel a queued message (reason ``OUTBOX.MANUAL``); one being sent or already
    gone cannot be called back (:class:`Conflict`)."""
    actor.require(ACT)
    found = _row(conn, outbox_id)
    require_loan(conn, actor, int(found.loan_id), now, today)
    changed = conn.execute(
        update(_O)
        .where(_O.id == outbox_id, _O.status.in_(CANCELLABLE))
        .values(
            status=OutboxStatus.CANCELLED.value,
            reason_rules=json.dumps([checks.MANUAL]),
            lease_until=None,
            updated_at=now,
        )
    ).rowcount
    if not changed:
        raise Conflict(f"message {outbox_id} is {found.status}: only queued ones are cancelled")
    audit.record(
        conn,
        action="outbox.cancelled",
        actor=actor.name,
        subject_type="outbox",
        subject_id=str(outbox_id),
        payload={"outbox_id": outbox_id, "loan_id": int(found.loan_id), "rules": [checks.MANUAL]},
        at=now,
    )
