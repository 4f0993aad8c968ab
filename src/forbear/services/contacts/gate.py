"""The compliance gate, online: ask it at the moment of contact, and keep the answer.

DESIGN.md "Online paths": anything that contacts a borrower asks the gate first, and the
decision (allowed, or blocked with its rule ids) is stored with the attempt. The online
path builds a ONE-ROW ``PLANNED`` frame from the database and runs the very same
:func:`forbear.domain.compliance.gate.gate` as the daily batch, on this borrower's
history, flags and holds read by the same readers (:mod:`forbear.store.contacts`): there
is no second, hand-written online copy of a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import polars as pl
from sqlalchemy import Connection, Table, select

from forbear.domain.access import Actor, Role
from forbear.domain.compliance import schema as contracts
from forbear.domain.compliance.config import (
    CompiledRules,
)
from forbear.domain.compliance.gate import explain, gate
from forbear.domain.compliance.gate.third_party import planned_flags, purpose_of
from forbear.domain.compliance.schema import VOICE, Channel, Outcome, Party, Purpose
from forbear.domain.errors import ForbearError, NotFound, ValidationError
from forbear.services.contacts.common import (
    CHANNEL_POINT_KIND,
    NEEDS_POINT,
    _actor,
    _borrower_of,
    _channel,
    _close_due_callbacks,
    _iso,
    _require_point,
    _utc,
)
from forbear.services.contacts.holds import blocking_holds
from forbear.services.scope import require_loan
from forbear.store import audit
from forbear.store.contacts import (
    HISTORY_LOOKBACK,
    ContactAttempt,
    read_flags,
    read_history,
    read_holds,
    rule_ids_json,
)
from forbear.store.locks import lock_debtor
from forbear.store.models import Borrower, ContactPoint, Loan
from forbear.store.outreach import insert_rows


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
    purpose: Purpose = Purpose.COLLECT

    def raise_if_blocked(self) -> None:
        if not self.allowed:
            raise ContactBlocked(self.blocked_by, self.earliest_allowed_at, self.attempt_id)


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
    purpose: Purpose | str | None = None,
    template_code: str | None = None,
) -> pl.DataFrame:
    """The one-row ``PLANNED`` frame for this contact, from the database: the debtor, the
    contact point's party and provenance, the debtor's time zone. Validates everything;
    raises :class:`NotFound` / :class:`ValidationError` and reads nothing else.

    With a ``purpose`` (issue 17), ``is_demand`` and ``discloses_debt`` follow from it
    (:func:`~forbear.domain.compliance.gate.third_party.planned_flags`): ``locate`` is for a
    third party only, is no demand, and discloses nothing only with the no-disclosure
    script (:func:`no_disclosure_script`)."""
    chosen = None if purpose is None else purpose_of(purpose)
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
    if chosen is not None:
        is_demand, discloses_debt = planned_flags(
            chosen,
            party,
            discloses_debt=discloses_debt,
            no_disclosure_script=chosen is Purpose.LOCATE
            and no_disclosure_script(conn, medium, template_code),
        )
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


def no_disclosure_script(conn: Connection, channel: Channel, template_code: str | None) -> bool:
    """Whether what a location contact says is the no-disclosure script (CN.3P.NO_DISCLOSE):
    with a template, its approved version is for third parties and passes the third-party
    content check; without one, a voice call or a visit follows the location script
    (:func:`forbear.domain.scripts.locate_script`, shown to the collector), while a message
    with no template says something unknown, which counts as disclosing ("unknown is
    unsafe"). An unknown template code is refused (:class:`ValidationError`)."""
    from forbear.domain.compliance.content import check_text
    from forbear.services import templates

    if template_code is None:
        return channel in VOICE or channel is Channel.VISIT
    try:
        found = templates.approved(conn, template_code)
    except NotFound:
        raise ValidationError("template_code", f"no approved template {template_code!r}") from None
    if found.audience != "third_party":
        return False
    return not check_text(found.body, lang=found.lang, audience="third_party")


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
    purpose: Purpose | str | None = None,
    template_code: str | None = None,
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
        purpose=purpose,
        template_code=template_code,
    )
    chosen = Purpose.COLLECT if purpose is None else purpose_of(purpose)
    decision = _decision(decide(conn, planned, rules), attempt_id=None, purpose=chosen)
    if not decision.allowed:
        # a hold block names the hold itself (kind, since, reason, who may release it)
        named = blocking_holds(conn, decision.row, rules)
        if named:
            decision.row["holds"] = named
    return decision


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
    now: datetime | None = None,
    purpose: Purpose | str | None = None,
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

    ``at`` is the moment of contact; ``now`` the moment the attempt is recorded
    (``created_at``; the same as ``at`` when not given: a request is asked now).
    ``purpose`` (issue 17): ``collect`` or ``locate``; with one, the demand and disclosure
    flags follow from it (:func:`plan_contact`) and the purpose is stored with the attempt.
    """
    _actor(actor)
    if purpose is not None:
        purpose = purpose_of(purpose)  # a bad purpose is refused before anything is read
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
        purpose=purpose,
        template_code=template_code,
    )
    (attempt_id,) = record_attempts(
        conn,
        [decision],
        actor=actor,
        now=_utc(now or at, "now"),
        agency_id=agency_id,
        template_codes=[template_code],
        discloses_debt=bool(decision.row["discloses_debt"]),
        is_demand=bool(decision.row["is_demand"]),
    )
    return _with_attempt(decision, attempt_id)


# --- the gate, for a batch (the dispatcher) -----------------------------------------------


def decide_many(conn: Connection, planned: pl.DataFrame, rules: CompiledRules) -> pl.DataFrame:
    """Run the batch gate once on many planned contacts (the dispatcher's batch, at the
    moment of sending), with the history, flags and holds of their debtors read in one go.
    The caller holds the debtors' locks (:func:`lock_debtors`) so that what is counted
    cannot change before the attempts are recorded (:func:`record_attempts`). Contacts of
    one debtor in the batch count against each other's caps, as in the daily run."""
    if planned.height == 0:
        return pl.DataFrame(schema={**contracts.PLANNED, **contracts.DECISION})
    borrowers = sorted({int(b) for b in planned["borrower_id"].to_list()})
    first: datetime = planned["at"].min()  # type: ignore[assignment]
    last: datetime = planned["at"].max()  # type: ignore[assignment]
    history = read_history(
        conn,
        before=last + ONLINE_HISTORY_AHEAD,
        since=first - HISTORY_LOOKBACK,
        borrower_ids=borrowers,
    )
    flags = read_flags(conn, at=last, borrower_ids=borrowers)
    holds = read_holds(conn, borrower_ids=borrowers)
    return gate(planned.lazy(), history.lazy(), flags.lazy(), holds.lazy(), rules).collect()


def lock_debtors(conn: Connection, borrower_ids: Sequence[int]) -> None:
    """Take the locks of many debtors, in ascending order (two batches never wait for
    each other in a circle; a single request takes one lock)."""
    for borrower_id in sorted({int(b) for b in borrower_ids}):
        lock_debtor(conn, borrower_id)


def decisions_of(frame: pl.DataFrame) -> list[ContactDecision]:
    """The gate's answers of :func:`decide_many`, in the frame's order (its rows read in
    one pass, not a one-row frame each)."""
    return [_decision_of_row(row, attempt_id=None) for row in frame.iter_rows(named=True)]


_ATTEMPTS = cast(Table, ContactAttempt.__table__)


def record_attempts(
    conn: Connection,
    decisions: Sequence[ContactDecision],
    *,
    actor: str,
    now: datetime,
    agency_id: int | None = None,
    template_codes: Sequence[str | None] | None = None,
    discloses_debt: bool = False,
    is_demand: bool = True,
) -> list[int]:
    """Store each decision as a contact attempt with its audit event (``contact.attempt``
    or ``contact.blocked``), as :func:`request_contact` does for one; returns the attempt
    ids in order. The caller holds the debtors' locks since it asked the gate. An allowed
    attempt counts against every cap from now on, while its outcome is pending."""
    _actor(actor)
    codes = list(template_codes) if template_codes is not None else [None] * len(decisions)
    if len(codes) != len(decisions):
        raise ValueError("one template code per decision")
    if not decisions:
        return []
    rows = [
        {
            "loan_id": d.loan_id,
            "borrower_id": d.borrower_id,
            "contact_point_id": d.contact_point_id,
            "channel": d.channel.value,
            "party": d.party.value,
            "agency_id": agency_id,
            "actor": actor,
            "at": d.at,
            "allowed": d.allowed,
            "blocked_by": rule_ids_json(list(d.blocked_by)),
            "earliest_allowed_at": d.earliest_allowed_at,
            "outcome": None if d.allowed else Outcome.BLOCKED.value,
            "template_code": code,
            "discloses_debt": discloses_debt,
            "is_demand": is_demand,
            "purpose": d.purpose.value,
            "created_at": now,
        }
        for d, code in zip(decisions, codes, strict=True)
    ]
    # one statement of one array per column on PostgreSQL (its text the same for every
    # batch size, so prepared once); a multi-row insert elsewhere
    ids = insert_rows(conn, _ATTEMPTS, rows, returning_ids=True)
    audit.record_many(
        conn,
        [
            audit.Entry(
                "contact.attempt" if d.allowed else "contact.blocked",
                actor,
                "contact_attempt",
                str(attempt_id),
                {
                    "loan_id": d.loan_id,
                    "borrower_id": d.borrower_id,
                    "contact_point_id": d.contact_point_id,
                    "channel": d.channel.value,
                    "party": d.party.value,
                    "agency_id": agency_id,
                    "at": d.at.isoformat(),
                    "allowed": d.allowed,
                    "blocked_by": list(d.blocked_by),
                    "earliest_allowed_at": _iso(d.earliest_allowed_at),
                    "template_code": code,
                    "purpose": d.purpose.value,
                },
                None,
            )
            for d, code, attempt_id in zip(decisions, codes, ids, strict=True)
        ],
    )
    return ids


CONTACT = "contact.make"  # the permission to contact a borrower


@dataclass(frozen=True)
class Contacted:
    """The gate's answer for a contact a staff member asked for, with the explanation of
    a block in the asker's language (empty when allowed)."""

    decision: ContactDecision
    explanation: list[str]


def contact(
    conn: Connection,
    rules: CompiledRules,
    actor: Actor,
    *,
    loan_id: int,
    channel: str,
    now: datetime,
    today: date,
    lang: Literal["zh", "en"],
    contact_point_id: int | None = None,
    template_code: str | None = None,
    purpose: Purpose | str | None = None,
) -> Contacted:
    """A staff member contacts a borrower now: ``contact.make``, the loan in ``actor``'s
    scope (:class:`NotFound` otherwise), then :func:`request_contact` (the gate asked and
    the attempt recorded, allowed or blocked). An agency agent contacts on behalf of its
    agency, so the gate applies the agency rules. ``purpose``: ``collect`` (the default)
    or ``locate`` (issue 17). Every answer is explained, allowed or not: an allowed
    location contact says which rules let it through and what may be said."""
    actor.require(CONTACT)
    chosen = purpose_of(purpose)
    require_loan(conn, actor, loan_id, now, today)
    decision = request_contact(
        conn,
        loan_id=loan_id,
        channel=channel,
        at=now,
        actor=actor.name,
        rules=rules,
        contact_point_id=contact_point_id,
        agency_id=actor.agency_id if actor.role is Role.AGENCY_AGENT else None,
        template_code=template_code,
        now=now,
        purpose=chosen,
    )
    if decision.allowed and decision.channel is Channel.CALL and decision.attempt_id is not None:
        _close_due_callbacks(
            conn, loan_id=loan_id, attempt_id=decision.attempt_id, actor=actor.name, now=now
        )
    return Contacted(decision=decision, explanation=explain(decision.row, rules, lang))


def _decision(
    frame: pl.DataFrame, *, attempt_id: int | None, purpose: Purpose = Purpose.COLLECT
) -> ContactDecision:
    return _decision_of_row(frame.row(0, named=True), attempt_id=attempt_id, purpose=purpose)


def _decision_of_row(
    row: dict[str, Any], *, attempt_id: int | None, purpose: Purpose = Purpose.COLLECT
) -> ContactDecision:
    row["purpose"] = purpose.value
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
        purpose=purpose,
    )


def _with_attempt(decision: ContactDecision, attempt_id: int) -> ContactDecision:
    return replace(decision, attempt_id=attempt_id)


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
