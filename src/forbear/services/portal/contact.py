"""The borrower and contact: a dispute, an opt-out of one channel, their own contact history,
their rights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import contacts
from forbear.services.holds import covering, open_at
from forbear.services.portal.common import (
    DISPUTE_REASONS,
    OPT_OUT_CHANNELS,
    _utc,
    actor_of,
)
from forbear.services.portal.loans import (
    loans_of,
    own_loan,
)
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.models import Loan

# ---------------------------------------------------------------------------- contact


def dispute(conn: Connection, *, borrower_id: int, loan_id: int, reason: str, now: datetime) -> int:
    """The borrower disputes the debt: a ``dispute`` hold on the loan (collection of the
    loan stops until staff resolve it). ``reason`` is a code of :data:`DISPUTE_REASONS`."""
    own_loan(conn, borrower_id, loan_id)
    if reason not in DISPUTE_REASONS:
        raise ValidationError("reason", f"one of {', '.join(DISPUTE_REASONS)}")
    open_dispute = conn.execute(
        select(Hold.id).where(
            Hold.kind == HoldKind.DISPUTE.value,
            covering(borrower_id, loan_id),
            open_at(_utc(now)),
        )
    ).first()
    if open_dispute is not None:
        raise Conflict("this loan is already disputed: staff are checking it")
    return contacts.add_hold(
        conn,
        loan_id=loan_id,
        kind=HoldKind.DISPUTE.value,
        actor=actor_of(borrower_id),
        since=_utc(now),
        reason=f"portal dispute: {reason}",
    )


def opt_out(conn: Connection, *, borrower_id: int, channel: str, now: datetime) -> int:
    """Stop one channel for every loan of the borrower (an ``opt_out`` hold)."""
    allowed = [c.value for c in OPT_OUT_CHANNELS]
    if channel not in allowed:
        raise ValidationError("channel", f"one of {', '.join(allowed)}")
    loans = loans_of(conn, borrower_id)
    if not loans:
        raise NotFound("borrower", str(borrower_id))
    if channel in opted_out(conn, borrower_id, at=_utc(now)):
        raise Conflict(f"the {channel} channel is already stopped")
    return contacts.add_hold(
        conn,
        loan_id=loans[0].loan_id,
        kind=HoldKind.OPT_OUT.value,
        actor=actor_of(borrower_id),
        since=_utc(now),
        channel=channel,
        all_loans=True,
        reason="portal opt-out",
    )


def opted_out(conn: Connection, borrower_id: int, *, at: datetime | None = None) -> list[str]:
    """The channels the borrower has stopped (opt-out holds open at ``at``; without
    ``at``, every opt-out not yet lifted, a future one included)."""
    still = open_at(at) if at is not None else Hold.until.is_(None)
    rows = conn.execute(
        select(Hold.channel)
        .where(
            Hold.borrower_id == borrower_id,
            Hold.kind == HoldKind.OPT_OUT.value,
            still,
            Hold.channel.is_not(None),
        )
        .distinct()
    ).scalars()
    return sorted(str(c) for c in rows)


@dataclass(frozen=True)
class ContactEntry:
    at: datetime
    loan_ref: str
    channel: str
    outcome: str | None


def contact_history(conn: Connection, borrower_id: int, *, limit: int = 100) -> list[ContactEntry]:
    """The contacts the borrower received (allowed attempts only; a blocked one never
    reached them), newest first; never who made them."""
    rows = conn.execute(
        select(ContactAttempt.at, Loan.external_ref, ContactAttempt.channel, ContactAttempt.outcome)
        .join(Loan, Loan.id == ContactAttempt.loan_id)
        .where(ContactAttempt.borrower_id == borrower_id, ContactAttempt.allowed.is_(True))
        .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
        .limit(limit)
    ).all()
    return [ContactEntry(r[0], str(r[1]), str(r[2]), r[3]) for r in rows]


@dataclass(frozen=True)
class Rights:
    hotline: str
    contact_windows: list[str]
    complaint_days: int


def rights(rules: CompiledRules) -> Rights:
    """The borrower's rights from the rules in force: the lender's contact hours."""
    windows = [
        str(w)
        for r in rules.rules
        if r.enabled and r.id.endswith("HOURS.QUIET")
        for w in r.params.get("windows", [])
    ]
    return Rights(hotline="12378", contact_windows=windows, complaint_days=15)
