"""How long the assistant's conversations are kept (issue 14; the policy of
:mod:`forbear.services.retention`, which calls these).

- A **borrower's own** conversations (the borrower vouched for, or the debtor's own
  number) are kept as long as the borrower's collection record and deleted with it, turns
  and all, when the retention purge anonymises the borrower (:func:`erase_borrowers`):
  a transcript is what the assistant told the borrower and what the borrower agreed to
  (a promise, a plan), the evidence a complaint or a court may ask for
  (CN.RECORD.RETAIN), and nothing in it is needed once that record is gone.
- Conversations of **senders on no file** and of **third parties** (a guarantor, an
  emergency contact) are deleted :data:`KEEP_OTHERS` after their last turn: a stranger's
  words and number (and the answers sent to a stranger's number), kept half a year for an
  agent to read and for a complaint to be raised (the same period as replies from senders
  on no file, :data:`forbear.services.outreach.replies.KEEP_UNMATCHED`; PIPL art. 19).
- The engine's **form slots** (amounts, dates, what the borrower typed into a form) are
  only needed while the dialogue goes on: cleared :data:`KEEP_SLOTS` after the
  conversation's last turn (it is closed after a day of silence anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, or_, select, update

from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.models import OwnerType
from forbear.store.runs import OutboxMessage, OutboxOrigin

KEEP_OTHERS = timedelta(days=180)
KEEP_SLOTS = timedelta(days=30)
_C = AssistantConversation
_T = AssistantTurn


def _delete_conversations(conn: Connection, which: ColumnElement[bool]) -> tuple[int, int]:
    ids = select(_C.id).where(which).scalar_subquery()
    turns = int(conn.execute(delete(_T).where(_T.conversation_id.in_(ids))).rowcount or 0)
    conversations = int(conn.execute(delete(_C).where(which)).rowcount or 0)
    return conversations, turns


def erase_borrowers(conn: Connection, borrower_ids: Sequence[int]) -> dict[str, int]:
    """Delete every conversation (and its turns) of the borrowers ``borrower_ids``."""
    if not borrower_ids:
        return {"assistant_conversations": 0, "assistant_turns": 0}
    conversations, turns = _delete_conversations(conn, _C.borrower_id.in_(list(borrower_ids)))
    return {"assistant_conversations": conversations, "assistant_turns": turns}


def expire(conn: Connection, now: datetime) -> dict[str, int]:
    """Delete the conversations of senders on no file and of third parties past
    :data:`KEEP_OTHERS`, clear the slots past :data:`KEEP_SLOTS`; counts by table (rows
    deleted, or conversations whose slots were cleared)."""
    others = and_(
        or_(_C.borrower_id.is_(None), _C.owner_type != OwnerType.DEBTOR.value),
        _C.verified_at.is_(None),
        _C.updated_at < now - KEEP_OTHERS,
    )
    conversations, turns = _delete_conversations(conn, others)
    # the answers to senders on no file (no borrower: no purge would ever reach them)
    answers = int(
        conn.execute(
            delete(OutboxMessage).where(
                OutboxMessage.borrower_id.is_(None),
                OutboxMessage.origin == OutboxOrigin.ASSISTANT.value,
                OutboxMessage.created_at < now - KEEP_OTHERS,
            )
        ).rowcount
        or 0
    )
    cleared = int(
        conn.execute(
            update(_C)
            .where(_C.slots_enc.is_not(None), _C.updated_at < now - KEEP_SLOTS)
            .values(slots_enc=None)
        ).rowcount
        or 0
    )
    return {
        "assistant_conversations": conversations + cleared,
        "assistant_turns": turns,
        "outbox": answers,
    }
