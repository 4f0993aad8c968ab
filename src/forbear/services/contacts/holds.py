"""Holds put and released by a person (or a use case): audited, a typed reason sealed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, ValidationError
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
from forbear.store import audit
from forbear.store.contacts import (
    Hold,
)
from forbear.store.crypto import Contexts, PiiVault


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
