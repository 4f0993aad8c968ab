"""A borrower's own loans: what is owed and when, a payment intent, a promise to pay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, insert, select

from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import plans, promises, situation
from forbear.services.portal.common import (
    MAX_INTENT,
    _utc,
    actor_of,
)
from forbear.store import audit
from forbear.store.locks import lock_loan
from forbear.store.models import Loan
from forbear.store.portal import (
    PAYMENT_METHODS,
    PaymentIntent,
)

# ---------------------------------------------------------------------------- own loans


@dataclass(frozen=True)
class LoanSummary:
    loan_id: int
    loan_ref: str
    principal: int
    start_date: date


def loans_of(conn: Connection, borrower_id: int) -> list[LoanSummary]:
    rows = conn.execute(
        select(Loan.id, Loan.external_ref, Loan.principal, Loan.start_date)
        .where(Loan.borrower_id == borrower_id)
        .order_by(Loan.start_date, Loan.id)
    ).all()
    return [LoanSummary(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]


def own_loan(conn: Connection, borrower_id: int, loan_id: int) -> LoanSummary:
    """The borrower's loan ``loan_id``; :class:`NotFound` for anybody else's or none."""
    if isinstance(loan_id, bool) or not isinstance(loan_id, int):
        raise ValidationError("loan_id", "a loan number")
    row = conn.execute(
        select(Loan.id, Loan.external_ref, Loan.principal, Loan.start_date).where(
            Loan.id == loan_id, Loan.borrower_id == borrower_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("loan", str(loan_id))
    return LoanSummary(int(row[0]), str(row[1]), int(row[2]), row[3])


@dataclass(frozen=True)
class Owed:
    loan: LoanSummary
    as_of: date
    status: str
    dpd: int
    overdue_principal: int
    overdue_interest: int
    overdue_fee: int
    overdue_penalty: int
    overdue_total: int
    oldest_due_date: date | None
    next_due_date: date | None
    next_due_amount: int | None
    outstanding_total: int
    active_plan_id: int | None


def owed(
    conn: Connection, borrower_id: int, loan_id: int, as_of: date, at: datetime | None = None
) -> Owed:
    """What the borrower owes on their loan at the end of ``as_of``, and when: the borrower
    situation (:mod:`forbear.services.situation`, the ledger on the schedule in force:
    the plan's while a plan governs the loan), the same figures the agent's page shows.
    ``at`` is the moment the holds are judged at (default: the end of ``as_of``)."""
    loan = own_loan(conn, borrower_id, loan_id)
    if as_of < loan.start_date:
        return Owed(loan, as_of, "active", 0, 0, 0, 0, 0, 0, None, None, None, 0, None)
    moment = at if at is not None else datetime.combine(as_of, time(23, 59, 59), UTC)
    _, row = situation.of_loan(conn, loan_id, as_of, moment)
    if row is None:  # pragma: no cover - a started loan always has a row
        raise NotFound("loan", str(loan_id))
    position = plans.loan_position(conn, loan_id, as_of)
    open_plans = [
        p
        for p in plans.list_plans(conn, loan_id=loan_id)
        if p.status.value in ("accepted", "active")
    ]
    return Owed(
        loan=loan,
        as_of=as_of,
        status=str(row["status"]),
        dpd=int(row["dpd"]),
        overdue_principal=int(row["overdue_principal"]),
        overdue_interest=int(row["overdue_interest"]),
        overdue_fee=int(row["overdue_fee"]),
        overdue_penalty=int(row["overdue_penalty"]),
        overdue_total=int(row["overdue_total"]),
        oldest_due_date=row["oldest_unpaid_due_date"],
        next_due_date=row["next_due_date"],
        next_due_amount=row["next_due_amount"],
        # everything still to pay, future interest included (the position's lines)
        outstanding_total=position.total.total,
        active_plan_id=open_plans[-1].id if open_plans else None,
    )


def _amount(value: Any, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "an integer number of fen")
    if not 0 < value <= high:
        raise ValidationError(field, f"between 1 and {high} fen (got {value})")
    return value


def record_payment_intent(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    amount: int,
    method: str,
    as_of: date,
    now: datetime,
) -> int:
    """The borrower says they will pay ``amount`` fen by ``method`` (not a payment: the
    ledger learns of payments from the lender's books). At most what the loan still owes."""
    moment = _utc(now)
    if method not in PAYMENT_METHODS:
        raise ValidationError("method", f"one of {', '.join(PAYMENT_METHODS)}")
    position = owed(conn, borrower_id, loan_id, as_of)
    if position.status != "active" or position.outstanding_total <= 0:
        raise Conflict("the loan is not active: nothing to pay")
    value = _amount(amount, "amount", min(MAX_INTENT, position.outstanding_total))
    intent_id = int(
        conn.execute(
            insert(PaymentIntent)
            .values(
                borrower_id=borrower_id,
                loan_id=loan_id,
                amount=value,
                method=method,
                created_by=actor_of(borrower_id),
                created_at=moment,
            )
            .returning(PaymentIntent.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="portal.payment_intent",
        actor=actor_of(borrower_id),
        subject_type="loan",
        subject_id=loan_id,
        payload={"intent_id": intent_id, "amount": value, "method": method},
    )
    return intent_id


def make_promise(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    amount: int,
    promised_on: date,
    as_of: date,
    now: datetime,
) -> int:
    """A promise to pay, taken through the portal (``services.promises.add_promise``)."""
    own_loan(conn, borrower_id, loan_id)
    lock_loan(conn, loan_id)  # one open promise per loan (held to the transaction's end)
    _amount(amount, "amount", MAX_INTENT)
    return promises.add_promise(
        conn,
        loan_id=loan_id,
        amount=amount,
        promised_on=promised_on,
        source="portal",
        actor=actor_of(borrower_id),
        as_of=as_of,
        taken_at=_utc(now),
    )
