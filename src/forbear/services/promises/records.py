"""Taking, cancelling and listing promises to pay (the package docstring has the rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from forbear.domain import promises as rules
from forbear.domain.compliance.schema import Outcome, Party
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.ledger import account_states, products_frame
from forbear.domain.promises import (
    DEFAULT_POLICY,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)
from forbear.services.promises.common import audit_one as _audit_one
from forbear.services.promises.common import check_actor as _actor
from forbear.services.promises.common import utc as _utc
from forbear.services.promises.deciding import apply_changes, decide
from forbear.store import bulk
from forbear.store import promises as store
from forbear.store.contacts import ContactAttempt, read_holds
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import lock_loan
from forbear.store.models import Loan, LoanStatus
from forbear.store.promises import Promise

# Sources that come from a conversation, so may name the contact attempt.
CONVERSATIONAL = frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT})
# Outcomes of an attempt in which nobody could have promised anything.
NO_CONVERSATION = frozenset(
    {
        Outcome.NO_ANSWER,
        Outcome.BUSY,
        Outcome.INVALID_NUMBER,
        Outcome.REFUSED,
        Outcome.FAILED,
        Outcome.BLOCKED,
    }
)
PAYERS = frozenset({Party.DEBTOR, Party.GUARANTOR})


# --- taking and cancelling ---------------------------------------------------------------


def add_promise(
    conn: Connection,
    *,
    loan_id: int,
    amount: int,
    promised_on: date,
    source: str,
    actor: str,
    as_of: date,
    contact_attempt_id: int | None = None,
    replace: bool = False,
    taken_at: datetime | None = None,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> int:
    """Record a promise to pay ``amount`` fen on loan ``loan_id`` by ``promised_on``, taken
    on business date ``as_of`` (at ``taken_at``; without one, the start of ``as_of`` UTC)
    by ``actor`` through ``source``. Returns the promise id; audited as ``promise.add``
    (and ``promise.cancel`` for a promise it replaces)."""
    _actor(actor)
    kind = rules.check_terms(
        amount=amount, promised_on=promised_on, as_of=as_of, source=source, policy=policy
    )
    # No clock here: the front end passes its moment; a caller with only a business day
    # (a batch, a test) records the promise at that day's start, UTC.
    moment = _utc(
        taken_at if taken_at is not None else datetime.combine(as_of, time(0), UTC), "taken_at"
    )
    borrower_id = conn.execute(
        select(Loan.borrower_id).where(Loan.id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise NotFound("loan", str(loan_id))
    lock_loan(conn, loan_id)  # one open promise per loan: the check and insert, serialised
    if contact_attempt_id is not None:
        _check_attempt(conn, contact_attempt_id, loan_id, kind)
    today = _loan_state(conn, loan_id, as_of)
    if today is None:
        raise ValidationError("as_of", "the loan had not started on this business date")
    if today["status"] == LoanStatus.PAID_OFF.value:
        raise Conflict("the loan is paid off: there is nothing left to promise")
    if today["status"] == LoanStatus.WRITTEN_OFF.value:
        raise Conflict("the loan is written off: promises are not taken on it")
    by_then = _loan_state(conn, loan_id, promised_on, payments_up_to=as_of) or today
    rules.check_amount_owed(amount, rules.most_owed(by_then))
    hold = rules.refusing_hold(
        read_holds(conn, borrower_id=int(borrower_id)), loan_id=loan_id, source=kind, at=moment
    )
    if hold is not None:
        raise Conflict(
            f"a {hold} hold is open on this loan: a promise cannot be taken from {kind.value}"
        )
    replaced = _clear_open(conn, loan_id, as_of=as_of, actor=actor, replace=replace, policy=policy)
    try:
        promise_id = int(
            conn.execute(
                insert(Promise)
                .values(
                    loan_id=loan_id,
                    borrower_id=int(borrower_id),
                    amount=amount,
                    promised_on=promised_on,
                    source=kind.value,
                    status=PromiseStatus.OPEN.value,
                    taken_by=actor,
                    taken_at=moment,
                    taken_on=as_of,
                    contact_attempt_id=contact_attempt_id,
                    replaces_id=replaced,
                    amount_paid=0,
                    created_at=moment,
                    updated_at=moment,
                )
                .returning(Promise.id)
            ).scalar_one()
        )
    except IntegrityError as exc:  # another promise was taken on this loan meanwhile
        if "uq_promises_open_loan_id" in str(exc) or "promises.loan_id" in str(exc):
            raise Conflict("another promise was just recorded on this loan") from None
        raise
    if replaced is not None:
        _audit_one(
            conn,
            "promise.cancel",
            actor,
            replaced,
            {"reason": "superseded", "replaced_by": promise_id, "resolved_on": as_of.isoformat()},
        )
    _audit_one(
        conn,
        "promise.add",
        actor,
        promise_id,
        {
            "loan_id": loan_id,
            "amount": amount,
            "promised_on": promised_on.isoformat(),
            "source": kind.value,
            "taken_on": as_of.isoformat(),
            "contact_attempt_id": contact_attempt_id,
            "replaces": replaced,
        },
    )
    return promise_id


def cancel_promise(
    conn: Connection,
    promise_id: int,
    *,
    actor: str,
    as_of: date,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> None:
    """Withdraw an open promise (the borrower takes it back, it was recorded by mistake).
    ``reason`` is short free text a person typed: stored encrypted with ``vault`` (required
    with a reason), the clear ``cancel_reason`` keeps the code ``cancelled``; audited as
    ``promise.cancel``."""
    _actor(actor)
    if reason is not None and reason.strip() and vault is None:
        raise TypeError("a typed reason is encrypted at rest: pass the vault")
    if reason is not None and len(reason) > 200:
        raise ValidationError("reason", "at most 200 characters")
    found = conn.execute(
        select(Promise.status, Promise.taken_on).where(Promise.id == promise_id)
    ).one_or_none()
    if found is None:
        raise NotFound("promise", str(promise_id))
    if found.status != PromiseStatus.OPEN.value:
        raise Conflict(f"promise {promise_id} is {found.status}: only an open promise is cancelled")
    if as_of < found.taken_on:
        raise ValidationError("as_of", "before the promise was taken")
    conn.execute(
        update(Promise)
        .where(Promise.id == promise_id)
        .values(
            status=PromiseStatus.CANCELLED.value,
            resolved_on=as_of,
            resolved_by=actor,
            cancel_reason="cancelled",
            cancel_reason_enc=vault.encrypt(reason.strip(), context=Contexts.PROMISE_CANCEL_REASON)
            if reason and reason.strip() and vault is not None
            else None,
        )
    )
    # The typed reason stays in the table, encrypted: the trail holds ids and codes only.
    _audit_one(conn, "promise.cancel", actor, promise_id, {"resolved_on": as_of.isoformat()})


# --- reading -------------------------------------------------------------------------------

LISTED: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_ref": pl.String(),
    "source": pl.String(),
    "amount": pl.Int64(),
    "amount_paid": pl.Int64(),
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
    "status": pl.String(),
    "resolved_on": pl.Date(),
    "taken_by": pl.String(),
    "replaces_id": pl.Int64(),
}


def list_promises(
    conn: Connection,
    *,
    loan_id: int | None = None,
    status: str | None = None,
    as_of: date | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Promises newest first (``LISTED``), optionally of one loan, in one status, or taken
    on or before ``as_of``. No personal data: the loan is named by the lender's reference."""
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    stmt = (
        select(
            Promise.id.label("promise_id"),
            Loan.external_ref.label("loan_ref"),
            Promise.source,
            Promise.amount,
            Promise.amount_paid,
            Promise.taken_on,
            Promise.promised_on,
            Promise.status,
            Promise.resolved_on,
            Promise.taken_by,
            Promise.replaces_id,
        )
        .join(Loan, Loan.id == Promise.loan_id)
        .order_by(Promise.id.desc())
        .limit(limit)
    )
    if loan_id is not None:
        stmt = stmt.where(Promise.loan_id == loan_id)
    if status is not None:
        stmt = stmt.where(Promise.status == rules.promise_status(status).value)
    if as_of is not None:
        stmt = stmt.where(Promise.taken_on <= as_of)
    return bulk.read_frame(conn, stmt, LISTED)


def _clear_open(
    conn: Connection,
    loan_id: int,
    *,
    as_of: date,
    actor: str,
    replace: bool,
    policy: PromisePolicy,
) -> int | None:
    """Make way for a new promise on ``loan_id``: decide its open promise on today's
    payments first (audited ``promise.resolve`` if that settles it); if it is still open,
    refuse, or cancel it when ``replace``. Returns the id of the promise replaced."""
    open_one = conn.execute(
        select(Promise.id, Promise.promised_on, Promise.taken_on).where(
            Promise.loan_id == loan_id, Promise.status == PromiseStatus.OPEN.value
        )
    ).one_or_none()
    if open_one is None:
        return None
    _, found = decide(conn, Promise.id == open_one.id, as_of, policy)
    settled = found.filter(pl.col("change") == "resolved")
    if settled.height:
        apply_changes(conn, settled, actor)
        row = settled.row(0, named=True)
        _audit_one(
            conn,
            "promise.resolve",
            actor,
            int(open_one.id),
            {
                "status": row["status"],
                "amount_paid": row["amount_paid"],
                "resolved_on": row["resolved_on"].isoformat(),
            },
        )
        return None
    if not replace:
        raise Conflict(
            f"the loan already has open promise {open_one.id} "
            f"(promised for {open_one.promised_on.isoformat()}): cancel it, or replace it"
        )
    if as_of < open_one.taken_on:
        raise ValidationError("as_of", "before the open promise it would replace was taken")
    conn.execute(
        update(Promise)
        .where(Promise.id == open_one.id)
        .values(
            status=PromiseStatus.CANCELLED.value,
            resolved_on=as_of,
            resolved_by=actor,
            cancel_reason="superseded",
        )
    )
    return int(open_one.id)


def _check_attempt(conn: Connection, attempt_id: int, loan_id: int, source: PromiseSource) -> None:
    if source not in CONVERSATIONAL:
        raise ValidationError(
            "contact_attempt_id", f"a promise from {source.value} comes from no contact attempt"
        )
    attempt = conn.execute(
        select(
            ContactAttempt.loan_id,
            ContactAttempt.allowed,
            ContactAttempt.outcome,
            ContactAttempt.party,
        ).where(ContactAttempt.id == attempt_id)
    ).one_or_none()
    if attempt is None:
        raise NotFound("contact attempt", str(attempt_id))
    if attempt.loan_id != loan_id:
        raise ValidationError("contact_attempt_id", "not a contact attempt on this loan")
    if not attempt.allowed:
        raise ValidationError(
            "contact_attempt_id", "the gate blocked that attempt: no contact took place"
        )
    if attempt.outcome is not None and Outcome(attempt.outcome) in NO_CONVERSATION:
        raise ValidationError(
            "contact_attempt_id", f"that attempt came to {attempt.outcome}: nobody promised"
        )
    if Party(attempt.party) not in PAYERS:
        raise ValidationError(
            "contact_attempt_id",
            "that attempt reached a third party: only the debtor or a guarantor promises to "
            "pay (CN.3P.NO_UNRELATED)",
        )


def _loan_state(
    conn: Connection, loan_id: int, day: date, *, payments_up_to: date | None = None
) -> dict[str, Any] | None:
    """The ledger state of one loan on ``day`` (``STATES`` row), computed for that loan
    alone by the same ledger the batch runs; None before the loan starts."""
    loans, payments = store.read_loan_book(conn, loan_id, payments_up_to or day)
    instalments = bulk.read_instalments(conn, [loan_id])
    products = products_frame(bulk.read_products_terms(conn))
    states = account_states(
        loans.lazy(), products.lazy(), instalments.lazy(), payments.lazy(), day
    ).states.collect()
    return states.row(0, named=True) if states.height else None
