"""Payments in real time (issue 13, item 4): the lender's payment system posts a confirmed
payment the moment it clears, instead of waiting for the next payments file.

One payment is checked exactly as a row of the payments file
(:func:`forbear.domain.intake.validate_payments`: the transaction id, the amount in yuan,
the time in the lender's zone or with an offset, the channel), against the book as the
import checks it (a known loan, not paid before the loan started, a transaction id already
stored only with the same loan, day and amount), and posted in the caller's transaction
with its audit event. Idempotent by transaction id (``payments.external_ref`` is unique,
whichever path brought it): the same payment again, by callback or file, changes nothing.

At once, in the same transaction:

- the borrower situation reads the payment (it is computed from the stored payments at
  the moment of reading: :mod:`forbear.services.situation`), so every page, the portal
  and the dispatcher's gate see the new balance;
- the loan's promises are decided on it (kept, partly kept, progressed: the same rule as
  the daily update, :func:`forbear.services.promises.deciding.decide`);
- the loan's plan is brought up to date for the day (completed when everything up to its
  last instalment is paid: :func:`forbear.services.plans.daily.daily_update` on this loan);
- the loan's queued reminders are cancelled with ``OUTBOX.PAID`` when the payment cured the
  loan (it was overdue and is not any more, or it is paid off); every other message queued
  for the borrower is asked about again by the dispatcher at the moment of sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import Connection, insert, select, update

from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.intake import validate_payments
from forbear.domain.intake.result import LINE
from forbear.domain.promises import DEFAULT_POLICY
from forbear.services import situation
from forbear.services.outreach.callbacks import Accepted, mark_duplicate
from forbear.services.plans import daily as plan_daily
from forbear.services.promises.deciding import apply_changes, decide
from forbear.store import audit
from forbear.store import promises as promise_store
from forbear.store.contacts import rule_ids_json
from forbear.store.locks import lock_loan
from forbear.store.models import Loan, Payment
from forbear.store.promises import Promise
from forbear.store.runs import OutboxMessage, OutboxOrigin, OutboxStatus

PAID_RULE = "OUTBOX.PAID"
# How far ahead of the receiver's clock a payment's time may be (clock skew).
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class LivePayment:
    """A payment as the payment system posts it: all text, as in the payments file."""

    transaction_id: str
    amount: str  # yuan, e.g. "1234.56"
    paid_at: str  # "2026-11-20 10:15:00" (lender's zone) or ISO 8601 with an offset
    loan_ref: str | None = None  # the lender's loan number
    loan_id: int | None = None  # or Forbear's id of the loan
    channel: str | None = None  # withhold | transfer | app | counter | other


@dataclass(frozen=True)
class PaymentPosted:
    status: str  # applied | duplicate
    payment_id: int | None
    loan_id: int
    amount: int  # fen
    promises_resolved: int = 0
    cancelled_messages: int = 0
    queued_for_recheck: int = 0
    plans_completed: int = 0


def _validated(payment: LivePayment, zone: str) -> dict[str, object]:
    """The payment as one typed row of the payments file (first problem raised)."""
    frame = pl.DataFrame(
        {
            LINE: [2],
            "txn_ref": [payment.transaction_id],
            "loan_ref": [payment.loan_ref if payment.loan_ref is not None else "-"],
            "paid_at": [payment.paid_at],
            "amount": [payment.amount],
            "channel": [payment.channel],
        },
        schema={
            LINE: pl.Int64,
            "txn_ref": pl.String,
            "loan_ref": pl.String,
            "paid_at": pl.String,
            "amount": pl.String,
            "channel": pl.String,
        },
    )
    checked = validate_payments(frame, zone)
    if checked.errors:
        error = checked.errors[0]
        field = {"txn_ref": "transaction_id", "loan_ref": "loan_ref"}.get(
            error.column, error.column
        )
        raise ValidationError(field, error.reason)
    return checked.valid.row(0, named=True)


def _loan(conn: Connection, payment: LivePayment) -> tuple[int, int, date]:
    """(loan id, borrower id, start date) of the loan the payment names."""
    if payment.loan_ref is None and payment.loan_id is None:
        raise ValidationError("loan_ref", "name the loan: loan_ref or loan_id")
    stmt = select(Loan.id, Loan.borrower_id, Loan.start_date, Loan.external_ref)
    if payment.loan_id is not None:
        found = conn.execute(stmt.where(Loan.id == payment.loan_id)).first()
    else:
        found = conn.execute(stmt.where(Loan.external_ref == payment.loan_ref)).first()
    if found is None:
        raise NotFound("loan", str(payment.loan_ref or payment.loan_id))
    if payment.loan_ref is not None and found.external_ref != payment.loan_ref:
        raise ValidationError("loan_ref", "loan_ref and loan_id name different loans")
    return int(found.id), int(found.borrower_id), found.start_date


def post_payment(
    conn: Connection,
    accepted: Accepted,
    payment: LivePayment,
    *,
    provider: str,
    zone: str,
    now: datetime,
    today: date,
) -> PaymentPosted:
    """Post ``payment`` (module docstring) in the caller's transaction."""
    row = _validated(payment, zone)
    loan_id, borrower_id, start = _loan(conn, payment)
    paid_on: date = row["paid_on"]  # type: ignore[assignment]
    paid_at: datetime | None = row["paid_at"]  # type: ignore[assignment]
    amount = int(row["amount"])  # type: ignore[call-overload]
    txn = str(row["txn_ref"])
    if paid_on < start:
        raise ValidationError("paid_at", "payment is dated before the loan's start date")
    if paid_at is not None and paid_at > now + FUTURE_SKEW:
        raise ValidationError("paid_at", "a confirmed payment cannot be in the future")
    lock_loan(conn, loan_id)
    stored = conn.execute(
        select(Payment.id, Payment.loan_id, Payment.paid_on, Payment.amount).where(
            Payment.external_ref == txn
        )
    ).first()
    if stored is not None:
        if (int(stored.loan_id), stored.paid_on, int(stored.amount)) != (loan_id, paid_on, amount):
            raise Conflict(
                f"transaction {txn} is already posted with a different loan, date or amount"
            )
        if accepted.fresh:
            mark_duplicate(conn, accepted)
        return PaymentPosted("duplicate", int(stored.id), loan_id, amount)
    if not accepted.fresh:  # recorded once already: its payment row is the one above
        raise Conflict(f"transaction {txn} was accepted but is not posted")
    before = situation.of_loan(conn, loan_id, today, now)[1]
    payment_id = conn.execute(
        insert(Payment)
        .values(
            external_ref=txn,
            loan_id=loan_id,
            paid_on=paid_on,
            paid_at=paid_at,
            amount=amount,
            channel=row["channel"],
            import_batch_id=None,
            created_at=now,
        )
        .returning(Payment.id)
    ).scalar_one()
    actor = f"provider:{provider}"
    audit.record(
        conn,
        action="payment.post",
        actor=actor,
        subject_type="payment",
        subject_id=str(payment_id),
        payload={
            "loan_id": loan_id,
            "transaction_id": txn,
            "amount": amount,
            "paid_on": paid_on.isoformat(),
            "channel": row["channel"],
            "source": "callback",
        },
    )
    resolved = _decide_promises(conn, loan_id, today, actor)
    changed = plan_daily.daily_update(conn, today, actor, loan_ids=[loan_id])
    after = situation.of_loan(conn, loan_id, today, now)[1]
    cured = _cured(before, after)
    cancelled = _cancel_reminders(conn, loan_id, now, actor) if cured else 0
    waiting = conn.execute(
        select(OutboxMessage.id).where(
            OutboxMessage.borrower_id == borrower_id,
            OutboxMessage.status == OutboxStatus.QUEUED.value,
        )
    ).all()
    return PaymentPosted(
        "applied",
        int(payment_id),
        loan_id,
        amount,
        resolved,
        cancelled,
        len(waiting),
        plans_completed=changed["completed"],
    )


def _cured(before: dict[str, object] | None, after: dict[str, object] | None) -> bool:
    if after is None:
        return False
    if after["status"] == "paid_off":
        return True
    was_overdue = before is not None and int(before["overdue_total"] or 0) > 0  # type: ignore[call-overload]
    return was_overdue and int(after["overdue_total"] or 0) == 0  # type: ignore[call-overload]


def _decide_promises(conn: Connection, loan_id: int, today: date, actor: str) -> int:
    """Decide the loan's promises on its payments now (the daily update's rule)."""
    policy = DEFAULT_POLICY
    recheck_from = today - timedelta(days=policy.recheck_days + policy.grace_days)
    where = promise_store.candidates_filter(today, recheck_from) & (Promise.loan_id == loan_id)
    _, found = decide(conn, where, today, policy, loan_id=loan_id)
    if found.is_empty():
        return 0
    apply_changes(conn, found, actor)
    resolved = found.filter(pl.col("change") == "resolved")
    for change in found.iter_rows(named=True):
        audit.record(
            conn,
            action="promise.resolve"
            if change["change"] == "resolved"
            else f"promise.{change['change']}",
            actor=actor,
            subject_type="promise",
            subject_id=str(change["promise_id"]),
            payload={
                "status": change["status"],
                "amount_paid": change["amount_paid"],
                "resolved_on": change["resolved_on"].isoformat()
                if change["resolved_on"] is not None
                else None,
            },
        )
    return resolved.height


def _cancel_reminders(conn: Connection, loan_id: int, now: datetime, actor: str) -> int:
    """Cancel the loan's queued collection messages (the daily run's and agents'; never
    Forbear's own service messages, nor the assistant's answers) with :data:`PAID_RULE`."""
    ids = (
        conn.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.loan_id == loan_id,
                OutboxMessage.status == OutboxStatus.QUEUED.value,
                # service messages and the assistant's answers are no reminders
                OutboxMessage.origin.not_in(
                    [OutboxOrigin.SYSTEM.value, OutboxOrigin.ASSISTANT.value]
                ),
            )
            .order_by(OutboxMessage.id)
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0
    conn.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.QUEUED.value)
        .values(
            status=OutboxStatus.CANCELLED.value,
            reason_rules=rule_ids_json([PAID_RULE]),
            updated_at=now,
        )
    )
    audit.record(
        conn,
        action="outbox.cancel",
        actor=actor,
        subject_type="loan",
        subject_id=str(loan_id),
        payload={"outbox_ids": [int(i) for i in ids], "rule": PAID_RULE},
    )
    return len(ids)
