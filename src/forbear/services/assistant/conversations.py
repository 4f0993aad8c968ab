"""A borrower's conversation with the assistant: opening (or continuing) one, its turns and
the dialogue engine's state (issue 14, item 3).

**Who is talking.** A conversation opened with ``borrower_id`` (a portal session, the
lender's app, the CLI, an API client acting for a named borrower) is verified at once
(``verified_by`` the channel). One opened by an SMS ``sender`` only is matched to the
contact points of the file by blind index (as :func:`forbear.services.outreach.replies.
receive_reply` does): the debtor's own number sets ``borrower_id`` but is *not* verified
(anyone may hold the phone: :mod:`.identity`); a third party's number sets
``owner_type`` (and ``borrower_id``, kept internally so staff find the file: the sender is
never verified and never told anything about the debt); no match sets nothing. The
engine must answer an unknown sender exactly as a known, unverified one.

**Serialised.** :func:`open_conversation` takes a lock on the subject (the borrower or
the sender's blind index, on that channel) and then on the conversation: two parallel first
messages start one conversation, and every message of a conversation is handled one at a
time until the caller's transaction ends. Staff use cases (:mod:`.staff`) take the
conversation's lock only (same order: no deadlock).

**Identity failures** of a sender's last conversation still in their window
(:data:`VERIFY_WINDOW`) are carried into the sender's next one.

**Idle.** A conversation not touched for :data:`IDLE` is closed when its subject writes
again, and a new one starts (the old dialogue state would only confuse).

Texts are encrypted (:data:`forbear.store.assistant.TURN_CONTEXT`), cut to
:data:`MAX_TEXT` characters; the form slots too (:data:`SLOTS_CONTEXT`). Audit payloads
hold ids and codes only, never a text, a number or a slot value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from forbear.domain.errors import NotFound, ValidationError
from forbear.store import audit
from forbear.store.assistant import (
    SENDER_CONTEXT,
    SLOTS_CONTEXT,
    TURN_CONTEXT,
    AssistantConversation,
    AssistantTurn,
    ConversationChannel,
    ConversationStatus,
    TurnRole,
    VerifiedBy,
)
from forbear.store.crypto import PiiVault
from forbear.store.locks import LockSpace, lock
from forbear.store.models import Borrower, ContactPoint, OwnerType

IDLE = timedelta(hours=24)
# The identity check's window (:mod:`.identity`): failures count for a day, across the
# sender's conversations (a new conversation does not give a guesser three more tries).
VERIFY_WINDOW = timedelta(hours=24)
MAX_TEXT = 2000  # characters of one turn kept (a longer message is cut)
LANGUAGES = ("zh", "en")
START_STATE = "start"
SYSTEM_ACTOR = "system:assistant"
# The channels on which the caller vouches for the borrower, and how that is recorded.
VOUCHED: dict[str, VerifiedBy] = {
    ConversationChannel.PORTAL.value: VerifiedBy.PORTAL_SESSION,
    ConversationChannel.APP.value: VerifiedBy.APP,
    ConversationChannel.CLI.value: VerifiedBy.CLI,
    ConversationChannel.API.value: VerifiedBy.API,
}
_C = AssistantConversation
_T = AssistantTurn


@dataclass(frozen=True)
class Conversation:
    """One conversation as the engine and the staff use cases see it (``slots``
    decrypted). ``owner_type`` is set for an SMS sender that matched a contact point:
    ``debtor`` (the borrower's own number) or a third party kind."""

    id: int
    channel: str
    borrower_id: int | None
    contact_point_id: int | None
    owner_type: str | None
    language: str
    state: str
    slots: dict[str, Any] = field(hash=False)
    verified_at: datetime | None
    verified_by: str | None
    verify_failures: int
    misses: int
    status: str
    agent: str | None
    handoff_reason: str | None
    handoff_intent: str | None
    handoff_at: datetime | None
    agent_joined_at: datetime | None
    vulnerable: bool
    started_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    sender_known: bool = False  # an SMS sender that matched a contact point of the file

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def third_party(self) -> bool:
        """The sender's number belongs to a third party (guarantor, emergency contact):
        never verified, never told anything about the debt."""
        return self.owner_type is not None and self.owner_type != OwnerType.DEBTOR.value


@dataclass(frozen=True)
class Turn:
    """One turn. ``text`` is None when the reader may not read it (``text_hidden``)."""

    id: int
    conversation_id: int
    seq: int
    role: str
    text: str | None
    intent: str | None
    confidence: float | None
    author: str | None
    outbox_id: int | None
    created_at: datetime
    text_hidden: bool = False


def _conversation(row: Row[Any], vault: PiiVault) -> Conversation:
    r = row
    slots = json.loads(vault.decrypt(r.slots_enc, context=SLOTS_CONTEXT)) if r.slots_enc else {}
    return Conversation(
        id=int(r.id),
        channel=r.channel,
        borrower_id=r.borrower_id,
        contact_point_id=r.contact_point_id,
        owner_type=r.owner_type,
        language=r.language,
        state=r.state,
        slots=dict(slots),
        verified_at=r.verified_at,
        verified_by=r.verified_by,
        verify_failures=int(r.verify_failures),
        misses=int(r.misses),
        status=r.status,
        agent=r.agent,
        handoff_reason=r.handoff_reason,
        handoff_intent=r.handoff_intent,
        handoff_at=r.handoff_at,
        agent_joined_at=r.agent_joined_at,
        vulnerable=bool(r.vulnerable),
        started_at=r.started_at,
        updated_at=r.updated_at,
        closed_at=r.closed_at,
        sender_known=r.contact_point_id is not None,
    )


def _row(conn: Connection, conversation_id: int) -> Row[Any] | None:
    return conn.execute(select(_C).where(_C.id == conversation_id)).first()


def get_conversation(conn: Connection, vault: PiiVault, conversation_id: int) -> Conversation:
    """The conversation ``conversation_id`` as stored now (:class:`NotFound` if none). No
    lock, no check of who asks: for callers that already hold the conversation."""
    row = _row(conn, conversation_id)
    if row is None:
        raise NotFound("conversation", str(conversation_id))
    return _conversation(row, vault)


def zone_of(conn: Connection, conversation: Conversation) -> str | None:
    """The time zone of the conversation's borrower (quiet hours are judged in the
    borrower's local time), or None when the writer is on no file."""
    if conversation.borrower_id is None:
        return None
    zone = conn.execute(
        select(Borrower.timezone).where(Borrower.id == conversation.borrower_id)
    ).scalar_one_or_none()
    return None if zone is None else str(zone)


def lock_conversation(conn: Connection, conversation_id: int) -> None:
    """Serialise everything done to one conversation until the transaction ends."""
    lock(conn, LockSpace.KEY, f"assistant.conversation:{conversation_id}")


def _channel(channel: str) -> str:
    try:
        return ConversationChannel(channel).value
    except ValueError:
        names = ", ".join(c.value for c in ConversationChannel)
        raise ValidationError("channel", f"one of: {names}") from None


def _language(language: str | None) -> str | None:
    if language is None:
        return None
    if language not in LANGUAGES:
        raise ValidationError("language", "zh or en")
    return language


def _close_idle(conn: Connection, row: Row[Any], now: datetime) -> None:
    conn.execute(
        update(_C)
        .where(_C.id == row.id)
        .values(status=ConversationStatus.CLOSED.value, closed_at=now, updated_at=now)
    )
    audit.record(
        conn,
        action="assistant.conversation.close",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(row.id),
        payload={"reason": "idle"},
        at=now,
    )


def _belongs(row: Row[Any], channel: str, borrower_id: int | None, bidx: str | None) -> bool:
    if row.channel != channel:
        return False
    if borrower_id is not None:
        return bool(row.borrower_id == borrower_id and row.verified_at is not None)
    return bidx is not None and row.sender_bidx == bidx


def open_conversation(
    conn: Connection,
    vault: PiiVault,
    *,
    channel: str,
    now: datetime,
    borrower_id: int | None = None,
    sender: str | None = None,
    conversation_id: int | None = None,
    language: str | None = None,
) -> Conversation:
    """The conversation a new message belongs to (module docstring), locked until the
    caller's transaction ends: ``conversation_id`` if it is this borrower's / sender's on
    this channel (else :class:`NotFound` "conversation", exactly as a missing one), else
    the open one of the borrower / sender on ``channel``; a closed or idle one is
    replaced by a new one. Give ``borrower_id`` when the caller vouches for the borrower,
    else ``sender`` (an SMS number)."""
    chosen = _channel(channel)
    lang = _language(language)
    if borrower_id is None and (sender is None or not sender.strip()):
        raise ValidationError("sender", "a borrower or a sender is required")
    if borrower_id is not None and chosen not in VOUCHED:
        raise ValidationError("channel", "a borrower is vouched for on portal, app, api or cli")
    bidx = None
    if borrower_id is None and sender is not None:
        if chosen != ConversationChannel.SMS.value:
            raise ValidationError("channel", "a sender alone is accepted on sms only")
        bidx = vault.blind_index("phone", sender)
    if borrower_id is not None:
        found = conn.execute(select(Borrower.id).where(Borrower.id == borrower_id)).first()
        if found is None:
            raise NotFound("borrower", str(borrower_id))
        lock(conn, LockSpace.KEY, f"assistant:{chosen}:b:{borrower_id}")
    else:
        lock(conn, LockSpace.KEY, f"assistant:{chosen}:s:{bidx}")

    row: Row[Any] | None = None
    if conversation_id is not None:
        row = _row(conn, conversation_id)
        if row is None or not _belongs(row, chosen, borrower_id, bidx):
            raise NotFound("conversation", str(conversation_id))
        if row.status == ConversationStatus.CLOSED.value:
            row = None  # over: the subject's open one, or a new one
    if row is None:
        subject = (
            _C.borrower_id == borrower_id if borrower_id is not None else _C.sender_bidx == bidx
        )
        query = select(_C).where(
            subject, _C.channel == chosen, _C.status != ConversationStatus.CLOSED.value
        )
        if borrower_id is not None:
            query = query.where(_C.verified_at.is_not(None))
        row = conn.execute(query.order_by(_C.id.desc()).limit(1)).first()
    if row is not None and row.status != ConversationStatus.CLOSED.value:
        if now - row.updated_at <= IDLE:
            lock_conversation(conn, int(row.id))
            fresh = _row(conn, int(row.id))
            assert fresh is not None
            if lang is not None and fresh.language != lang:
                conn.execute(update(_C).where(_C.id == row.id).values(language=lang))
                fresh = _row(conn, int(row.id))
                assert fresh is not None
            return _conversation(fresh, vault)
        _close_idle(conn, row, now)
    return _start(conn, vault, chosen, now, borrower_id, sender, bidx, lang or "zh")


def _start(
    conn: Connection,
    vault: PiiVault,
    channel: str,
    now: datetime,
    borrower_id: int | None,
    sender: str | None,
    bidx: str | None,
    language: str,
) -> Conversation:
    values: dict[str, Any] = {
        "channel": channel,
        "language": language,
        "state": START_STATE,
        "status": ConversationStatus.BOT.value,
        "verify_failures": 0,
        "misses": 0,
        "vulnerable": False,
        "started_at": now,
        "updated_at": now,
        "sender_bidx": bidx,
    }
    if borrower_id is not None:
        values |= {
            "borrower_id": borrower_id,
            "verified_at": now,
            "verified_by": VOUCHED[channel].value,
        }
    elif sender is not None:
        point = conn.execute(
            select(ContactPoint.id, ContactPoint.borrower_id, ContactPoint.owner_type)
            .where(ContactPoint.kind == "phone", ContactPoint.value_bidx == bidx)
            .order_by(ContactPoint.owner_type != OwnerType.DEBTOR.value, ContactPoint.id)
            .limit(1)
        ).first()
        if point is not None:
            values |= {
                "borrower_id": int(point.borrower_id),
                "contact_point_id": int(point.id),
                "owner_type": point.owner_type,
            }
        else:  # on no file: its number sealed, for the answers (retention: KEEP_OTHERS)
            values["sender_enc"] = vault.encrypt(sender.strip(), context=SENDER_CONTEXT)
        earlier = conn.execute(
            select(_C.verify_failures, _C.verify_window_start)
            .where(
                _C.sender_bidx == bidx,
                _C.verify_window_start.is_not(None),
                _C.verify_window_start > now - VERIFY_WINDOW,
            )
            .order_by(_C.id.desc())
            .limit(1)
        ).first()
        if earlier is not None:
            values |= {
                "verify_failures": int(earlier.verify_failures),
                "verify_window_start": earlier.verify_window_start,
            }
    new_id = int(conn.execute(insert(_C).values(**values).returning(_C.id)).scalar_one())
    lock_conversation(conn, new_id)
    audit.record(
        conn,
        action="assistant.conversation.start",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(new_id),
        payload={
            "channel": channel,
            "borrower_id": values.get("borrower_id"),
            "owner_type": values.get("owner_type"),
            "verified_by": values.get("verified_by"),
        },
        at=now,
    )
    return get_conversation(conn, vault, new_id)


def _role(role: str) -> str:
    try:
        return TurnRole(role).value
    except ValueError:
        raise ValidationError("role", ", ".join(r.value for r in TurnRole)) from None


def record_turn(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    *,
    role: str,
    text: str,
    now: datetime,
    intent: str | None = None,
    confidence: float | None = None,
    author: str | None = None,
    outbox_id: int | None = None,
) -> Turn:
    """Append one turn (``text`` encrypted, cut to :data:`MAX_TEXT`) to ``conversation``
    (the caller holds its lock: :func:`open_conversation`)."""
    chosen = _role(role)
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise ValidationError("confidence", "between 0 and 1")
    if intent is not None and len(intent) > 64:
        raise ValidationError("intent", "at most 64 characters")
    kept = text[:MAX_TEXT]
    seq = (
        int(
            conn.execute(
                select(func.coalesce(func.max(_T.seq), 0)).where(
                    _T.conversation_id == conversation.id
                )
            ).scalar_one()
        )
        + 1
    )
    turn_id = conn.execute(
        insert(_T)
        .values(
            conversation_id=conversation.id,
            seq=seq,
            role=chosen,
            body_enc=vault.encrypt(kept, context=TURN_CONTEXT),
            intent=intent,
            confidence=confidence,
            author=None if author is None else author[:100],
            outbox_id=outbox_id,
            created_at=now,
        )
        .returning(_T.id)
    ).scalar_one()
    conn.execute(update(_C).where(_C.id == conversation.id).values(updated_at=now))
    return Turn(
        id=int(turn_id),
        conversation_id=conversation.id,
        seq=seq,
        role=chosen,
        text=kept,
        intent=intent,
        confidence=confidence,
        author=author,
        outbox_id=outbox_id,
        created_at=now,
    )


def save_state(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    *,
    state: str,
    slots: dict[str, Any],
    misses: int,
    language: str,
    now: datetime,
) -> Conversation:
    """Store the engine's dialogue state, form slots (encrypted), count of turns not
    understood and language; the conversation as stored now."""
    if not state or len(state) > 64:
        raise ValidationError("state", "1 to 64 characters")
    if misses < 0:
        raise ValidationError("misses", "not negative")
    lang = _language(language)
    try:
        packed = json.dumps(slots, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        raise ValidationError("slots", "plain JSON values only") from None
    conn.execute(
        update(_C)
        .where(_C.id == conversation.id)
        .values(
            state=state,
            slots_enc=vault.encrypt(packed, context=SLOTS_CONTEXT) if slots else None,
            misses=misses,
            language=lang,
            updated_at=now,
        )
    )
    return get_conversation(conn, vault, conversation.id)


def turns_of(
    conn: Connection, vault: PiiVault, conversation_id: int, *, readable: bool = True
) -> list[Turn]:
    """Every turn of a conversation in order; texts decrypted when ``readable``."""
    rows = conn.execute(
        select(_T).where(_T.conversation_id == conversation_id).order_by(_T.seq)
    ).all()
    return [
        Turn(
            id=int(r.id),
            conversation_id=int(r.conversation_id),
            seq=int(r.seq),
            role=r.role,
            text=vault.decrypt(r.body_enc, context=TURN_CONTEXT) if readable else None,
            intent=r.intent,
            confidence=r.confidence,
            author=r.author,
            outbox_id=r.outbox_id,
            created_at=r.created_at,
            text_hidden=not readable,
        )
        for r in rows
    ]
