"""Contacting a borrower from the workbench or the API, through the one gate.

:func:`contact` asks the compliance gate at the moment of contact through
:func:`forbear.services.contacts.request_contact` (the path ``forbear contact make``
uses), which records the attempt with the gate's answer and its audit event, allowed or
blocked. :func:`record` records what an allowed attempt came to, in the words a collector
uses, mapped onto the contact domain's outcomes:

================  =================  =================================================
collector says    stored outcome     also
================  =================  =================================================
right_party       connected
no_answer         no_answer
busy              busy
wrong_number      invalid_number
promise           connected          (the promise itself: the promises module, issue 6)
refusal           refused            a third party who refuses gets a hold (CN.3P.REFUSAL)
dispute           connected          a ``dispute`` hold on the loan: collection stops
hardship          connected          a ``vulnerable`` hold: careful treatment, plan first
================  =================  =================================================

Everything happens in the caller's transaction: the outcome and its hold are saved
together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from sqlalchemy import Connection, select

from forbear.domain.access import Role
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import HoldKind, Outcome
from forbear.domain.errors import NotFound
from forbear.services import contacts
from forbear.store.contacts import ContactAttempt
from forbear.web import scope
from forbear.web.sessions import Principal


class CollectorOutcome(StrEnum):
    RIGHT_PARTY = "right_party"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    PROMISE = "promise"
    REFUSAL = "refusal"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"


STORED: dict[CollectorOutcome, Outcome] = {
    CollectorOutcome.RIGHT_PARTY: Outcome.CONNECTED,
    CollectorOutcome.NO_ANSWER: Outcome.NO_ANSWER,
    CollectorOutcome.BUSY: Outcome.BUSY,
    CollectorOutcome.WRONG_NUMBER: Outcome.INVALID_NUMBER,
    CollectorOutcome.PROMISE: Outcome.CONNECTED,
    CollectorOutcome.REFUSAL: Outcome.REFUSED,
    CollectorOutcome.DISPUTE: Outcome.CONNECTED,
    CollectorOutcome.HARDSHIP: Outcome.CONNECTED,
}
HOLDS: dict[CollectorOutcome, HoldKind] = {
    CollectorOutcome.DISPUTE: HoldKind.DISPUTE,
    CollectorOutcome.HARDSHIP: HoldKind.VULNERABLE,
}


@dataclass(frozen=True)
class Contacted:
    decision: contacts.ContactDecision
    explanation: list[str]


def contact(
    conn: Connection,
    rules: CompiledRules,
    principal: Principal,
    *,
    loan_id: int,
    channel: str,
    at: datetime,
    book_date: date | None,
    lang: Literal["zh", "en"],
    contact_point_id: int | None = None,
    template_code: str | None = None,
) -> Contacted:
    """Ask the gate and record the attempt (404 outside the principal's scope). An agency
    agent contacts on behalf of its agency, so the gate applies the agency rules."""
    scope.require_loan(conn, principal, loan_id, at, book_date)
    decision = contacts.request_contact(
        conn,
        loan_id=loan_id,
        channel=channel,
        at=at,
        actor=principal.actor,
        rules=rules,
        contact_point_id=contact_point_id,
        agency_id=principal.agency_id if principal.role is Role.AGENCY_AGENT else None,
        template_code=template_code,
    )
    lines = [] if decision.allowed else explain(decision.row, rules, lang)
    return Contacted(decision=decision, explanation=lines)


@dataclass(frozen=True)
class Recorded:
    attempt_id: int
    loan_id: int
    outcome: CollectorOutcome
    stored: Outcome
    hold_id: int | None
    result: contacts.OutcomeResult

    def raise_if_conflict(self) -> None:
        """Refuse (409) a second, different outcome -- after the transaction that audited
        the refusal has committed."""
        self.result.raise_if_conflict(self.stored.value)


def attempt_loan(conn: Connection, attempt_id: int) -> int:
    loan_id = conn.execute(
        select(ContactAttempt.loan_id).where(ContactAttempt.id == attempt_id)
    ).scalar()
    if loan_id is None:
        raise NotFound("contact attempt", str(attempt_id))
    return int(loan_id)


def record(
    conn: Connection,
    principal: Principal,
    *,
    attempt_id: int,
    outcome: CollectorOutcome,
    at: datetime,
    book_date: date | None,
    loan_id: int | None = None,
) -> Recorded:
    """Record the outcome of an allowed attempt (once), and the hold it calls for. A
    repeat of the recorded outcome changes nothing (no second hold); a different one is
    audited and refused by :meth:`Recorded.raise_if_conflict` once committed."""
    owner = attempt_loan(conn, attempt_id)
    if loan_id is not None and owner != loan_id:
        raise NotFound("contact attempt", str(attempt_id))
    try:
        scope.require_loan(conn, principal, owner, at, book_date)
    except NotFound:  # said of the attempt, as for one that does not exist
        raise NotFound("contact attempt", str(attempt_id)) from None
    stored = STORED[outcome]
    result = contacts.record_outcome(conn, attempt_id, stored.value, principal.actor)
    hold_id = None
    if outcome in HOLDS and result.recorded:
        hold_id = contacts.add_hold(
            conn,
            loan_id=owner,
            kind=HOLDS[outcome].value,
            actor=principal.actor,
            since=at,
            reason=f"{outcome.value} raised in contact attempt {attempt_id}",
        )
    return Recorded(attempt_id, owner, outcome, stored, hold_id, result)
