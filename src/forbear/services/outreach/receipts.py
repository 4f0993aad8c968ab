"""Delivery receipts (issue 13, item 4): what became of a message the provider accepted,
reported back by the SMS and e-mail providers, the push service and the AI-voice platform
(whose call outcomes come here too).

A receipt names the message by its stable id (``message_id``: the outbox's dedupe key, the
idempotency key the dispatcher gave the provider) or by the provider's own reference
(``provider_ref``), and says what happened:

===============  ===============  ===================  ================================
receipt status   outbox status    contact outcome      also
===============  ===============  ===================  ================================
delivered        delivered        delivered
answered         delivered        connected            (an AI-voice call taken)
no_answer        failed           no_answer
busy             failed           busy
failed           failed           failed
undelivered      failed           failed
invalid_number   failed           invalid_number       the contact point marked invalid
===============  ===============  ===================  ================================

The contact attempt's outcome is recorded once (:func:`forbear.services.contacts.outcomes.
record_outcome`): a later, different receipt for the same message leaves the first
outcome standing (audited as a conflict) and the outbox as it is. A receipt for a message
that was never handed to a provider (still queued, cancelled, dead) is refused
(:class:`Conflict`); one for an unknown message is :class:`NotFound`.

**A contact point marked invalid**: a ``do_not_contact`` hold on that contact point alone
(:func:`forbear.services.outreach.points.mark_point_invalid`, the dispatcher's mechanism
too), open until a person releases it. The gate stops a contact point with an open hold of
its own (``CN.3P.REFUSAL`` and the hold rules match a hold's ``contact_point_id``), in the
daily run and at the moment of sending; the ``invalid_number`` outcome on a debtor's voice
attempt also tells the third-party gate that the debtor is unreachable
(``CN.3P.LOST_CONTACT_GATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, select, update

from forbear.domain.compliance.schema import Outcome
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services.contacts.outcomes import OutcomeStatus, record_outcome
from forbear.services.outreach.callbacks import Accepted
from forbear.services.outreach.points import ADDRESS_INVALID, mark_point_invalid
from forbear.store import audit
from forbear.store.locks import lock_debtor
from forbear.store.runs import OutboxMessage, OutboxStatus


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    INVALID_NUMBER = "invalid_number"


# receipt status -> (outbox status, contact outcome)
EFFECT: dict[ReceiptStatus, tuple[OutboxStatus, Outcome]] = {
    ReceiptStatus.DELIVERED: (OutboxStatus.DELIVERED, Outcome.DELIVERED),
    ReceiptStatus.ANSWERED: (OutboxStatus.DELIVERED, Outcome.CONNECTED),
    ReceiptStatus.NO_ANSWER: (OutboxStatus.FAILED, Outcome.NO_ANSWER),
    ReceiptStatus.BUSY: (OutboxStatus.FAILED, Outcome.BUSY),
    ReceiptStatus.FAILED: (OutboxStatus.FAILED, Outcome.FAILED),
    ReceiptStatus.UNDELIVERED: (OutboxStatus.FAILED, Outcome.FAILED),
    ReceiptStatus.INVALID_NUMBER: (OutboxStatus.FAILED, Outcome.INVALID_NUMBER),
}
# The outbox states a receipt may follow: handed to the provider.
HANDED_OVER = frozenset({OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.DELIVERED})


@dataclass(frozen=True)
class Receipt:
    """A receipt as the provider reported it."""

    status: str
    at: datetime
    message_id: str | None = None
    provider_ref: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class ReceiptApplied:
    status: str  # applied | duplicate
    outbox_id: int | None = None
    outbox_status: str | None = None
    outcome: str | None = None  # the contact outcome that stands
    outcome_conflict: bool = False
    hold_id: int | None = None  # the contact point marked invalid


def event_key(receipt: Receipt) -> str:
    """The receipt's event key: the provider's id, else the message and the status."""
    if receipt.event_id:
        return f"id:{receipt.event_id}"
    ref = f"m:{receipt.message_id}" if receipt.message_id else f"p:{receipt.provider_ref}"
    return f"{ref}:{receipt.status}"


def _check(receipt: Receipt) -> ReceiptStatus:
    try:
        status = ReceiptStatus(receipt.status)
    except ValueError:
        known = ", ".join(s.value for s in ReceiptStatus)
        raise ValidationError("status", f"one of: {known}") from None
    if not receipt.message_id and not receipt.provider_ref:
        raise ValidationError("message_id", "name the message: message_id or provider_ref")
    if receipt.at.tzinfo is None:
        raise ValidationError("at", "a time without a zone is ambiguous")
    return status


def apply_receipt(
    conn: Connection,
    accepted: Accepted,
    receipt: Receipt,
    *,
    provider: str,
    now: datetime,
) -> ReceiptApplied:
    """Apply a delivery receipt (module docstring) in the caller's transaction."""
    status = _check(receipt)
    if not accepted.fresh:
        return ReceiptApplied("duplicate")
    o = OutboxMessage
    where = (
        o.dedupe_key == receipt.message_id
        if receipt.message_id
        else (o.provider == provider) & (o.provider_ref == receipt.provider_ref)
    )
    row = conn.execute(
        select(
            o.id, o.status, o.borrower_id, o.contact_point_id, o.contact_attempt_id, o.channel
        ).where(where)
    ).first()
    if row is None:
        raise NotFound("message", receipt.message_id or str(receipt.provider_ref))
    if row.borrower_id is not None:  # (an answer to a sender on no file has none)
        lock_debtor(conn, int(row.borrower_id))
    current = OutboxStatus(
        conn.execute(select(o.status).where(o.id == row.id)).scalar_one()
    )  # read again under the lock
    if current not in HANDED_OVER:
        raise Conflict(f"message {row.id} was never handed to a provider ({current.value})")
    target, outcome = EFFECT[status]
    new_status = current
    if current is not OutboxStatus.DELIVERED or target is OutboxStatus.DELIVERED:
        # a failure reported after a delivery leaves the delivery standing
        new_status = target
        values: dict[str, object] = {"status": target.value, "updated_at": now}
        if target is OutboxStatus.DELIVERED:
            values["delivered_at"] = receipt.at
        else:
            values["last_error"] = f"receipt: {status.value}"
        if receipt.provider_ref and receipt.message_id:
            values["provider_ref"] = receipt.provider_ref[:128]
        conn.execute(update(o).where(o.id == row.id).values(**values))
    actor = f"provider:{provider}"
    stood, conflict = None, False
    if row.contact_attempt_id is not None:
        result = record_outcome(conn, int(row.contact_attempt_id), outcome.value, actor, now=now)
        stood, conflict = result.outcome.value, result.status is OutcomeStatus.CONFLICT
    hold_id = None
    if status is ReceiptStatus.INVALID_NUMBER and row.contact_point_id is not None:
        hold_id = mark_point_invalid(
            conn, int(row.contact_point_id), actor=actor, now=now, reason=ADDRESS_INVALID
        )
    audit.record(
        conn,
        action="outbox.receipt",
        actor=actor,
        subject_type="outbox",
        subject_id=str(row.id),
        payload={
            "receipt": status.value,
            "status": new_status.value,
            "outcome": stood,
            "outcome_conflict": conflict,
            "hold_id": hold_id,
        },
    )
    return ReceiptApplied("applied", int(row.id), new_status.value, stood, conflict, hold_id)
