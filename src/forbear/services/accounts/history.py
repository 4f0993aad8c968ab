"""What happened on an account: payments, contact attempts and the outbox's messages (the
timeline; the messages' texts are :mod:`forbear.services.outreach.correspondence`), the
repayment curve, the daily run's decisions, one contact attempt, complaints and legal
cases.

Each read takes the :class:`Actor` who reads and checks ``account.view`` and the loan's
scope itself (:func:`forbear.services.scope.require_loan`: a loan outside the scope is
:class:`NotFound`), whatever front end calls it; ``at`` is the moment (aware UTC) and
``today`` the lender's business day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from forbear.domain.access import Actor
from forbear.services.contacts import blocked_by_of
from forbear.services.scope import require_loan
from forbear.store.contacts import ContactAttempt
from forbear.store.legal import LegalCase
from forbear.store.models import Instalment, Payment
from forbear.store.runs import Decision, OutboxMessage

VIEW = "account.view"


def _check(conn: Connection, actor: Actor, loan_id: int, at: datetime, today: date) -> None:
    actor.require(VIEW)
    require_loan(conn, actor, loan_id, at, today)


@dataclass(frozen=True)
class TimelineEvent:
    kind: str  # payment | contact | message
    at: datetime | None
    on: date
    amount: int | None = None
    channel: str | None = None
    party: str | None = None
    allowed: bool | None = None
    blocked_by: tuple[str, ...] = ()
    earliest_allowed_at: datetime | None = None
    outcome: str | None = None
    attempt_id: int | None = None
    actor: str | None = None
    purpose: str | None = None  # a contact's: collect or locate (issue 17)
    # a message (issue 13): its outbox id, who queued it (run | agent | system), where it
    # is (queued ... cancelled) and the rule ids or reason of a cancellation
    message_id: int | None = None
    origin: str | None = None
    status: str | None = None
    reasons: tuple[str, ...] = ()


def timeline(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    at: datetime,
    today: date,
    zone: tzinfo,
    limit: int = 200,
) -> list[TimelineEvent]:
    """Payments, contact attempts and outbox messages of a loan, newest first (``limit``
    of each); a contact's or message's day is the one in ``zone`` (the lender's). A
    message stands at its latest moment: delivered, sent, else queued."""
    _check(conn, actor, loan_id, at, today)
    events: list[TimelineEvent] = []
    for p in conn.execute(
        select(Payment.paid_on, Payment.paid_at, Payment.amount, Payment.channel)
        .where(Payment.loan_id == loan_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(limit)
    ):
        events.append(
            TimelineEvent(
                kind="payment", at=p.paid_at, on=p.paid_on, amount=p.amount, channel=p.channel
            )
        )
    for a in conn.execute(
        select(ContactAttempt)
        .where(ContactAttempt.loan_id == loan_id)
        .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
        .limit(limit)
    ):
        events.append(
            TimelineEvent(
                kind="contact",
                at=a.at,
                on=a.at.astimezone(zone).date(),
                channel=a.channel,
                party=a.party,
                allowed=a.allowed,
                blocked_by=tuple(blocked_by_of(a.blocked_by)),
                earliest_allowed_at=a.earliest_allowed_at,
                outcome=a.outcome,
                attempt_id=a.id,
                actor=a.actor,
                purpose=a.purpose,
            )
        )
    for m in conn.execute(
        select(OutboxMessage)
        .where(OutboxMessage.loan_id == loan_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ):
        moment = m.delivered_at or m.sent_at or m.created_at
        events.append(
            TimelineEvent(
                kind="message",
                at=moment,
                on=moment.astimezone(zone).date(),
                channel=m.channel,
                actor=m.actor,
                message_id=int(m.id),
                origin=m.origin,
                status=m.status,
                reasons=tuple(blocked_by_of(m.reason_rules or "[]")),
            )
        )
    events.sort(key=lambda e: (e.on, e.at or datetime.min.replace(tzinfo=zone)), reverse=True)
    return events


def repayment_curve(
    conn: Connection, actor: Actor, loan_id: int, *, at: datetime, today: date
) -> tuple[list[date], list[int], list[int]]:
    """Due dates with cumulative amounts due and paid by each (fen), for the chart."""
    _check(conn, actor, loan_id, at, today)
    dues = conn.execute(
        select(Instalment.due_date, Instalment.principal + Instalment.interest + Instalment.fee)
        .where(Instalment.loan_id == loan_id)
        .order_by(Instalment.seq)
    ).all()
    payments = conn.execute(
        select(Payment.paid_on, Payment.amount).where(Payment.loan_id == loan_id)
    ).all()
    days, due_sum, paid_sum = [], [], []
    total = 0
    for day, amount in dues:
        total += int(amount)
        days.append(day)
        due_sum.append(total)
        paid_sum.append(sum(int(a) for d, a in payments if d <= day))
    return days, due_sum, paid_sum


def decisions_for(
    conn: Connection, actor: Actor, loan_id: int, as_of: date, *, at: datetime, today: date
) -> list[dict[str, Any]]:
    """The daily run's decisions for the loan on ``as_of``, in action order."""
    _check(conn, actor, loan_id, at, today)
    rows = conn.execute(
        select(Decision.__table__)
        .where(Decision.loan_id == loan_id, Decision.as_of == as_of)
        .order_by(Decision.action_index)
    ).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["reason_codes"] = json.loads(item["reason_codes"] or "[]")
        item["blocked_by"] = json.loads(item["blocked_by"] or "[]")
        out.append(item)
    return out


@dataclass(frozen=True)
class AttemptView:
    """One recorded contact attempt as the account page shows its gate decision."""

    id: int
    allowed: bool
    channel: str
    party: str
    blocked_by: list[str]
    earliest_allowed_at: datetime | None
    outcome: str | None
    purpose: str = "collect"  # collect or locate (issue 17)


def attempt_of(
    conn: Connection, actor: Actor, loan_id: int, attempt_id: int, *, at: datetime, today: date
) -> AttemptView | None:
    """Attempt ``attempt_id`` if it belongs to ``loan_id`` (None otherwise)."""
    _check(conn, actor, loan_id, at, today)
    a = conn.execute(
        select(ContactAttempt).where(
            ContactAttempt.id == attempt_id, ContactAttempt.loan_id == loan_id
        )
    ).one_or_none()
    if a is None:
        return None
    return AttemptView(
        id=int(a.id),
        allowed=bool(a.allowed),
        channel=str(a.channel),
        party=str(a.party),
        blocked_by=blocked_by_of(a.blocked_by),
        earliest_allowed_at=a.earliest_allowed_at,
        outcome=a.outcome,
        purpose=str(a.purpose),
    )


def complaints_and_cases(
    conn: Connection, actor: Actor, loan_id: int, *, at: datetime, today: date, as_of: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The loan's complaints with their SLA clocks on ``as_of`` (the description stays in
    the compliance console) and its legal cases with their stage, for the timeline."""
    from forbear.services.complaints import list_complaints

    _check(conn, actor, loan_id, at, today)
    complaints = list_complaints(conn, as_of=as_of, loan_ids=[loan_id]).sort(
        "received_on", descending=True
    )
    cases = conn.execute(
        select(LegalCase.id, LegalCase.stage, LegalCase.opened_on, LegalCase.stage_on)
        .where(LegalCase.loan_id == loan_id)
        .order_by(LegalCase.id.desc())
    ).all()
    return complaints.to_dicts(), [
        {"case_id": c.id, "stage": c.stage, "opened_on": c.opened_on, "stage_on": c.stage_on}
        for c in cases
    ]
