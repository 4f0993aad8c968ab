"""Holds put and released by a person (or a use case): audited, a typed reason sealed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import HoldKind, Party
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.holds import (
    DisputeStatus,
    Resolution,
    covers,
    default_hold_policy,
    dispute_due,
    hold_open,
    reason_source,
    releasers,
)
from forbear.services.contacts.common import (
    MAX_TYPED_REASON,
    _actor,
    _borrower_of,
    _channel,
    _insert_hold,
    _require_point,
    _utc,
    _vocabulary,
)
from forbear.store import audit, hold_cases
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.hold_cases import HoldCase


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
    now: datetime | None = None,
) -> int:
    """Put a hold on a loan (or, ``all_loans``, every loan of its borrower) from ``since``
    until released. ``channel`` only for opt-outs (one medium); ``contact_point_id`` for a
    hold on one contact point. Returns the hold id; audited as ``hold.add``.

    ``reason`` is Forbear's own reason (a rule id or a code, stored in clear);
    ``typed_reason`` is what a person typed, stored encrypted with ``vault`` (it may hold
    anything: an illness, a phone number) and never put in the audit payload. ``now`` is
    when the hold is recorded (``created_at``; ``since`` when not given)."""
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
        now=now or since,
        reason_enc=vault.encrypt(typed, context=Contexts.HOLD_REASON)
        if typed and vault is not None
        else None,
    )


def case_status(kind: str) -> DisputeStatus:
    """The status a hold's case starts in (every hold starts open)."""
    del kind
    return DisputeStatus.OPEN


def ensure_case(conn: Connection, hold_id: int, kind: str, since: datetime) -> None:
    """The hold's ``hold_cases`` row, made the first time someone works it (a dispute's
    due moment from the hold policy's clock)."""
    due = (
        dispute_due(since, default_hold_policy().disputes.answer_days)
        if kind == HoldKind.DISPUTE.value
        else None
    )
    hold_cases.ensure_case(conn, hold_id, status=case_status(kind).value, due_at=due)


def release_hold(
    conn: Connection,
    hold_id: int,
    *,
    actor: str,
    at: datetime,
    resolution: Resolution = Resolution.RELEASED,
    reason_enc: bytes | None = None,
) -> None:
    """Close an open hold at ``at`` (audited as ``hold.release``), and its case: closed
    by ``actor`` as ``resolution``, with the sealed reason ``reason_enc`` if any.

    One conditional ``UPDATE ... WHERE until IS NULL``: of two releases at once exactly one
    closes the hold, the other is a :class:`Conflict` ("already released") and changes
    nothing."""
    _actor(actor)
    moment = _utc(at, "at")
    hold = conn.execute(
        select(Hold.until, Hold.since, Hold.kind).where(Hold.id == hold_id)
    ).one_or_none()
    if hold is None:
        raise NotFound("hold", str(hold_id))
    if hold.until is not None:
        raise Conflict(f"hold {hold_id} is already released")
    if moment < hold.since:
        raise ValidationError("at", "a hold cannot end before it began")
    won = conn.execute(
        update(Hold).where(Hold.id == hold_id, Hold.until.is_(None)).values(until=moment)
    ).rowcount
    if won != 1:
        raise Conflict(f"hold {hold_id} is already released")
    ensure_case(conn, hold_id, str(hold.kind), hold.since)
    conn.execute(
        update(HoldCase)
        .where(HoldCase.hold_id == hold_id)
        .values(
            status=DisputeStatus.CLOSED.value,
            resolution=resolution.value,
            reason_enc=reason_enc,
            closed_by=actor,
            closed_at=moment,
        )
    )
    audit.record(
        conn,
        action="hold.release",
        actor=actor,
        subject_type="hold",
        subject_id=str(hold_id),
        payload={"until": moment.isoformat(), "resolution": resolution.value},
    )


# --------------------------------------------------------------------- naming the hold


def blocking_holds(
    conn: Connection, row: Mapping[str, Any], rules: CompiledRules
) -> list[dict[str, Any]]:
    """The open holds that made the pack's hold rule block the planned contact ``row`` (a
    gate decision row): the scalar twin of :mod:`forbear.domain.compliance.gate.hold_rules`
    for one contact, so that a block message names *the* hold (kind, since, reason, who
    may release it) instead of every kind a pack knows. Empty when no hold rule blocked."""
    blocked = set(row.get("blocked_by") or ())
    hold_rules = [r for r in rules.active("hold") if r.id in blocked]
    if not hold_rules:
        return []
    at = row["at"]
    found = conn.execute(
        select(
            Hold.id,
            Hold.kind,
            Hold.channel,
            Hold.contact_point_id,
            Hold.since,
            Hold.until,
            Hold.loan_id,
            Hold.reason,
        )
        .where(Hold.borrower_id == int(row["borrower_id"]))
        .order_by(Hold.since, Hold.id)
    ).all()
    out: list[dict[str, Any]] = []
    for h in found:
        if not (hold_open(h.since, h.until, at) and covers(h.loan_id, int(row["loan_id"]))):
            continue
        if h.contact_point_id is not None and h.contact_point_id != row.get("contact_point_id"):
            continue
        if h.kind == HoldKind.COMPLAINT.value and not rules.complaint_hold:
            continue
        for r in hold_rules:
            scope = r.params["blocks"].get(h.kind)
            if scope is None:
                continue
            if scope == "all":
                hit = True
            elif scope == "medium":
                hit = h.channel is None or h.channel == row["channel"]
            elif scope == "debtor":
                hit = row["party"] == Party.DEBTOR.value
            else:
                hit = row["channel"] in {str(c) for c in scope}
            if hit:
                out.append(
                    {
                        "id": int(h.id),
                        "kind": str(h.kind),
                        "since": h.since,
                        "source": reason_source(h.reason),
                        "rule": r.id,
                        "releasers": releasers(),
                    }
                )
                break
    return out


def attempt_blocking_holds(
    conn: Connection, attempt_id: int, rules: CompiledRules
) -> list[dict[str, Any]]:
    """:func:`blocking_holds` for a stored (blocked) attempt, judged at its moment: what a
    page that explains an attempt after the fact adds to its row as ``holds``."""
    found = conn.execute(
        select(
            ContactAttempt.borrower_id,
            ContactAttempt.loan_id,
            ContactAttempt.contact_point_id,
            ContactAttempt.channel,
            ContactAttempt.party,
            ContactAttempt.at,
            ContactAttempt.blocked_by,
        ).where(ContactAttempt.id == attempt_id)
    ).one_or_none()
    if found is None:
        raise NotFound("contact attempt", str(attempt_id))
    row = dict(found._mapping)
    row["blocked_by"] = json.loads(found.blocked_by or "[]")
    return blocking_holds(conn, row, rules)
