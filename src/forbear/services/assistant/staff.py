"""The agents' side of the assistant (issue 14, item 4): the handoff queue, taking over a
conversation, answering in it, giving it back to the bot, closing it.

- Permissions from the existing roles: :data:`VIEW` (``account.view``) to see the queue,
  :data:`HANDLE` (``contact.make``) to take over, answer, release and close.
- Scope (:mod:`forbear.services.scope`): a conversation belongs to the loans of its
  borrower; an agency agent or a bucket-scoped agent sees only conversations of borrowers
  with a loan in scope, and one out of scope answers exactly like a missing one
  (:class:`NotFound` "conversation"). A conversation with no borrower (an unknown SMS
  sender) is seen by staff who see the whole book only.
- :func:`take_over` is decided by one conditional update under the conversation's lock:
  of two agents taking the same conversation at once, one wins and the other gets
  :class:`Conflict`. A system turn "an agent has joined" is recorded, so the engine (and
  the borrower's transcript) can say so.
- :func:`agent_reply` passes the text through the content filter
  (:func:`forbear.services.templates.check_body`, audience ``debtor`` -- or
  ``third_party`` when the sender's number is a third party's -- in the conversation's
  language) and refuses it with the violations (:class:`ContentRejected`); on ``sms`` /
  ``app`` the reply is also queued for the dispatcher (:mod:`.outbound`).

Signature note: :func:`take_over` and :func:`release` take the ``vault`` (they record a
system turn, encrypted like every turn) and every function takes an optional ``today``
(the lender's business day the bucket scope reads; ``now``'s date by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select, true, update

from forbear.domain.access import Actor
from forbear.domain.compliance.content import ContentRejected
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.replies import with_opt_out
from forbear.services.assistant.conversations import (
    Conversation,
    Turn,
    _conversation,
    lock_conversation,
    record_turn,
    turns_of,
)
from forbear.services.assistant.outbound import queue_outbound
from forbear.services.days import book_date as book_date_on
from forbear.services.outreach.correspondence import READ_TEXT
from forbear.services.scope import visible
from forbear.services.templates import check_body
from forbear.store import audit
from forbear.store.assistant import AssistantConversation, ConversationStatus, TurnRole
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan

VIEW = "account.view"
HANDLE = "contact.make"
MAX_REPLY = 500
# What the borrower reads when an agent joins or leaves (zh-CN first; the engine may
# phrase its own notice from the system turn's existence).
REPEAT_WINDOW = timedelta(minutes=2)  # the same reply again within it: a double submission
JOINED = {"zh": "人工客服已加入对话。", "en": "An agent has joined the conversation."}
LEFT = {
    "zh": "人工客服已离开，智能助手将继续为您服务。",
    "en": "The agent has left; the assistant is back.",
}
# The content filter's channel for each conversation channel.
FILTER_CHANNEL = {"sms": "sms", "app": "app_push", "portal": "im", "api": "im", "cli": "im"}
_C = AssistantConversation


@dataclass(frozen=True)
class QueueEntry:
    """One conversation in the agents' queue (waiting, or taken by an agent)."""

    conversation_id: int
    channel: str
    status: str
    borrower_id: int | None
    loan_id: int | None  # the lowest loan id of the borrower the reader may open
    reason: str | None
    intent: str | None
    handoff_at: datetime | None
    agent: str | None
    agent_joined_at: datetime | None
    verified: bool
    third_party: bool
    vulnerable: bool
    language: str
    slots: dict[str, Any]  # empty when the reader may not read correspondence
    slots_hidden: bool


def _today(now: datetime, today: date | None) -> date:
    return today if today is not None else now.date()


def _in_scope(conn: Connection, actor: Actor, now: datetime, today: date) -> ColumnElement[bool]:
    if not actor.scoped:
        return true()
    book = book_date_on(conn, today) if actor.scope_buckets else None
    mine = select(Loan.borrower_id).where(visible(actor, now, book))
    return and_(_C.borrower_id.is_not(None), _C.borrower_id.in_(mine))


def _find(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    now: datetime,
    today: date,
) -> Conversation:
    row = conn.execute(
        select(_C).where(_C.id == conversation_id, _in_scope(conn, actor, now, today))
    ).first()
    if row is None:
        raise NotFound("conversation", str(conversation_id))
    return _conversation(row, vault)


def find_conversation(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    *,
    now: datetime,
    today: date | None = None,
) -> Conversation:
    """One conversation for staff (``account.view``, in scope, else NotFound)."""
    actor.require(VIEW)
    return _find(conn, actor, vault, conversation_id, now, _today(now, today))


def queue(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    now: datetime,
    *,
    today: date | None = None,
    limit: int = 200,
) -> list[QueueEntry]:
    """The waiting and taken conversations in ``actor``'s scope, oldest handoff first."""
    actor.require(VIEW)
    day = _today(now, today)
    rows = conn.execute(
        select(_C)
        .where(
            _C.status.in_([ConversationStatus.WAITING.value, ConversationStatus.AGENT.value]),
            _in_scope(conn, actor, now, day),
        )
        .order_by(_C.handoff_at, _C.id)
        .limit(max(1, min(limit, 1000)))
    ).all()
    found = [_conversation(r, vault) for r in rows]
    borrowers = sorted({c.borrower_id for c in found if c.borrower_id is not None})
    first: dict[int, int] = {}
    if borrowers:
        book = book_date_on(conn, day) if actor.scope_buckets else None
        first = {
            int(r.borrower_id): int(r.loan_id)
            for r in conn.execute(
                select(Loan.borrower_id, func.min(Loan.id).label("loan_id"))
                .where(Loan.borrower_id.in_(borrowers), visible(actor, now, book))
                .group_by(Loan.borrower_id)
            )
        }
    may_read = any(actor.may(p) for p in READ_TEXT)
    return [
        QueueEntry(
            conversation_id=c.id,
            channel=c.channel,
            status=c.status,
            borrower_id=c.borrower_id,
            loan_id=first.get(c.borrower_id) if c.borrower_id is not None else None,
            reason=c.handoff_reason,
            intent=c.handoff_intent,
            handoff_at=c.handoff_at,
            agent=c.agent,
            agent_joined_at=c.agent_joined_at,
            verified=c.verified,
            third_party=c.third_party,
            vulnerable=c.vulnerable,
            language=c.language,
            slots=dict(c.slots) if may_read else {},
            slots_hidden=not may_read,
        )
        for c in found
    ]


def _audit(conn: Connection, action: str, actor: Actor, c: Conversation, now: datetime) -> None:
    audit.record(
        conn,
        action=action,
        actor=actor.name,
        subject_type="assistant_conversation",
        subject_id=str(c.id),
        payload={"borrower_id": c.borrower_id, "channel": c.channel},
        at=now,
    )


def take_over(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    now: datetime,
    *,
    today: date | None = None,
) -> Conversation:
    """``actor`` takes the conversation (waiting, or still with the bot). One agent wins;
    the others get :class:`Conflict`. Records the system turn :data:`JOINED`."""
    actor.require(HANDLE)
    day = _today(now, today)
    _find(conn, actor, vault, conversation_id, now, day)
    lock_conversation(conn, conversation_id)
    done = conn.execute(
        update(_C)
        .where(
            _C.id == conversation_id,
            _C.status.in_([ConversationStatus.WAITING.value, ConversationStatus.BOT.value]),
        )
        .values(
            status=ConversationStatus.AGENT.value,
            agent=actor.name[:100],
            agent_joined_at=now,
            handoff_at=func.coalesce(_C.handoff_at, now),
            updated_at=now,
        )
    ).rowcount
    if done != 1:
        raise Conflict(f"conversation {conversation_id} is not waiting for an agent")
    taken = _find(conn, actor, vault, conversation_id, now, day)
    _tell(conn, vault, taken, JOINED, now)
    _audit(conn, "assistant.take_over", actor, taken, now)
    return taken


def _same_reply_just_now(
    conn: Connection, vault: PiiVault, conversation_id: int, agent: str, body: str, now: datetime
) -> Turn | None:
    """The agent's last turn when it is this very text, sent less than
    :data:`REPEAT_WINDOW` ago (a form submitted twice is answered once)."""
    mine = [t for t in turns_of(conn, vault, conversation_id) if t.role == TurnRole.AGENT.value]
    last = mine[-1] if mine else None
    if last is None or last.author != agent or last.text != body:
        return None
    return last if now - last.created_at <= REPEAT_WINDOW else None


def _tell(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    texts: dict[str, str],
    now: datetime,
) -> None:
    """A system turn telling the borrower (in the conversation's language) who answers."""
    text = texts.get(conversation.language, texts["zh"])
    record_turn(
        conn, vault, conversation, role=TurnRole.SYSTEM.value, text=text, now=now, author="system"
    )


def _mine(conversation: Conversation, actor: Actor) -> None:
    if conversation.status != ConversationStatus.AGENT.value or conversation.agent != actor.name:
        raise Conflict(f"conversation {conversation.id} is not taken by this agent")


def agent_reply(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    text: str,
    now: datetime,
    *,
    today: date | None = None,
) -> Turn:
    """The agent's answer in a conversation it has taken (else :class:`Conflict`): the
    text checked by the content filter (:class:`ContentRejected` with the violations,
    nothing stored), recorded as an ``agent`` turn, and queued on sms / app."""
    actor.require(HANDLE)
    day = _today(now, today)
    _find(conn, actor, vault, conversation_id, now, day)
    lock_conversation(conn, conversation_id)
    current = _find(conn, actor, vault, conversation_id, now, day)
    _mine(current, actor)
    body = text.strip()
    if not body:
        raise ValidationError("text", "is empty")
    if len(body) > MAX_REPLY:
        raise ValidationError("text", f"at most {MAX_REPLY} characters")
    lang = current.language if current.language in ("zh", "en") else "zh"
    body = with_opt_out(body, channel=current.channel, lang=lang)
    audience = "third_party" if current.third_party or current.borrower_id is None else "debtor"
    violations = check_body(
        body,
        channel=FILTER_CHANNEL[current.channel],
        audience=audience,
        lang=lang,
    )
    if violations:
        raise ContentRejected("reply", violations)
    again = _same_reply_just_now(conn, vault, current.id, actor.name, body, now)
    if again is not None:  # a double submission: answered once (under the lock above)
        return again
    outbox_id = queue_outbound(conn, vault, current, body, now, actor=actor.name)
    turn = record_turn(
        conn,
        vault,
        current,
        role=TurnRole.AGENT.value,
        text=body,
        now=now,
        author=actor.name,
        outbox_id=outbox_id,
    )
    audit.record(
        conn,
        action="assistant.agent_reply",
        actor=actor.name,
        subject_type="assistant_conversation",
        subject_id=str(current.id),
        payload={"turn_id": turn.id, "outbox_id": outbox_id, "borrower_id": current.borrower_id},
        at=now,
    )
    return turn


def release(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    now: datetime,
    *,
    today: date | None = None,
) -> Conversation:
    """Give a conversation ``actor`` has taken (or one still waiting) back to the bot;
    records the system turn :data:`LEFT` when an agent had joined."""
    actor.require(HANDLE)
    day = _today(now, today)
    _find(conn, actor, vault, conversation_id, now, day)
    lock_conversation(conn, conversation_id)
    current = _find(conn, actor, vault, conversation_id, now, day)
    if current.status == ConversationStatus.AGENT.value:
        _mine(current, actor)
    elif current.status != ConversationStatus.WAITING.value:
        raise Conflict(f"conversation {conversation_id} is not with an agent")
    conn.execute(
        update(_C)
        .where(_C.id == conversation_id)
        .values(
            status=ConversationStatus.BOT.value,
            agent=None,
            handoff_reason=None,
            handoff_intent=None,
            handoff_at=None,
            agent_joined_at=None,
            misses=0,
            updated_at=now,
        )
    )
    released = _find(conn, actor, vault, conversation_id, now, day)
    if current.status == ConversationStatus.AGENT.value:
        _tell(conn, vault, released, LEFT, now)
    _audit(conn, "assistant.release", actor, released, now)
    return released


def close(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    now: datetime,
    *,
    today: date | None = None,
) -> Conversation:
    """Close a conversation (the agent who has it, or any handler when it is waiting or
    with the bot). Closing a closed one changes nothing."""
    actor.require(HANDLE)
    day = _today(now, today)
    _find(conn, actor, vault, conversation_id, now, day)
    lock_conversation(conn, conversation_id)
    current = _find(conn, actor, vault, conversation_id, now, day)
    if current.status == ConversationStatus.CLOSED.value:
        return current
    if current.status == ConversationStatus.AGENT.value:
        _mine(current, actor)
    conn.execute(
        update(_C)
        .where(_C.id == conversation_id)
        .values(status=ConversationStatus.CLOSED.value, closed_at=now, updated_at=now)
    )
    closed = _find(conn, actor, vault, conversation_id, now, day)
    _audit(conn, "assistant.close", actor, closed, now)
    return closed
