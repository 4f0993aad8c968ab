"""What an allowed contact attempt came to, recorded once (idempotent, races settled by
one conditional update), and the collector's words for it.

:func:`record_collector_outcome` is the one home of what a collector's outcome means,
whatever front end records it (the workbench, the API, the coming assistant):

================  =================  =================================================
collector says    stored outcome     also
================  =================  =================================================
right_party       connected
no_answer         no_answer
busy              busy
wrong_number      invalid_number
promise           connected          (the promise itself: :mod:`forbear.services.promises`)
refusal           refused            a third party who refuses gets a hold (CN.3P.REFUSAL)
dispute           connected          a ``dispute`` hold on the loan: collection stops
hardship          connected          a ``hardship`` hold: no written demands or automated
                                     calls; the agent may still call to agree a plan
================  =================  =================================================

Which hold an outcome places is data: ``forbear/domain/hold_policy.yaml`` (validated by
:class:`forbear.domain.holds.HoldPolicy`; an outcome it names must be a collector
outcome). What each hold kind stops, and so what it still allows, is the rule pack's
(``CN.HOLDS`` / ``US.HOLDS`` ``blocks``), which a lender may only tighten.

The outcome and its hold are saved together in the caller's transaction, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Connection, select, update

from forbear.domain.access import Actor
from forbear.domain.compliance import schema as contracts
from forbear.domain.compliance.schema import HoldKind, Outcome, Party
from forbear.domain.errors import ConfigurationError, Conflict, NotFound, ValidationError
from forbear.domain.holds import HoldPolicy, OutcomeHold, default_hold_policy
from forbear.services.contacts.common import (
    _actor,
    _insert_hold,
    _vocabulary,
)
from forbear.services.contacts.holds import add_hold
from forbear.services.scope import require_loan
from forbear.store import audit
from forbear.store.contacts import (
    ContactAttempt,
)


class OutcomeStatus(StrEnum):
    RECORDED = "recorded"  # this call set the outcome
    UNCHANGED = "unchanged"  # the same outcome was already recorded: nothing written
    CONFLICT = "conflict"  # another outcome was already recorded: refused, audited


class OutcomeConflict(Conflict):
    """A second, different outcome for an attempt (the first one stands)."""

    def __init__(self, attempt_id: int, recorded: str, refused: str) -> None:
        super().__init__(
            f"contact attempt {attempt_id} already has outcome {recorded}; "
            f"{refused} was not recorded"
        )
        self.attempt_id = attempt_id
        self.recorded = recorded
        self.refused = refused


@dataclass(frozen=True)
class OutcomeResult:
    """What :func:`record_outcome` did. A conflict is returned, not raised, so that its
    audit event commits with the caller's transaction; the caller then refuses with
    :meth:`raise_if_conflict`."""

    attempt_id: int
    status: OutcomeStatus
    outcome: Outcome  # the outcome that stands
    hold_id: int | None = None

    @property
    def recorded(self) -> bool:
        return self.status is OutcomeStatus.RECORDED

    def raise_if_conflict(self, refused: str) -> None:
        if self.status is OutcomeStatus.CONFLICT:
            raise OutcomeConflict(self.attempt_id, self.outcome.value, refused)


def record_outcome(
    conn: Connection, attempt_id: int, outcome: str, actor: str, *, now: datetime | None = None
) -> OutcomeResult:
    """What an allowed attempt came to; recorded once.

    Idempotent: the same outcome again changes nothing (``UNCHANGED``, no second audit
    event); a different one is refused and audited as ``contact.outcome_conflict``
    (``CONFLICT``). The write is one conditional ``UPDATE ... WHERE outcome IS NULL``, so of
    two parallel requests exactly one sets it. Recording never needs a new cap check: the
    attempt already counted as a possible conversation and a possible unanswered dial
    while it was pending. A third party who refuses further contact gets a hold on that
    contact point at once (CN.3P.REFUSAL), from the attempt's moment (``now``, when given,
    is when it is recorded)."""
    _actor(actor)
    result = _vocabulary(Outcome, outcome, "outcome")
    if result is Outcome.BLOCKED:
        raise ValidationError("outcome", "'blocked' is set by the gate, not recorded")
    attempt = conn.execute(
        select(
            ContactAttempt.allowed,
            ContactAttempt.party,
            ContactAttempt.borrower_id,
            ContactAttempt.contact_point_id,
            ContactAttempt.at,
        ).where(ContactAttempt.id == attempt_id)
    ).one_or_none()
    if attempt is None:
        raise NotFound("contact attempt", str(attempt_id))
    if not attempt.allowed:
        raise Conflict(f"contact attempt {attempt_id} was blocked: it has no outcome")
    won = conn.execute(
        update(ContactAttempt)
        .where(
            ContactAttempt.id == attempt_id,
            ContactAttempt.allowed.is_(True),
            ContactAttempt.outcome.is_(None),
        )
        .values(outcome=result.value)
    ).rowcount
    if won != 1:
        stood = Outcome(
            str(
                conn.execute(
                    select(ContactAttempt.outcome).where(ContactAttempt.id == attempt_id)
                ).scalar_one()
            )
        )
        if stood is result:
            return OutcomeResult(attempt_id, OutcomeStatus.UNCHANGED, stood)
        audit.record(
            conn,
            action="contact.outcome_conflict",
            actor=actor,
            subject_type="contact_attempt",
            subject_id=str(attempt_id),
            payload={"recorded": stood.value, "refused": result.value},
        )
        return OutcomeResult(attempt_id, OutcomeStatus.CONFLICT, stood)
    audit.record(
        conn,
        action="contact.outcome",
        actor=actor,
        subject_type="contact_attempt",
        subject_id=str(attempt_id),
        payload={"outcome": result.value},
    )
    hold_id = None
    if (
        result is Outcome.REFUSED
        and Party(attempt.party) in contracts.THIRD_PARTIES
        and attempt.contact_point_id is not None
    ):
        hold_id = _insert_hold(
            conn,
            borrower_id=int(attempt.borrower_id),
            loan_id=None,
            kind=HoldKind.DO_NOT_CONTACT,
            channel=None,
            contact_point_id=int(attempt.contact_point_id),
            since=attempt.at,
            reason="CN.3P.REFUSAL: the contact person refused further contact",
            actor=actor,
            now=now or attempt.at,
        )
    return OutcomeResult(attempt_id, OutcomeStatus.RECORDED, result, hold_id)


class CollectorOutcome(StrEnum):
    """What a collector says an allowed attempt came to (module docstring)."""

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


def outcome_holds(policy: HoldPolicy | None = None) -> dict[CollectorOutcome, OutcomeHold]:
    """The hold each collector outcome places (``hold_policy.yaml``), or
    :class:`ConfigurationError` for an outcome that is not a collector's word."""
    chosen = policy if policy is not None else default_hold_policy()
    out: dict[CollectorOutcome, OutcomeHold] = {}
    for name, rule in chosen.outcomes.items():
        if name not in {c.value for c in CollectorOutcome}:
            raise ConfigurationError(f"hold_policy.yaml: outcomes.{name}: not a collector outcome")
        out[CollectorOutcome(name)] = rule
    return out


# The collector outcomes that put a hold on the loan, and its kind (the shipped policy).
HOLDS: dict[CollectorOutcome, HoldKind] = {k: v.hold for k, v in outcome_holds().items()}
RECORD = "contact.make"  # the permission to record an outcome (who may contact)


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_collector_outcome` did."""

    attempt_id: int
    loan_id: int
    outcome: CollectorOutcome
    stored: Outcome
    hold_id: int | None
    result: OutcomeResult

    def raise_if_conflict(self) -> None:
        """Refuse (409) a second, different outcome -- after the transaction that audited
        the refusal has committed."""
        self.result.raise_if_conflict(self.stored.value)


def attempt_loan(conn: Connection, attempt_id: int) -> int:
    """The loan of contact attempt ``attempt_id`` (:class:`NotFound` if none)."""
    loan_id = conn.execute(
        select(ContactAttempt.loan_id).where(ContactAttempt.id == attempt_id)
    ).scalar()
    if loan_id is None:
        raise NotFound("contact attempt", str(attempt_id))
    return int(loan_id)


def record_collector_outcome(
    conn: Connection,
    actor: Actor,
    *,
    attempt_id: int,
    outcome: CollectorOutcome | str,
    now: datetime,
    today: date,
    loan_id: int | None = None,
) -> Recorded:
    """Record what an allowed attempt came to, in the collector's words (once), and the
    hold it calls for (module docstring), as ``actor`` (``contact.make``; the attempt's
    loan in its scope, else :class:`NotFound` of the attempt, as for one that does not
    exist; with ``loan_id`` the attempt must belong to it). A repeat of the recorded
    outcome changes nothing (no second hold); a different one is audited and refused by
    :meth:`Recorded.raise_if_conflict` once committed."""
    actor.require(RECORD)
    said = _vocabulary(CollectorOutcome, str(outcome), "outcome")
    owner = attempt_loan(conn, attempt_id)
    if loan_id is not None and owner != loan_id:
        raise NotFound("contact attempt", str(attempt_id))
    try:
        require_loan(conn, actor, owner, now, today)
    except NotFound:  # said of the attempt, as for one that does not exist
        raise NotFound("contact attempt", str(attempt_id)) from None
    stored = STORED[said]
    result = record_outcome(conn, attempt_id, stored.value, actor.name, now=now)
    # a third party's refusal holds that contact point only (CN.3P.REFUSAL, record_outcome)
    hold_id = result.hold_id
    places = outcome_holds().get(said)
    if places is not None and result.recorded:
        hold_id = add_hold(
            conn,
            loan_id=owner,
            kind=places.hold.value,
            all_loans=places.all_loans,
            actor=actor.name,
            since=now,
            reason=f"{said.value} raised in contact attempt {attempt_id}",
            now=now,
        )
    return Recorded(attempt_id, owner, said, stored, hold_id, result)
