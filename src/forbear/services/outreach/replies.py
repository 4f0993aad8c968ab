"""Borrowers' replies (issue 13, item 4): received from the SMS and e-mail providers, read
by agents in the reply inbox and on the account's timeline.

**Receiving** (:func:`receive_reply`, after :func:`.callbacks.accept`). The sender is
matched to the contact points of the file by its blind index (never by a clear-text
search). Then:

- an opt-out (:func:`forbear.domain.replies.meaning`: 退订 / TD / STOP / unsubscribe and
  their variants) places an ``opt_out`` hold for the medium it came by -- for the whole
  borrower when the sender is the debtor, for that contact point alone when it is a third
  party -- and queues exactly one confirmation (an outbox row of origin ``system``,
  template :data:`CONFIRM_TEMPLATE`, whose dedupe key is unique per borrower, medium and
  hold, so it is never queued twice); an opt-out already in force places nothing and
  confirms nothing again. The dispatcher sends ``system`` rows as service messages,
  through the content filter but not the collection gate;
- every other reply ("不是我", a question, a complaint) is stored and routed to the agents'
  reply inbox (``routed_to`` ``agent``) -- or, when the caller passes ``assistant_sms``
  (the setting of the same name; services read no settings), an SMS reply is routed to
  the borrower assistant (``routed_to`` ``assistant``): the channel front end hands it to
  the assistant's engine, which marks it handled (:func:`mark_handled_by_assistant`)
  when its conversation has taken it. An assistant-routed reply still unhandled after
  :data:`ASSISTANT_GRACE` shows in the agents' inbox (the engine failed: a person
  answers).

A reply from a number or address on no file is stored unmatched; the answer to the
provider is the same either way (nothing reveals whether a number is known). The text and
the sender are encrypted; no audit payload holds either.

**Reading** (:func:`list_unhandled`, :func:`list_for_borrower`, :func:`mark_handled`):
``account.view`` and the actor's scope (:mod:`forbear.services.scope`); a reply of a
borrower out of scope answers like one that does not exist. Unmatched replies belong to no
loan: only staff who see the whole book see them. The text is opened for the roles that
read correspondence (:data:`forbear.services.outreach.correspondence.READ_TEXT`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from forbear.domain.access import Actor
from forbear.domain.compliance.schema import Channel, HoldKind
from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.replies import ReplyMeaning, meaning
from forbear.services.contacts.holds import add_hold
from forbear.services.days import book_date as book_date_on
from forbear.services.holds import open_at
from forbear.services.outreach.callbacks import Accepted
from forbear.services.outreach.correspondence import READ_TEXT
from forbear.services.privacy import PiiVault
from forbear.services.scope import visible
from forbear.store import audit
from forbear.store.contacts import Hold
from forbear.store.locks import lock_debtor
from forbear.store.models import ContactPoint, Loan, OwnerType
from forbear.store.outreach import (
    BODY_CONTEXT,
    SENDER_CONTEXT,
    InboundMessage,
    ReplyClass,
    RoutedTo,
)
from forbear.store.outreach import purge_callbacks as store_purge_callbacks
from forbear.store.outreach import purge_unmatched as store_purge_unmatched
from forbear.store.runs import OutboxMessage, OutboxOrigin, OutboxStatus

VIEW = "account.view"
HANDLE = "contact.make"
CONFIRM_TEMPLATE = "system.opt_out_confirm"
OPT_OUT_REASON = "OUTREACH.OPT_OUT_REPLY: the borrower replied to opt out of this medium"
MAX_TEXT = 4000
# The media a reply can come by, and the kind of contact point it comes from.
MEDIA: dict[str, str] = {Channel.SMS.value: "phone", Channel.EMAIL.value: "email"}
SYSTEM_ACTOR = "system:replies"
# How long a reply routed to the assistant may stay unhandled before the agents see it.
ASSISTANT_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class IncomingReply:
    """A reply as the provider reported it (the front end parsed and checked the shape)."""

    channel: str  # sms | email
    sender: str  # the phone number or e-mail address it came from
    text: str
    sent_at: datetime | None = None
    message_id: str | None = None  # the outbox message it answers (its dedupe key), if known
    event_id: str | None = None  # the provider's id of this reply


@dataclass(frozen=True)
class ReplyReceived:
    """What :func:`receive_reply` did (nothing of it reveals whether the sender is known to
    the provider: the front end answers only ``status``)."""

    status: str  # applied | duplicate
    reply_id: int | None
    matched: bool
    classification: ReplyClass | None
    hold_ids: tuple[int, ...] = ()
    confirmation_id: int | None = None
    routed_to: RoutedTo | None = None  # who answers it (None for a duplicate)


@dataclass(frozen=True)
class Reply:
    """One reply as staff see it. ``text`` is None when the reader's role may not read
    correspondence (``text_hidden``)."""

    id: int
    borrower_id: int | None
    channel: str
    received_at: datetime
    sent_at: datetime | None
    classification: str
    routed_to: str
    handled_at: datetime | None
    handled_by: str | None
    text: str | None
    text_hidden: bool
    loan_id: int | None = None  # a loan of the borrower the reader may open (to link to)


def event_key(reply: IncomingReply, vault: PiiVault) -> str:
    """The reply's event key: the provider's id, else a digest of what identifies it (a
    keyed digest: the sender and text never appear in clear)."""
    if reply.event_id:
        return f"id:{reply.event_id}"
    sent = reply.sent_at.isoformat() if reply.sent_at else ""
    keyed = vault.blind_index(
        "reply", f"{reply.channel}\x00{reply.sender}\x00{sent}\x00{reply.text}"
    )
    return f"digest:{keyed}"


def _check(reply: IncomingReply) -> str:
    if reply.channel not in MEDIA:
        raise ValidationError("channel", f"one of: {', '.join(MEDIA)}")
    if not reply.sender.strip():
        raise ValidationError("from", "is required")
    if len(reply.text) > MAX_TEXT:
        raise ValidationError("text", f"at most {MAX_TEXT} characters")
    return MEDIA[reply.channel]


def receive_reply(
    conn: Connection,
    accepted: Accepted,
    reply: IncomingReply,
    *,
    provider: str,
    vault: PiiVault,
    now: datetime,
    assistant_sms: bool = False,
) -> ReplyReceived:
    """Store ``reply`` and act on it (module docstring), in the caller's transaction.
    ``assistant_sms``: route SMS replies other than opt-outs to the borrower assistant."""
    kind = _check(reply)
    if not accepted.fresh:
        return ReplyReceived("duplicate", None, False, None)
    bidx = vault.blind_index(kind, reply.sender)
    points = conn.execute(
        select(ContactPoint.id, ContactPoint.borrower_id, ContactPoint.owner_type)
        .where(ContactPoint.kind == kind, ContactPoint.value_bidx == bidx)
        .order_by(ContactPoint.owner_type != OwnerType.DEBTOR.value, ContactPoint.id)
    ).all()
    primary = points[0] if points else None
    said = meaning(reply.text)
    classification = ReplyClass.OPT_OUT if said is ReplyMeaning.OPT_OUT else ReplyClass.OTHER
    outbox_id = None
    if reply.message_id:
        outbox_id = conn.execute(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == reply.message_id)
        ).scalar_one_or_none()
    hold_ids: list[int] = []
    confirmation = None
    if classification is ReplyClass.OPT_OUT and points:
        for borrower_id in sorted({int(p.borrower_id) for p in points}):
            lock_debtor(conn, borrower_id)
        for point in points:
            hold_id = _opt_out(conn, point, reply.channel, now)
            if hold_id is not None:
                hold_ids.append(hold_id)
                if point is primary:
                    confirmation = _queue_confirmation(conn, point, reply.channel, hold_id, now)
    if classification is ReplyClass.OPT_OUT:
        routed = RoutedTo.NONE
    elif assistant_sms and reply.channel == Channel.SMS.value:
        routed = RoutedTo.ASSISTANT
    else:
        routed = RoutedTo.AGENT
    reply_id = conn.execute(
        insert(InboundMessage)
        .values(
            callback_id=accepted.callback_id,
            channel=reply.channel,
            provider=provider,
            sender_enc=vault.encrypt(reply.sender.strip(), context=SENDER_CONTEXT),
            sender_bidx=bidx,
            borrower_id=int(primary.borrower_id) if primary else None,
            contact_point_id=int(primary.id) if primary else None,
            outbox_id=outbox_id,
            body_enc=vault.encrypt(reply.text, context=BODY_CONTEXT),
            sent_at=reply.sent_at,
            received_at=now,
            classification=classification.value,
            routed_to=routed.value,
            hold_id=hold_ids[0] if hold_ids else None,
        )
        .returning(InboundMessage.id)
    ).scalar_one()
    audit.record(
        conn,
        action="reply.receive",
        actor=f"provider:{provider}",
        subject_type="inbound_message",
        subject_id=str(reply_id),
        payload={
            "channel": reply.channel,
            "borrower_id": int(primary.borrower_id) if primary else None,
            "classification": classification.value,
            "routed_to": routed.value,
            "hold_ids": hold_ids,
            "confirmation_outbox_id": confirmation,
        },
    )
    return ReplyReceived(
        "applied",
        int(reply_id),
        primary is not None,
        classification,
        tuple(hold_ids),
        confirmation,
        routed,
    )


def _opt_out(
    conn: Connection, point: Row[*tuple[Any, ...]], channel: str, now: datetime
) -> int | None:
    """The opt-out hold the reply from ``point`` calls for, unless one is in force already
    (then None)."""
    borrower_id = int(point.borrower_id)
    debtor = point.owner_type == OwnerType.DEBTOR.value
    point_id = None if debtor else int(point.id)
    in_force = conn.execute(
        select(Hold.id).where(
            Hold.borrower_id == borrower_id,
            Hold.kind.in_([HoldKind.OPT_OUT.value, HoldKind.CEASE.value]),
            or_(Hold.channel.is_(None), Hold.channel == channel),
            Hold.loan_id.is_(None),
            Hold.contact_point_id.is_(None)
            if point_id is None
            else or_(Hold.contact_point_id.is_(None), Hold.contact_point_id == point_id),
            open_at(now),
        )
    ).first()
    if in_force is not None:
        return None
    loan_id = conn.execute(
        select(func.min(Loan.id)).where(Loan.borrower_id == borrower_id)
    ).scalar_one_or_none()
    if loan_id is None:  # a borrower with no loan: nothing is sent to them anyway
        return None
    return add_hold(
        conn,
        loan_id=int(loan_id),
        kind=HoldKind.OPT_OUT.value,
        actor=SYSTEM_ACTOR,
        since=now,
        channel=channel,
        contact_point_id=point_id,
        all_loans=True,
        reason=OPT_OUT_REASON,
        now=now,
    )


def confirmation_key(borrower_id: int, channel: str, hold_id: int) -> str:
    """The confirmation's dedupe key: one per borrower, medium and hold."""
    text = f"{CONFIRM_TEMPLATE}|{borrower_id}|{channel}|{hold_id}"
    return hashlib.sha256(text.encode()).hexdigest()


def _queue_confirmation(
    conn: Connection, point: Row[*tuple[Any, ...]], channel: str, hold_id: int, now: datetime
) -> int:
    borrower_id = int(point.borrower_id)
    loan_id = conn.execute(
        select(func.min(Loan.id)).where(Loan.borrower_id == borrower_id)
    ).scalar_one()
    new_id = conn.execute(
        insert(OutboxMessage)
        .values(
            as_of=now.date(),
            loan_id=int(loan_id),
            borrower_id=borrower_id,
            action_index=-1,  # not an action of the daily run
            channel=channel,
            template=CONFIRM_TEMPLATE,
            contact_point_id=int(point.id),
            dedupe_key=confirmation_key(borrower_id, channel, hold_id),
            status=OutboxStatus.QUEUED.value,
            created_at=now,
            origin=OutboxOrigin.SYSTEM.value,
            due_at=now,
            next_attempt_at=now,
        )
        .returning(OutboxMessage.id)
    ).scalar_one()
    audit.record(
        conn,
        action="outbox.queue",
        actor=SYSTEM_ACTOR,
        subject_type="outbox",
        subject_id=str(new_id),
        payload={
            "origin": OutboxOrigin.SYSTEM.value,
            "template": CONFIRM_TEMPLATE,
            "channel": channel,
            "borrower_id": borrower_id,
            "hold_id": hold_id,
        },
    )
    return int(new_id)


# ------------------------------------------------------------------------------ reading


def _in_scope(conn: Connection, actor: Actor, now: datetime, today: date) -> ColumnElement[bool]:
    """The replies ``actor`` may see: every one for the whole book, else those of
    borrowers with a loan in scope (never an unmatched one)."""
    if not actor.scoped:
        return true()
    book = book_date_on(conn, today) if actor.scope_buckets else None
    mine = select(Loan.borrower_id).where(visible(actor, now, book))
    return and_(InboundMessage.borrower_id.is_not(None), InboundMessage.borrower_id.in_(mine))


def _reply(row: Row[*tuple[Any, ...]], actor: Actor, vault: PiiVault) -> Reply:
    may_read = any(actor.may(p) for p in READ_TEXT)
    r = row
    return Reply(
        id=int(r.id),
        borrower_id=r.borrower_id,
        channel=r.channel,
        received_at=r.received_at,
        sent_at=r.sent_at,
        classification=r.classification,
        routed_to=r.routed_to,
        handled_at=r.handled_at,
        handled_by=r.handled_by,
        text=vault.decrypt(r.body_enc, context=BODY_CONTEXT) if may_read else None,
        text_hidden=not may_read,
    )


_COLUMNS = (
    InboundMessage.id,
    InboundMessage.borrower_id,
    InboundMessage.channel,
    InboundMessage.received_at,
    InboundMessage.sent_at,
    InboundMessage.classification,
    InboundMessage.routed_to,
    InboundMessage.handled_at,
    InboundMessage.handled_by,
    InboundMessage.body_enc,
)


def list_unhandled(
    conn: Connection,
    actor: Actor,
    *,
    vault: PiiVault,
    now: datetime,
    today: date,
    limit: int = 200,
) -> list[Reply]:
    """The replies routed to agents that nobody has handled yet, oldest first, in
    ``actor``'s scope (``account.view``); with them the replies routed to the assistant
    that it has not handled within :data:`ASSISTANT_GRACE` (a safety net)."""
    actor.require(VIEW)
    rows = conn.execute(
        select(*_COLUMNS)
        .where(
            or_(
                InboundMessage.routed_to == RoutedTo.AGENT.value,
                and_(
                    InboundMessage.routed_to == RoutedTo.ASSISTANT.value,
                    InboundMessage.received_at <= now - ASSISTANT_GRACE,
                ),
            ),
            InboundMessage.handled_at.is_(None),
            _in_scope(conn, actor, now, today),
        )
        .order_by(InboundMessage.received_at, InboundMessage.id)
        .limit(max(1, min(limit, 1000)))
    ).all()
    return _with_loans(conn, actor, [_reply(r, actor, vault) for r in rows], now, today)


def _with_loans(
    conn: Connection, actor: Actor, found: list[Reply], now: datetime, today: date
) -> list[Reply]:
    """``found`` with the lowest loan id of each borrower that ``actor`` may open."""
    borrowers = sorted({r.borrower_id for r in found if r.borrower_id is not None})
    if not borrowers:
        return found
    book = book_date_on(conn, today) if actor.scope_buckets else None
    rows = conn.execute(
        select(Loan.borrower_id, func.min(Loan.id).label("loan_id"))
        .where(Loan.borrower_id.in_(borrowers), visible(actor, now, book))
        .group_by(Loan.borrower_id)
    ).all()
    first = {int(r.borrower_id): int(r.loan_id) for r in rows}
    return [
        replace(r, loan_id=first.get(r.borrower_id)) if r.borrower_id is not None else r
        for r in found
    ]


def list_for_borrower(
    conn: Connection,
    actor: Actor,
    borrower_id: int,
    *,
    vault: PiiVault,
    now: datetime,
    today: date,
    limit: int = 100,
) -> list[Reply]:
    """A borrower's replies, newest first (for the account's timeline), if a loan of the
    borrower is in ``actor``'s scope (else :class:`NotFound` "borrower")."""
    actor.require(VIEW)
    book = book_date_on(conn, today) if actor.scope_buckets else None
    seen = conn.execute(
        select(Loan.id).where(Loan.borrower_id == borrower_id, visible(actor, now, book)).limit(1)
    ).first()
    if seen is None:
        raise NotFound("borrower", str(borrower_id))
    rows = conn.execute(
        select(*_COLUMNS)
        .where(InboundMessage.borrower_id == borrower_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    return _with_loans(conn, actor, [_reply(r, actor, vault) for r in rows], now, today)


def mark_handled(
    conn: Connection, actor: Actor, reply_id: int, *, now: datetime, today: date
) -> bool:
    """Mark a reply handled by ``actor`` (``contact.make``; in scope, else
    :class:`NotFound` "reply"). Returns False when it already was (nothing written)."""
    actor.require(HANDLE)
    found = conn.execute(
        select(InboundMessage.id).where(
            InboundMessage.id == reply_id, _in_scope(conn, actor, now, today)
        )
    ).first()
    if found is None:
        raise NotFound("reply", str(reply_id))
    done = conn.execute(
        update(InboundMessage)
        .where(InboundMessage.id == reply_id, InboundMessage.handled_at.is_(None))
        .values(handled_at=now, handled_by=actor.name)
    ).rowcount
    if done != 1:
        return False
    audit.record(
        conn,
        action="reply.handled",
        actor=actor.name,
        subject_type="inbound_message",
        subject_id=str(reply_id),
        payload={},
    )
    return True


def mark_handled_by_assistant(
    conn: Connection, reply_id: int, conversation_id: int, *, now: datetime
) -> bool:
    """The assistant's conversation ``conversation_id`` has taken reply ``reply_id`` (one
    routed to the assistant): it leaves the agents' safety net. False when it was handled
    already or is not the assistant's (nothing written); :class:`NotFound` "reply" when
    there is no such reply."""
    found = conn.execute(
        select(InboundMessage.routed_to).where(InboundMessage.id == reply_id)
    ).first()
    if found is None:
        raise NotFound("reply", str(reply_id))
    done = conn.execute(
        update(InboundMessage)
        .where(
            InboundMessage.id == reply_id,
            InboundMessage.routed_to == RoutedTo.ASSISTANT.value,
            InboundMessage.handled_at.is_(None),
        )
        .values(handled_at=now, handled_by=f"assistant:{conversation_id}"[:100])
    ).rowcount
    if done != 1:
        return False
    audit.record(
        conn,
        action="reply.handled",
        actor="system:assistant",
        subject_type="inbound_message",
        subject_id=str(reply_id),
        payload={"conversation_id": conversation_id},
        at=now,
    )
    return True


# ------------------------------------------------------------------------------ retention

# How long the callback records and the replies from senders on no file are kept (the
# retention purge calls :func:`expire`): providers retry a callback for hours or days, so
# three months of event keys keep a late retry a duplicate; a stranger's reply is kept
# half a year for an agent to read and answer (PIPL art. 19: no longer than needed).
KEEP_CALLBACKS = timedelta(days=90)
KEEP_UNMATCHED = timedelta(days=180)


def expire(conn: Connection, now: datetime) -> dict[str, int]:
    """Delete callback records and unmatched replies past their periods at ``now``; the
    counts by table. (A borrower's own replies go with the borrower: the retention purge.)"""
    return {
        "channel_callbacks": store_purge_callbacks(conn, now - KEEP_CALLBACKS),
        "inbound_messages": store_purge_unmatched(conn, now - KEEP_UNMATCHED),
    }
