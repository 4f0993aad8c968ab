"""Reading a conversation's transcript (issue 14, item 5).

- Staff (:func:`transcript`): ``account.view`` and the conversation in the reader's scope
  (else :class:`NotFound`, as a missing one). The texts are opened only for the roles that
  read correspondence (:data:`forbear.services.outreach.correspondence.READ_TEXT`: who
  writes to borrowers and who reviews what was written); every other role sees the turns
  (who, when, the intent) with ``text`` None and ``text_hidden``.
- The compliance console reads with a ``purpose`` (a :class:`forbear.domain.access.Purpose`:
  a complaint, litigation, a privacy request): the read is audited as
  ``assistant.transcript.read`` naming the reader, role, conversation and purpose (never a
  text), like an unmasking (:mod:`forbear.services.unmasking`). A purpose needs a role that
  reads correspondence.
- The borrower (:func:`borrower_transcript`, the portal's own view): only their own
  conversations, verified ones (a conversation of the borrower's phone that never passed
  the identity check is not shown on the portal), the agents named only as "agent".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Connection, select

from forbear.domain.access import Actor, Purpose
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.services.assistant.conversations import Turn, turns_of
from forbear.services.assistant.staff import VIEW, _find, _today
from forbear.services.outreach.correspondence import READ_TEXT
from forbear.store import audit
from forbear.store.assistant import AssistantConversation, TurnRole
from forbear.store.crypto import PiiVault

_C = AssistantConversation


def transcript(
    conn: Connection,
    actor: Actor,
    vault: PiiVault,
    conversation_id: int,
    *,
    now: datetime,
    purpose: Purpose | str | None = None,
    today: date | None = None,
) -> list[Turn]:
    """The turns of a conversation for staff, in order (module docstring)."""
    actor.require(VIEW)
    chosen: Purpose | None = None
    if purpose is not None:
        try:
            chosen = Purpose(str(purpose))
        except ValueError:
            raise ValidationError("purpose", ", ".join(p.value for p in Purpose)) from None
    found = _find(conn, actor, vault, conversation_id, now, _today(now, today))
    may_read = any(actor.may(p) for p in READ_TEXT)
    if chosen is not None:
        if not may_read:
            raise PermissionDenied(str(actor.role), "assistant.transcript.read", chosen.value)
        audit.record(
            conn,
            action="assistant.transcript.read",
            actor=actor.name,
            subject_type="assistant_conversation",
            subject_id=str(found.id),
            payload={
                "role": None if actor.role is None else actor.role.value,
                "purpose": chosen.value,
                "borrower_id": found.borrower_id,
            },
            at=now,
        )
    return turns_of(conn, vault, found.id, readable=may_read)


def borrower_transcript(
    conn: Connection, vault: PiiVault, borrower_id: int, conversation_id: int
) -> list[Turn]:
    """The borrower's own conversation, for the portal (:class:`NotFound`
    "conversation" when it is not theirs or was never verified)."""
    row = conn.execute(
        select(_C.id).where(
            _C.id == conversation_id,
            _C.borrower_id == borrower_id,
            _C.verified_at.is_not(None),
        )
    ).first()
    if row is None:
        raise NotFound("conversation", str(conversation_id))
    return [
        replace(t, author="agent" if t.role == TurnRole.AGENT.value else None)
        for t in turns_of(conn, vault, conversation_id)
    ]


def borrower_conversations(conn: Connection, borrower_id: int, *, limit: int = 20) -> list[int]:
    """The ids of the borrower's verified conversations, newest first (the portal's list)."""
    return [
        int(i)
        for i in conn.execute(
            select(_C.id)
            .where(_C.borrower_id == borrower_id, _C.verified_at.is_not(None))
            .order_by(_C.id.desc())
            .limit(max(1, min(limit, 200)))
        ).scalars()
    ]
