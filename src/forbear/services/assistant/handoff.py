"""What the engine does when the assistant must step aside (issue 14, item 3).

- :func:`hand_over`: the conversation goes to the agents' queue (``waiting``) with the
  reason (crisis, abusive, asked, not_understood, dispute, complaint, other) and the intent
  that led there; the bot stops answering until an agent releases it.
- :func:`flag_vulnerable`: a borrower in crisis (self-harm, illness, bereavement). The
  conversation is flagged and, when it is the debtor's own number or a vouched-for
  borrower, a ``vulnerable`` hold is placed on all the borrower's loans through
  :func:`forbear.services.contacts.holds.add_hold` -- as a collector's ``hardship``
  outcome does (:mod:`forbear.services.contacts.outcomes`) -- so the compliance gate stops
  collection at once (REGULATIONS.md vulnerability holds). A third party's or an unknown
  sender's crisis flags the conversation only: it says nothing about the borrower.
- :func:`mark_wrong_number`: "不是我的号码". The sender's contact point gets the review
  hold of :func:`forbear.services.outreach.points.mark_point_invalid`; messages to it stop.

All audited with ids and codes only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import ValidationError
from forbear.services.assistant.conversations import (
    SYSTEM_ACTOR,
    Conversation,
    lock_conversation,
)
from forbear.services.contacts.holds import add_hold
from forbear.services.holds import open_at
from forbear.services.outreach.points import mark_point_invalid
from forbear.store import audit
from forbear.store.assistant import AssistantConversation, ConversationStatus, HandoffReason
from forbear.store.contacts import Hold
from forbear.store.locks import lock_debtor
from forbear.store.models import Loan, OwnerType

VULNERABLE_REASON = "ASSISTANT.VULNERABLE: the borrower told the assistant of a crisis"
WRONG_NUMBER_REASON = "不是我的号码"
_C = AssistantConversation


def _reason(reason: str) -> str:
    try:
        return HandoffReason(reason).value
    except ValueError:
        raise ValidationError("reason", ", ".join(r.value for r in HandoffReason)) from None


def _reload(conn: Connection, conversation: Conversation) -> Conversation:
    row = conn.execute(select(_C).where(_C.id == conversation.id)).one()
    return replace(
        conversation,
        status=row.status,
        agent=row.agent,
        handoff_reason=row.handoff_reason,
        handoff_intent=row.handoff_intent,
        handoff_at=row.handoff_at,
        agent_joined_at=row.agent_joined_at,
        vulnerable=bool(row.vulnerable),
        updated_at=row.updated_at,
        closed_at=row.closed_at,
    )


def hand_over(
    conn: Connection,
    conversation: Conversation,
    *,
    reason: str,
    now: datetime,
    intent: str | None = None,
) -> Conversation:
    """Put ``conversation`` in the agents' queue. A conversation already waiting or with an
    agent is left as it is (the first reason stands); a closed one cannot be handed over."""
    chosen = _reason(reason)
    lock_conversation(conn, conversation.id)
    current = _reload(conn, conversation)
    if current.status == ConversationStatus.CLOSED.value:
        raise ValidationError("conversation", "is closed")
    if current.status in (ConversationStatus.WAITING.value, ConversationStatus.AGENT.value):
        return current
    conn.execute(
        update(_C)
        .where(_C.id == conversation.id)
        .values(
            status=ConversationStatus.WAITING.value,
            handoff_reason=chosen,
            handoff_intent=None if intent is None else intent[:64],
            handoff_at=now,
            agent=None,
            agent_joined_at=None,
            updated_at=now,
        )
    )
    audit.record(
        conn,
        action="assistant.handoff",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(conversation.id),
        payload={
            "reason": chosen,
            "intent": intent,
            "borrower_id": conversation.borrower_id,
            "channel": conversation.channel,
        },
        at=now,
    )
    return _reload(conn, conversation)


def _is_the_borrower(conversation: Conversation) -> bool:
    if conversation.borrower_id is None:
        return False
    return conversation.verified or conversation.owner_type == OwnerType.DEBTOR.value


def flag_vulnerable(conn: Connection, conversation: Conversation, *, now: datetime) -> int | None:
    """Flag ``conversation`` and place the vulnerability hold (module docstring). Returns
    the new hold's id, or None: not the borrower's conversation, no loan, or a
    vulnerability hold already open on all the borrower's loans."""
    lock_conversation(conn, conversation.id)
    conn.execute(update(_C).where(_C.id == conversation.id).values(vulnerable=True, updated_at=now))
    hold_id: int | None = None
    borrower_id = conversation.borrower_id
    if borrower_id is not None and _is_the_borrower(conversation):
        lock_debtor(conn, borrower_id)
        open_one = conn.execute(
            select(Hold.id).where(
                Hold.borrower_id == borrower_id,
                Hold.kind == HoldKind.VULNERABLE.value,
                Hold.loan_id.is_(None),
                Hold.contact_point_id.is_(None),
                open_at(now),
            )
        ).first()
        loan_id = conn.execute(
            select(func.min(Loan.id)).where(Loan.borrower_id == borrower_id)
        ).scalar_one_or_none()
        if open_one is None and loan_id is not None:
            hold_id = add_hold(
                conn,
                loan_id=int(loan_id),
                kind=HoldKind.VULNERABLE.value,
                actor=SYSTEM_ACTOR,
                since=now,
                all_loans=True,
                reason=VULNERABLE_REASON,
                now=now,
            )
    audit.record(
        conn,
        action="assistant.vulnerable",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(conversation.id),
        payload={"borrower_id": borrower_id, "hold_id": hold_id},
        at=now,
    )
    return hold_id


def mark_wrong_number(conn: Connection, conversation: Conversation, *, now: datetime) -> int | None:
    """The sender says the number is not theirs: the contact point gets the review hold
    (:func:`mark_point_invalid`). Returns the hold's id, or None (no matched point, or a
    hold already open on it)."""
    lock_conversation(conn, conversation.id)
    if conversation.contact_point_id is None or conversation.borrower_id is None:
        return None
    lock_debtor(conn, conversation.borrower_id)
    hold_id = mark_point_invalid(
        conn,
        conversation.contact_point_id,
        actor=SYSTEM_ACTOR,
        now=now,
        reason=WRONG_NUMBER_REASON,
    )
    audit.record(
        conn,
        action="assistant.wrong_number",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(conversation.id),
        payload={
            "contact_point_id": conversation.contact_point_id,
            "borrower_id": conversation.borrower_id,
            "hold_id": hold_id,
        },
        at=now,
    )
    return hold_id
