"""The assistant's (and the agent's) answers by SMS or the lender's app (issue 14, item 3).

On the portal, the API and the CLI an answer is just a turn: the borrower reads it on the
page. On ``sms`` and ``app`` it also travels: :func:`queue_outbound` writes an outbox row
of origin ``assistant`` to the conversation's contact point, the text sealed in
``body_enc`` like an agent's composed message, due now. The dispatcher
(:mod:`forbear.services.outreach.dispatch`) sends it as a reply to a borrower who wrote
first: through the content filter, not the collection gate's caps, but still blocked by an
opt-out of that medium, a do-not-contact hold on the point and, in the borrower's quiet
hours, a text that demands payment (the dispatcher's docstring).

An SMS sender on no file gets the same answers by the same road: an outbox row with no
borrower and no loan, the number sealed in ``to_enc`` (from the conversation's
``sender_enc``), so that nothing tells a stranger whether a number belongs to a borrower
(migration 0022). Such rows are kept no longer than the stranger's conversation
(:mod:`.retention`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from forbear.domain.errors import ValidationError
from forbear.services.assistant.conversations import SYSTEM_ACTOR, Conversation
from forbear.services.outreach.dispatch import TO_CONTEXT, seal_text
from forbear.store import audit
from forbear.store.assistant import SENDER_CONTEXT, AssistantConversation, ConversationChannel
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.runs import OutboxMessage, OutboxOrigin, OutboxStatus

# The outbox channel that carries an answer on each travelling conversation channel.
OUTBOX_CHANNEL: dict[str, str] = {
    ConversationChannel.SMS.value: "sms",
    ConversationChannel.APP.value: "app_push",
}
MAX_OUTBOUND = 500  # characters (an SMS answer longer than this is refused, not cut)


def dedupe_key(conversation_id: int, text: str, now: datetime) -> str:
    digest = hashlib.sha256(
        f"assistant|{conversation_id}|{now.isoformat()}|{text}".encode()
    ).hexdigest()
    return digest


def queue_outbound(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    text: str,
    now: datetime,
    *,
    actor: str | None = None,
) -> int | None:
    """The outbox id of ``text`` queued to the sender of an ``sms`` / ``app``
    conversation, or None when the channel does not travel (portal, api, cli) or there is
    nobody on file to send to. ``actor`` is the agent for an agent's reply."""
    channel = OUTBOX_CHANNEL.get(conversation.channel)
    if channel is None:
        return None
    if not text.strip():
        raise ValidationError("text", "is empty")
    if len(text) > MAX_OUTBOUND:
        raise ValidationError("text", f"at most {MAX_OUTBOUND} characters")
    if conversation.borrower_id is None:
        # a sender on no file: no borrower, no loan, the number sealed in to_enc
        if channel != "sms":
            return None
        sealed = conn.execute(
            select(AssistantConversation.sender_enc).where(
                AssistantConversation.id == conversation.id
            )
        ).scalar_one_or_none()
        if sealed is None:
            return None
        number = vault.decrypt(sealed, context=SENDER_CONTEXT)
        return _queue(
            conn,
            vault,
            conversation,
            channel,
            text,
            now,
            actor,
            loan_id=None,
            to_enc=vault.encrypt(number, context=TO_CONTEXT),
        )
    if channel == "sms" and conversation.contact_point_id is None:
        return None
    loan_id = conn.execute(
        select(func.min(Loan.id)).where(Loan.borrower_id == conversation.borrower_id)
    ).scalar_one_or_none()
    if loan_id is None:
        return None
    return _queue(conn, vault, conversation, channel, text, now, actor, loan_id=int(loan_id))


def _queue(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    channel: str,
    text: str,
    now: datetime,
    actor: str | None,
    *,
    loan_id: int | None,
    to_enc: bytes | None = None,
) -> int:
    by = (actor or SYSTEM_ACTOR)[:64]
    new_id = conn.execute(
        insert(OutboxMessage)
        .values(
            as_of=now.date(),
            loan_id=loan_id,
            borrower_id=conversation.borrower_id,
            action_index=-1,  # not an action of the daily run
            channel=channel,
            template=None,
            contact_point_id=conversation.contact_point_id,
            dedupe_key=dedupe_key(conversation.id, text, now),
            status=OutboxStatus.QUEUED.value,
            created_at=now,
            origin=OutboxOrigin.ASSISTANT.value,
            actor=by,
            due_at=now,
            next_attempt_at=now,
            tries=0,
            reason_rules="[]",
            body_enc=seal_text(vault, text, conversation.language),
            to_enc=to_enc,
            updated_at=now,
        )
        .returning(OutboxMessage.id)
    ).scalar_one()
    audit.record(
        conn,
        action="outbox.queue",
        actor=by,
        subject_type="outbox",
        subject_id=str(new_id),
        payload={
            "origin": OutboxOrigin.ASSISTANT.value,
            "channel": channel,
            "borrower_id": conversation.borrower_id,
            "conversation_id": conversation.id,
            "contact_point_id": conversation.contact_point_id,
        },
        at=now,
    )
    return int(new_id)
