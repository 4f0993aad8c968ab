"""Unmasking and its throttle: how many different borrowers one staff member may unmask.

Unmasking is purpose-bound and audited (:func:`forbear.services.privacy.reveal`), but an
audit trail only tells afterwards; one agent could still read the mobile numbers of the
whole book in seconds. So every staff member may unmask at most ``per_minute`` different
borrowers within a minute and ``per_day`` within a day (:data:`DEFAULT_LIMITS` by role;
``FORBEAR_UNMASK_LIMITS`` overrides them, docs/security.md). Unmasking a borrower already
counted in the window again (another field, the same field twice) is no new borrower.

:func:`admit` is called inside the unmasking's transaction, before the value is read: it
takes the user's lock (:func:`forbear.store.locks.lock`, ``LockSpace.USER``), counts,
and either records the unmasking in ``unmask_events`` (the caller then reveals the value
in the same transaction) or returns an :class:`UnmaskThrottled` after auditing
``pii.unmask_throttled`` (role, window, limit and count; no borrower). Parallel requests
of one user are serialised, so the limit holds exactly. The caller commits the refusal
and answers 429 with ``Retry-After``; the compliance console lists the throttled staff
(:func:`alerts`).

:func:`unmask` is the whole use case a front end calls: the loan in the actor's scope,
its borrower, the gate for a dialling purpose, the throttle, then
:func:`forbear.services.privacy.reveal`.

Unmasking for the purpose ``contact`` is unmasking the number to dial (issue 15, item 3),
so it follows the compliance gate: the gate is asked about a call to the debtor now
(:func:`forbear.services.contacts.gate.evaluate_contact`, nothing recorded) and, when it
would block the call (quiet hours, a cap, a hold), the number stays masked: the answer is
an :class:`UnmaskBlocked` with the gate's rule ids, audited as ``pii.unmask_blocked``
(rule ids only), and nothing counts against the throttle.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, insert, select

from forbear.domain.access import Actor, PiiField, Purpose, Role, may_unmask
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ValidationError
from forbear.services import privacy, scope
from forbear.services.contacts.gate import evaluate_contact
from forbear.settings import Settings
from forbear.store import audit, locks
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.locks import LockSpace
from forbear.store.models import Loan
from forbear.store.web import StaffUser, UnmaskEvent

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
THROTTLED = "pii.unmask_throttled"
BLOCKED = "pii.unmask_blocked"
KEEP = timedelta(days=2)  # unmask events older than this are purged ...
PURGE_EVERY = 100  # ... by every unmasking whose id is a multiple of this

# distinct borrowers per minute and per day
DEFAULT_LIMITS: dict[Role, tuple[int, int]] = {
    Role.AGENT: (10, 300),
    Role.SUPERVISOR: (10, 300),
    Role.AGENCY_AGENT: (10, 200),
    Role.COMPLIANCE_OFFICER: (10, 100),
    Role.LEGAL: (10, 200),
    Role.ADMIN: (0, 0),
}


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_day: int


def limits_for(settings: Settings, role: Role) -> Limits:
    per_minute, per_day = settings.unmask_limits.get(role.value, DEFAULT_LIMITS[role])
    return Limits(per_minute, per_day)


@dataclass(frozen=True)
class UnmaskThrottled:
    """A refused unmasking: which window is full, its limit, and when to retry."""

    window: str  # "minute" or "day"
    limit: int
    retry_after: int


def admit(
    conn: Connection,
    actor: Actor,
    *,
    borrower_id: int,
    field: str,
    purpose: str,
    limits: Limits,
    now: datetime,
) -> UnmaskThrottled | None:
    """Count this unmasking against the user's limits (module docstring); ``None`` when it
    may go ahead (and it is recorded), else the refusal (audited, nothing else written).

    A request the role may not make at all is let through here, so that
    :func:`forbear.services.privacy.reveal` refuses it with its own error (403, 404) and
    the transaction's rollback takes this row with it.
    """
    try:
        wanted = PiiField(field)
    except ValueError:
        return None
    if actor.role is None or actor.user_id is None or not may_unmask(actor.role, wanted, purpose):
        return None  # only signed-in staff are counted (the CLI's export is not an unmasking)
    user_id = actor.user_id
    locks.lock(conn, LockSpace.USER, user_id)
    # each borrower's latest unmasking by this user within the day
    latest = {
        int(b): at
        for b, at in conn.execute(
            select(UnmaskEvent.borrower_id, func.max(UnmaskEvent.at))
            .where(UnmaskEvent.user_id == user_id, UnmaskEvent.at > now - DAY)
            .group_by(UnmaskEvent.borrower_id)
        ).all()
    }
    for window, span, limit in (
        ("minute", MINUTE, limits.per_minute),
        ("day", DAY, limits.per_day),
    ):
        inside = sorted(at for b, at in latest.items() if at > now - span and b != borrower_id)
        seen = borrower_id in latest and latest[borrower_id] > now - span
        if seen or len(inside) < limit:
            continue
        # free again when enough of the borrowers counted leave the window
        free_at = inside[len(inside) - limit] + span if limit > 0 else now + span
        retry_after = max(1, int((free_at - now).total_seconds()) + 1)
        audit.record(
            conn,
            action=THROTTLED,
            actor=actor.name,
            subject_type="staff_user",
            subject_id=user_id,
            payload={
                "role": actor.role.value,
                "window": window,
                "limit": limit,
                "borrowers": len(inside),
            },
            at=now,
        )
        return UnmaskThrottled(window, limit, retry_after)
    event_id = conn.execute(
        insert(UnmaskEvent)
        .values(user_id=user_id, borrower_id=borrower_id, at=now)
        .returning(UnmaskEvent.id)
    ).scalar_one()
    if int(event_id) % PURGE_EVERY == 0:
        purge(conn, now - KEEP)
    return None


def purge(conn: Connection, before: datetime) -> int:
    """Forget unmask events older than ``before`` (the throttle looks back a day; the
    audit trail keeps every unmasking)."""
    return int(conn.execute(delete(UnmaskEvent).where(UnmaskEvent.at < before)).rowcount)


@dataclass(frozen=True)
class Alert:
    """One throttled staff member on the compliance console (no borrower data)."""

    user_id: int
    username: str
    role: str
    first_at: datetime
    last_at: datetime
    refusals: int
    windows: tuple[str, ...]
    limit: int  # the limit of the latest refusal


def alerts(conn: Connection, since: datetime) -> list[Alert]:
    """Staff refused by the throttle since ``since``, the latest first."""
    rows = conn.execute(
        select(AuditEvent.subject_id, AuditEvent.at, AuditEvent.payload)
        .where(
            AuditEvent.action == THROTTLED,
            AuditEvent.subject_type == "staff_user",
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.seq)
    ).all()
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[int(row.subject_id)].append(row)
    names = {
        int(u.id): (str(u.username), str(u.role))
        for u in conn.execute(
            select(StaffUser.id, StaffUser.username, StaffUser.role).where(
                StaffUser.id.in_(list(grouped))
            )
        ).all()
    }
    found = []
    for user_id, events in grouped.items():
        payloads = [audit_payload(e.payload) for e in events]
        username, role = names.get(user_id, (str(user_id), str(payloads[-1].get("role", ""))))
        found.append(
            Alert(
                user_id=user_id,
                username=username,
                role=role,
                first_at=events[0].at,
                last_at=events[-1].at,
                refusals=len(events),
                windows=tuple(sorted({str(p.get("window", "")) for p in payloads})),
                limit=int(payloads[-1].get("limit", 0)),
            )
        )
    return sorted(found, key=lambda a: a.last_at, reverse=True)


def audit_payload(value: str | None) -> dict[str, Any]:
    loaded = json.loads(value or "{}")
    return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class UnmaskBlocked:
    """Unmasking to dial refused because the gate would block a call now: the rule ids,
    the gate's sentences in the asker's language, the earliest allowed moment."""

    rule_ids: tuple[str, ...]
    explanation: tuple[str, ...]
    earliest_allowed_at: datetime | None


@dataclass(frozen=True)
class Unmasked:
    """One field in clear (shown once, never stored or logged)."""

    field: str
    purpose: str
    value: str


def unmask(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    loan_id: int,
    field: PiiField | str,
    purpose: Purpose | str,
    limits: Limits,
    now: datetime,
    today: date,
    rules: CompiledRules | None = None,
    lang: Literal["zh", "en"] = "zh",
) -> Unmasked | UnmaskThrottled | UnmaskBlocked:
    """One personal field of a loan's borrower in clear, for a purpose the actor's role
    allows, within the actor's unmask limits (module docstring).

    A loan outside the actor's scope is :class:`NotFound` (:mod:`forbear.services.scope`);
    a field or purpose the role may not unmask is :class:`PermissionDenied` (nothing
    recorded). A refusal by the throttle is returned (and audited): the caller commits it
    and answers 429. For the purpose ``contact`` the lender's ``rules`` in force are
    required: a call the gate would block now is an :class:`UnmaskBlocked` (audited).
    """
    if actor.role is None:
        raise ValidationError("actor", "unmasking is for signed-in staff")
    scope.require_loan(conn, actor, loan_id, now, today)
    borrower_id = int(conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one())
    if str(purpose) == Purpose.CONTACT.value and may_unmask(actor.role, _field(field), purpose):
        if rules is None:
            raise ValueError("unmasking to dial needs the rules in force")
        blocked = _gate_blocks(conn, rules, actor, loan_id, borrower_id, now, lang)
        if blocked is not None:
            return blocked
    refused = admit(
        conn,
        actor,
        borrower_id=borrower_id,
        field=str(field),
        purpose=str(purpose),
        limits=limits,
        now=now,
    )
    if refused is not None:
        return refused
    value = privacy.reveal(
        conn,
        vault,
        actor=actor.name,
        role=actor.role,
        borrower_id=borrower_id,
        field=field,
        purpose=purpose,
    )
    return Unmasked(field=str(PiiField(field).value), purpose=str(purpose), value=value)


def _field(field: PiiField | str) -> PiiField:
    try:
        return PiiField(field)
    except ValueError:
        raise ValidationError("field", "unknown field") from None


def _gate_blocks(
    conn: Connection,
    rules: CompiledRules,
    actor: Actor,
    loan_id: int,
    borrower_id: int,
    now: datetime,
    lang: Literal["zh", "en"],
) -> UnmaskBlocked | None:
    """The gate's refusal of a call to the debtor now, audited, or None when it allows."""
    decision = evaluate_contact(
        conn,
        loan_id=loan_id,
        channel=Channel.CALL.value,
        at=now,
        rules=rules,
        agency_id=actor.agency_id if actor.role is Role.AGENCY_AGENT else None,
    )
    if decision.allowed:
        return None
    audit.record(
        conn,
        action=BLOCKED,
        actor=actor.name,
        subject_type="loan",
        subject_id=loan_id,
        payload={"borrower_id": borrower_id, "blocked_by": list(decision.blocked_by)},
        at=now,
    )
    lines = explain(decision.row, rules, lang)
    if decision.earliest_allowed_at is not None:
        lines = lines[:-1]  # the last sentence says when in UTC: the page says it locally
    return UnmaskBlocked(decision.blocked_by, tuple(lines), decision.earliest_allowed_at)
