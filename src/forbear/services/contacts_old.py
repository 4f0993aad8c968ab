"""Contacts: ask the compliance gate at the moment of contact, and keep the answer.

DESIGN.md "Online paths": anything that contacts a borrower asks the gate first, and the
decision (allowed, or blocked with its rule ids) is stored with the attempt. The online
path builds a ONE-ROW ``PLANNED`` frame from the database and runs the very same
:func:`forbear.domain.compliance.gate.gate` as the daily batch, on this borrower's
history, flags and holds read by the same readers (:mod:`forbear.store.contacts`): there
is no second, hand-written online copy of a rule.

Every function works in the caller's transaction (``conn``) and never commits: the
attempt, its decision and its audit event land together or not at all (STYLE.md habit 2).
Validation happens before anything is written, so a refused request leaves no trace.

Errors: :class:`NotFound` (unknown loan, contact point, attempt, hold),
:class:`ValidationError` (a channel or kind outside the vocabulary, a contact point that
does not suit the channel), :class:`OutcomeConflict` (a second, different outcome; see
:meth:`OutcomeResult.raise_if_conflict`), and
:class:`ContactBlocked` for callers that must refuse a blocked contact
(:meth:`ContactDecision.raise_if_blocked`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Connection, insert, select, update

from forbear.domain.compliance import schema as contracts
from forbear.domain.compliance.config import (
    CompiledRules,
)
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import Channel, HoldKind, Outcome, Party
from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.store import audit
from forbear.store.contacts import (
    HISTORY_LOOKBACK,
    AccountFlags,
    AccountNotice,
    AgencyAssignment,
    ContactAttempt,
    Demand,
    Hold,
    NoticeKind,
    read_flags,
    read_history,
    read_holds,
    rule_ids_json,
)
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import lock_debtor
from forbear.store.models import Borrower, ContactKind, ContactPoint, Loan

E = TypeVar("E", bound=StrEnum)

# Which kind of contact point each channel reaches. Channels mapped to None need none
# (in-app messages and pushes reach the app); letters and visits may name an address or
# go to the address on file.
CHANNEL_POINT_KIND: dict[Channel, ContactKind | None] = {
    Channel.CALL: ContactKind.PHONE,
    Channel.AI_CALL: ContactKind.PHONE,
    Channel.SMS: ContactKind.PHONE,
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.IM: None,
    Channel.APP_PUSH: None,
    Channel.LETTER: ContactKind.ADDRESS,
    Channel.VISIT: ContactKind.ADDRESS,
}
# Channels that cannot go anywhere without a contact point: the debtor's primary one is
# taken when none is named.
NEEDS_POINT = frozenset({Channel.CALL, Channel.AI_CALL, Channel.SMS, Channel.EMAIL})


class ContactBlocked(ForbearError):
    """The gate blocked a contact. Carries rule ids and the earliest allowed time only:
    no personal data, so the message can be shown, logged and returned as a 4xx."""

    def __init__(
        self,
        rule_ids: Sequence[str],
        earliest_allowed_at: datetime | None,
        attempt_id: int | None = None,
    ) -> None:
        when = (
            f"; earliest allowed at {earliest_allowed_at.isoformat()}"
            if earliest_allowed_at is not None
            else ""
        )
        super().__init__(f"contact blocked by {', '.join(rule_ids) or 'the gate'}{when}")
        self.rule_ids = tuple(rule_ids)
        self.earliest_allowed_at = earliest_allowed_at
        self.attempt_id = attempt_id


@dataclass(frozen=True)
class ContactDecision:
    """The gate's answer for one contact; ``attempt_id`` is None when nothing was
    recorded (an explanation or a dry run). ``row`` is the decision row
    (``PLANNED`` + ``DECISION`` columns) that :func:`gate.explain` takes."""

    attempt_id: int | None
    loan_id: int
    borrower_id: int
    contact_point_id: int | None
    channel: Channel
    party: Party
    at: datetime
    allowed: bool
    blocked_by: tuple[str, ...]
    earliest_allowed_at: datetime | None
    row: dict[str, Any]

    def raise_if_blocked(self) -> None:
        if not self.allowed:
            raise ContactBlocked(self.blocked_by, self.earliest_allowed_at, self.attempt_id)


MAX_TYPED_REASON = 2000  # a hold reason typed by a person

# How far past the moment of contact the online gate reads the debtor's attempts: the rest
# of the local day in any zone (daily caps count the whole day).
ONLINE_HISTORY_AHEAD = timedelta(days=2)


def lender_rules(data_dir: Path, conn: Connection | None = None) -> CompiledRules:
    """The lender's compiled rules in force: the stored configuration (versioned and
    audited, :mod:`forbear.services.lender`), else ``<data_dir>/lender.yaml`` if present,
    else the default configuration (CN, 08:00-21:00). Every one may only tighten its pack."""
    from forbear.services.lender import rules_in_force

    return rules_in_force(conn, data_dir)


# --- the gate, online -------------------------------------------------------------------


def plan_contact(
    conn: Connection,
    *,
    loan_id: int,
    channel: str,
    at: datetime,
    contact_point_id: int | None = None,
    agency_id: int | None = None,
    discloses_debt: bool = False,
    is_demand: bool = True,
) -> pl.DataFrame:
    """The one-row ``PLANNED`` frame for this contact, from the database: the debtor, the
    contact point's party and provenance, the debtor's time zone. Validates everything;
    raises :class:`NotFound` / :class:`ValidationError` and reads nothing else."""
    medium = _channel(channel)
    moment = _utc(at, "at")
    found = conn.execute(
        select(Loan.id, Loan.borrower_id, Borrower.timezone)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.id == loan_id)
    ).one_or_none()
    if found is None:
        raise NotFound("loan", str(loan_id))
    borrower_id, zone = int(found.borrower_id), str(found.timezone)
    point = _contact_point(conn, borrower_id, medium, contact_point_id)
    if point is None:
        party, provenance, point_id = Party.DEBTOR, None, None
    else:
        party, provenance, point_id = Party(point.owner_type), str(point.provenance), int(point.id)
    row = {
        "contact_id": 0,
        "loan_id": loan_id,
        "borrower_id": borrower_id,
        "contact_point_id": point_id,
        "channel": medium.value,
        "party": party.value,
        "provenance": provenance,
        "at": moment,
        "timezone": zone,
        "agency_id": agency_id,
        "discloses_debt": discloses_debt,
        "is_demand": is_demand,
    }
    return pl.DataFrame([row], schema=contracts.PLANNED)


def decide(conn: Connection, planned: pl.DataFrame, rules: CompiledRules) -> pl.DataFrame:
    """Run the batch gate on a one-row plan, with the borrower's history before the
    contact, the account flags as known at that moment and the borrower's holds."""
    if planned.height != 1:
        raise ValueError("the online gate takes exactly one planned contact")
    borrower_id = int(planned["borrower_id"][0])
    at: datetime = planned["at"][0]
    # Every attempt of the debtor's days around ``at`` counts, also one stamped a moment
    # after ``at`` by a request that took the debtor's lock first: a cap is about the
    # day, not about the order in which two clerks' clocks were read.
    history = read_history(
        conn, before=at + ONLINE_HISTORY_AHEAD, since=at - HISTORY_LOOKBACK, borrower_id=borrower_id
    )
    flags = read_flags(conn, at=at, borrower_id=borrower_id)
    holds = read_holds(conn, borrower_id=borrower_id)
    return gate(planned.lazy(), history.lazy(), flags.lazy(), holds.lazy(), rules).collect()


def evaluate_contact(
    conn: Connection,
    *,
    loan_id: int,
    channel: str,
    at: datetime,
    rules: CompiledRules,
    contact_point_id: int | None = None,
    agency_id: int | None = None,
    discloses_debt: bool = False,
    is_demand: bool = True,
) -> ContactDecision:
    """The gate's answer for this contact, recording nothing (``forbear explain``)."""
    planned = plan_contact(
        conn,
        loan_id=loan_id,
        channel=channel,
        at=at,
        contact_point_id=contact_point_id,
        agency_id=agency_id,
        discloses_debt=discloses_debt,
        is_demand=is_demand,
    )
    return _decision(decide(conn, planned, rules), attempt_id=None)


def request_contact(
    conn: Connection,
    *,
    loan_id: int,
    channel: str,
    at: datetime,
    actor: str,
    rules: CompiledRules,
    contact_point_id: int | None = None,
    agency_id: int | None = None,
    template_code: str | None = None,
    discloses_debt: bool = False,
    is_demand: bool = True,
) -> ContactDecision:
    """Ask the gate about a contact now and store the attempt with its decision and an
    audit event (``contact.attempt`` or ``contact.blocked``) in the caller's transaction.

    A blocked request is stored as a decision (``allowed`` false, never counted as a
    contact) and returned with ``allowed=False``; callers that must refuse call
    :meth:`ContactDecision.raise_if_blocked`.

    Checking and recording are one step, serialised per debtor (DESIGN.md "Concurrency";
    CN.FREQ.CROSSPARTY counts per debtor): the debtor's lock is taken before the gate
    reads the history, and an allowed attempt counts against every cap from this moment,
    while its outcome is pending (a pending call may still be answered or not).
    """
    _actor(actor)
    lock_debtor(conn, _borrower_of(conn, loan_id))
    decision = evaluate_contact(
        conn,
        loan_id=loan_id,
        channel=channel,
        at=at,
        rules=rules,
        contact_point_id=contact_point_id,
        agency_id=agency_id,
        discloses_debt=discloses_debt,
        is_demand=is_demand,
    )
    attempt_id = conn.execute(
        insert(ContactAttempt)
        .values(
            loan_id=decision.loan_id,
            borrower_id=decision.borrower_id,
            contact_point_id=decision.contact_point_id,
            channel=decision.channel.value,
            party=decision.party.value,
            agency_id=agency_id,
            actor=actor,
            at=decision.at,
            allowed=decision.allowed,
            blocked_by=rule_ids_json(list(decision.blocked_by)),
            earliest_allowed_at=decision.earliest_allowed_at,
            outcome=None if decision.allowed else Outcome.BLOCKED.value,
            template_code=template_code,
            discloses_debt=discloses_debt,
            is_demand=is_demand,
            created_at=datetime.now(UTC),
        )
        .returning(ContactAttempt.id)
    ).scalar_one()
    audit.record(
        conn,
        action="contact.attempt" if decision.allowed else "contact.blocked",
        actor=actor,
        subject_type="contact_attempt",
        subject_id=str(attempt_id),
        payload={
            "loan_id": decision.loan_id,
            "borrower_id": decision.borrower_id,
            "contact_point_id": decision.contact_point_id,
            "channel": decision.channel.value,
            "party": decision.party.value,
            "agency_id": agency_id,
            "at": decision.at.isoformat(),
            "allowed": decision.allowed,
            "blocked_by": list(decision.blocked_by),
            "earliest_allowed_at": _iso(decision.earliest_allowed_at),
            "template_code": template_code,
        },
    )
    return _with_attempt(decision, int(attempt_id))


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


def record_outcome(conn: Connection, attempt_id: int, outcome: str, actor: str) -> OutcomeResult:
    """What an allowed attempt came to; recorded once.

    Idempotent: the same outcome again changes nothing (``UNCHANGED``, no second audit
    event); a different one is refused and audited as ``contact.outcome_conflict``
    (``CONFLICT``). The write is one conditional ``UPDATE ... WHERE outcome IS NULL``, so of
    two parallel requests exactly one sets it. Recording never needs a new cap check: the
    attempt already counted as a possible conversation and a possible unanswered dial
    while it was pending. A third party who refuses further contact gets a hold on that
    contact point at once (CN.3P.REFUSAL)."""
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
        )
    return OutcomeResult(attempt_id, OutcomeStatus.RECORDED, result, hold_id)


# --- holds ------------------------------------------------------------------------------


def add_hold(
    conn: Connection,
    *,
    loan_id: int,
    kind: str,
    actor: str,
    since: datetime,
    channel: str | None = None,
    contact_point_id: int | None = None,
    all_loans: bool = False,
    reason: str | None = None,
    typed_reason: str | None = None,
    vault: PiiVault | None = None,
) -> int:
    """Put a hold on a loan (or, ``all_loans``, every loan of its borrower) from ``since``
    until released. ``channel`` only for opt-outs (one medium); ``contact_point_id`` for a
    hold on one contact point. Returns the hold id; audited as ``hold.add``.

    ``reason`` is Forbear's own reason (a rule id or a code, stored in clear);
    ``typed_reason`` is what a person typed, stored encrypted with ``vault`` (it may hold
    anything: an illness, a phone number) and never put in the audit payload."""
    _actor(actor)
    if typed_reason is not None and vault is None:
        raise TypeError("a typed reason is encrypted at rest: pass the vault")
    typed = typed_reason.strip() if typed_reason is not None else ""
    if len(typed) > MAX_TYPED_REASON:
        raise ValidationError("reason", f"at most {MAX_TYPED_REASON} characters")
    hold_kind = _vocabulary(HoldKind, kind, "kind")
    medium = _channel(channel) if channel is not None else None
    if medium is not None and hold_kind is not HoldKind.OPT_OUT:
        raise ValidationError("channel", "only an opt-out is limited to one channel")
    borrower_id = _borrower_of(conn, loan_id)
    if contact_point_id is not None:
        _require_point(conn, borrower_id, contact_point_id)
    return _insert_hold(
        conn,
        borrower_id=borrower_id,
        loan_id=None if all_loans else loan_id,
        kind=hold_kind,
        channel=medium,
        contact_point_id=contact_point_id,
        since=_utc(since, "since"),
        reason=reason,
        actor=actor,
        reason_enc=vault.encrypt(typed, context=Contexts.HOLD_REASON)
        if typed and vault is not None
        else None,
    )


def release_hold(conn: Connection, hold_id: int, *, actor: str, at: datetime) -> None:
    """Close an open hold at ``at`` (audited as ``hold.release``)."""
    _actor(actor)
    moment = _utc(at, "at")
    hold = conn.execute(select(Hold.until, Hold.since).where(Hold.id == hold_id)).one_or_none()
    if hold is None:
        raise NotFound("hold", str(hold_id))
    if hold.until is not None:
        raise Conflict(f"hold {hold_id} is already released")
    if moment < hold.since:
        raise ValidationError("at", "a hold cannot end before it began")
    conn.execute(update(Hold).where(Hold.id == hold_id).values(until=moment))
    audit.record(
        conn,
        action="hold.release",
        actor=actor,
        subject_type="hold",
        subject_id=str(hold_id),
        payload={"until": moment.isoformat()},
    )


# --- agencies, notices, demands, flags ----------------------------------------------------


def assign_agency(
    conn: Connection, *, loan_id: int, agency_id: int, at: datetime, actor: str
) -> int:
    """Place a loan with an agency from ``at``; any open placement ends at ``at``, so no
    account is with two agencies at once (CN.AGENCY.SCOPE). The agency may work it only
    after the debtor is notified (:func:`notify_agency`, CN.AGENCY.NOTIFY_DEBTOR)."""
    _actor(actor)
    moment = _utc(at, "at")
    _borrower_of(conn, loan_id)
    conn.execute(
        update(AgencyAssignment)
        .where(AgencyAssignment.loan_id == loan_id, AgencyAssignment.to_at.is_(None))
        .values(to_at=moment)
    )
    return _insert_audited(
        conn,
        AgencyAssignment,
        {"loan_id": loan_id, "agency_id": agency_id, "from_at": moment},
        action="agency.assign",
        actor=actor,
        subject=("loan", loan_id),
        payload={"agency_id": agency_id, "from": moment.isoformat()},
    )


def notify_agency(
    conn: Connection,
    *,
    loan_id: int,
    agency_id: int,
    at: datetime,
    actor: str,
    evidence_ref: str | None = None,
) -> int:
    """Log that the debtor was told the account goes to ``agency_id``
    (CN.AGENCY.NOTIFY_DEBTOR; 银行保险机构消费者权益保护管理办法)."""
    return log_notice(
        conn,
        loan_id=loan_id,
        kind=NoticeKind.AGENCY_NOTICE,
        at=at,
        actor=actor,
        agency_id=agency_id,
        evidence_ref=evidence_ref,
    )


def log_notice(
    conn: Connection,
    *,
    loan_id: int,
    kind: str,
    at: datetime,
    actor: str,
    agency_id: int | None = None,
    evidence_ref: str | None = None,
) -> int:
    """Log a notice to the debtor: ``agency_notice`` (needs ``agency_id``),
    ``assignment`` (CN.ASSIGN.NOTICE) or ``credit_prenotice`` (CN.CREDIT.PRENOTICE)."""
    _actor(actor)
    notice = _vocabulary(NoticeKind, kind, "kind")
    if notice is NoticeKind.AGENCY_NOTICE and agency_id is None:
        raise ValidationError("agency_id", "an agency notice names the agency")
    moment = _utc(at, "at")
    _borrower_of(conn, loan_id)
    return _insert_audited(
        conn,
        AccountNotice,
        {
            "loan_id": loan_id,
            "kind": notice.value,
            "agency_id": agency_id,
            "at": moment,
            "evidence_ref": evidence_ref,
        },
        action="notice.log",
        actor=actor,
        subject=("loan", loan_id),
        payload={"kind": notice.value, "agency_id": agency_id, "at": moment.isoformat()},
    )


def log_demand(
    conn: Connection,
    *,
    loan_id: int,
    at: datetime,
    channel: str,
    evidence_ref: str,
    actor: str,
    contact_attempt_id: int | None = None,
) -> int:
    """Log a demand for payment with a reference to its proof (a recording id, a letter's
    tracking number): each demand restarts the limitation period (CN.LIMITATION;
    民法典 art. 195), so the proof must be kept."""
    _actor(actor)
    medium = _channel(channel)
    moment = _utc(at, "at")
    if not evidence_ref.strip():
        raise ValidationError("evidence_ref", "a demand needs a reference to its proof")
    _borrower_of(conn, loan_id)
    if contact_attempt_id is not None:
        owner = conn.execute(
            select(ContactAttempt.loan_id, ContactAttempt.allowed).where(
                ContactAttempt.id == contact_attempt_id
            )
        ).one_or_none()
        if owner is None:
            raise NotFound("contact attempt", str(contact_attempt_id))
        if owner.loan_id != loan_id or not owner.allowed:
            raise ValidationError(
                "contact_attempt_id", "not an allowed contact attempt on this loan"
            )
    demand_id = conn.execute(
        insert(Demand)
        .values(
            loan_id=loan_id,
            at=moment,
            channel=medium.value,
            evidence_ref=evidence_ref,
            contact_attempt_id=contact_attempt_id,
            created_by=actor,
            created_at=datetime.now(UTC),
        )
        .returning(Demand.id)
    ).scalar_one()
    audit.record(
        conn,
        action="demand.log",
        actor=actor,
        subject_type="loan",
        subject_id=str(loan_id),
        payload={"channel": medium.value, "at": moment.isoformat(), "demand_id": demand_id},
    )
    return int(demand_id)


def set_account_flags(
    conn: Connection,
    *,
    loan_id: int,
    actor: str,
    at: datetime,
    assigned_at: datetime | None = None,
    assignee_ref: str | None = None,
    debtor_unreachable_since: datetime | None = None,
) -> None:
    """Record what a human established: the debt sold/assigned (CN.ASSIGN.NOTICE), the
    debtor unreachable (CN.3P.LOST_CONTACT_GATE). Audited as ``account.flags``."""
    _actor(actor)
    _borrower_of(conn, loan_id)
    values: dict[str, Any] = {
        "assigned_at": _utc(assigned_at, "assigned_at") if assigned_at else None,
        "assignee_ref": assignee_ref,
        "debtor_unreachable_since": (
            _utc(debtor_unreachable_since, "debtor_unreachable_since")
            if debtor_unreachable_since
            else None
        ),
        "updated_at": _utc(at, "at"),
        "updated_by": actor,
    }
    exists = conn.execute(
        select(AccountFlags.loan_id).where(AccountFlags.loan_id == loan_id)
    ).one_or_none()
    if exists is None:
        conn.execute(insert(AccountFlags).values(loan_id=loan_id, **values))
    else:
        conn.execute(update(AccountFlags).where(AccountFlags.loan_id == loan_id).values(**values))
    audit.record(
        conn,
        action="account.flags",
        actor=actor,
        subject_type="loan",
        subject_id=str(loan_id),
        payload={
            "assigned_at": _iso(values["assigned_at"]),
            "debtor_unreachable_since": _iso(values["debtor_unreachable_since"]),
        },
    )


def loan_id_for_ref(conn: Connection, loan_ref: str) -> int:
    """The internal id of the loan the lender calls ``loan_ref``."""
    found = conn.execute(select(Loan.id).where(Loan.external_ref == loan_ref)).scalar_one_or_none()
    if found is None:
        raise NotFound("loan", loan_ref)
    return int(found)


# --- helpers ----------------------------------------------------------------------------


def _decision(frame: pl.DataFrame, *, attempt_id: int | None) -> ContactDecision:
    row = frame.row(0, named=True)
    blocked_by = tuple(str(rule) for rule in (row["blocked_by"] or []))
    return ContactDecision(
        attempt_id=attempt_id,
        loan_id=int(row["loan_id"]),
        borrower_id=int(row["borrower_id"]),
        contact_point_id=row["contact_point_id"],
        channel=Channel(row["channel"]),
        party=Party(row["party"]),
        at=row["at"],
        allowed=bool(row["allowed"]),
        blocked_by=blocked_by,
        earliest_allowed_at=row["earliest_allowed_at"],
        row=row,
    )


def _with_attempt(decision: ContactDecision, attempt_id: int) -> ContactDecision:
    return replace(decision, attempt_id=attempt_id)


def _insert_hold(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int | None,
    kind: HoldKind,
    channel: Channel | None,
    contact_point_id: int | None,
    since: datetime,
    reason: str | None,
    actor: str,
    reason_enc: bytes | None = None,
) -> int:
    return _insert_audited(
        conn,
        Hold,
        {
            "reason_enc": reason_enc,
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "kind": kind.value,
            "channel": channel.value if channel is not None else None,
            "contact_point_id": contact_point_id,
            "since": since,
            "reason": reason,
        },
        action="hold.add",
        actor=actor,
        subject=("hold", None),
        payload={
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "kind": kind.value,
            "channel": channel.value if channel is not None else None,
            "contact_point_id": contact_point_id,
            "since": since.isoformat(),
        },
    )


def _insert_audited(
    conn: Connection,
    model: Any,
    values: dict[str, Any],
    *,
    action: str,
    actor: str,
    subject: tuple[str, int | None],
    payload: dict[str, Any],
) -> int:
    """Insert one record (``created_by``/``created_at`` added) and its audit event in the
    caller's transaction; ``subject`` is (type, id), a None id meaning the new record."""
    new_id = conn.execute(
        insert(model)
        .values(**values, created_by=actor, created_at=datetime.now(UTC))
        .returning(model.id)
    ).scalar_one()
    kind, subject_id = subject
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type=kind,
        subject_id=str(new_id if subject_id is None else subject_id),
        payload=payload,
    )
    return int(new_id)


def _contact_point(
    conn: Connection, borrower_id: int, channel: Channel, contact_point_id: int | None
) -> Any:
    kind = CHANNEL_POINT_KIND[channel]
    columns = (ContactPoint.id, ContactPoint.kind, ContactPoint.owner_type, ContactPoint.provenance)
    if contact_point_id is None:
        if channel not in NEEDS_POINT:
            return None
        point = conn.execute(
            select(*columns)
            .where(
                ContactPoint.borrower_id == borrower_id,
                ContactPoint.owner_type == Party.DEBTOR.value,
                ContactPoint.kind == (kind.value if kind else None),
            )
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
            .limit(1)
        ).one_or_none()
        if point is None:
            raise ValidationError(
                "contact_point_id",
                f"the debtor has no {kind.value if kind else ''} contact point for {channel.value}",
            )
        return point
    point = _require_point(conn, borrower_id, contact_point_id, columns)
    if kind is None or point.kind != kind.value:
        raise ValidationError(
            "contact_point_id",
            f"contact point {contact_point_id} is a {point.kind}: {channel.value} cannot reach it",
        )
    return point


def _require_point(
    conn: Connection, borrower_id: int, contact_point_id: int, columns: Sequence[Any] = ()
) -> Any:
    point = conn.execute(
        select(ContactPoint.borrower_id, *columns).where(ContactPoint.id == contact_point_id)
    ).one_or_none()
    if point is None:
        raise NotFound("contact point", str(contact_point_id))
    if point.borrower_id != borrower_id:
        # Said without revealing whose it is.
        raise ValidationError(
            "contact_point_id", f"contact point {contact_point_id} is not on this loan's file"
        )
    return point


def _borrower_of(conn: Connection, loan_id: int) -> int:
    borrower_id = conn.execute(
        select(Loan.borrower_id).where(Loan.id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise NotFound("loan", str(loan_id))
    return int(borrower_id)


def _vocabulary(enum: type[E], value: str, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(member.value for member in enum)
        raise ValidationError(field, f"unknown value {value!r} (one of: {known})") from None


def _channel(value: str) -> Channel:
    return _vocabulary(Channel, value, "channel")


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)


def _actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def blocked_by_of(stored: str) -> list[str]:
    """``contact_attempts.blocked_by`` as a list of rule ids."""
    return [str(rule) for rule in json.loads(stored)]
