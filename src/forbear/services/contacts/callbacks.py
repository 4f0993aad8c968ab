"""Agreed callbacks (约定回电, issue 15 item 3): the borrower asks to be called back at a
time; the agent books it, and it shows up in the agent's queue when due.

Booking asks the compliance gate about a call at the agreed moment
(:func:`forbear.services.contacts.gate.evaluate_contact`, the same gate as every
contact, recording nothing): a time in quiet hours (CN.HOURS.QUIET), over a daily cap
(CN.FREQ.*) or under a hold is refused with :class:`CallbackRefused`, which carries the
gate's rule ids, its sentences in the asker's language and the earliest allowed moment.
The gate is asked again when the call is made: booking is no licence to call.

One open callback per loan: booking a new one cancels the open one (superseded), under
the debtor's lock (:func:`forbear.store.locks.lock_debtor`), so two agents booking at
once leave exactly one open. A call that goes through closes the callbacks due about now
(:func:`forbear.services.contacts.common._close_due_callbacks`); an agent may also close
one by hand (:func:`close_callback`).

Refusals of the input are :class:`ValidationError` with reason codes the web's form helper
(:mod:`forbear.web.forms`) words beside the field: ``required``, ``not_future``,
``too_far:<days>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, insert, select, update

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.services.contacts.common import _borrower_of
from forbear.services.contacts.gate import CONTACT, evaluate_contact
from forbear.services.days import book_date as book_date_on
from forbear.services.scope import require_loan, visible
from forbear.store import audit
from forbear.store.locks import lock_debtor
from forbear.store.models import Borrower, Loan
from forbear.store.workbench import Callback, CallbackStatus

MAX_AHEAD_DAYS = 30
READ = "account.view"


class CallbackRefused(ForbearError):
    """The gate would block a call at the agreed moment: rule ids, the gate's sentences
    (no personal data) and the earliest moment it would allow (None: not by waiting)."""

    def __init__(
        self,
        rule_ids: Sequence[str],
        explanation: Sequence[str],
        earliest_allowed_at: datetime | None,
    ) -> None:
        super().__init__(f"callback refused by {', '.join(rule_ids) or 'the gate'}")
        self.rule_ids = tuple(rule_ids)
        self.explanation = tuple(explanation)
        self.earliest_allowed_at = earliest_allowed_at


@dataclass(frozen=True)
class Booked:
    id: int
    due_at: datetime
    superseded: tuple[int, ...]


@dataclass(frozen=True)
class OpenCallback:
    id: int
    loan_id: int
    loan_ref: str
    agent_ref: str | None
    due_at: datetime
    zone: str  # the borrower's time zone, to show the agreed time as agreed
    created_by: str
    due: bool  # the agreed moment has come


def _zone(conn: Connection, borrower_id: int) -> str:
    return str(
        conn.execute(select(Borrower.timezone).where(Borrower.id == borrower_id)).scalar_one()
    )


def schedule_callback(
    conn: Connection,
    rules: CompiledRules,
    actor: Actor,
    *,
    loan_id: int,
    local_time: datetime | None,
    now: datetime,
    today: date,
    lang: Literal["zh", "en"],
    agent_ref: str | None = None,
    attempt_id: int | None = None,
) -> Booked:
    """Book a callback on ``loan_id`` at ``local_time`` (naive: the borrower's local time,
    as agreed on the phone) for the queue of ``agent_ref``; refused by the gate with
    :class:`CallbackRefused`. Audited as ``callback.schedule`` (and ``callback.cancel`` for
    a superseded one)."""
    actor.require(CONTACT)
    if local_time is None:
        raise ValidationError("callback_at", "required")
    require_loan(conn, actor, loan_id, now, today)
    borrower_id = _borrower_of(conn, loan_id)
    lock_debtor(conn, borrower_id)
    zone = _zone(conn, borrower_id)
    due_at = local_time.replace(tzinfo=ZoneInfo(zone)).astimezone(now.tzinfo)
    if due_at <= now:
        raise ValidationError("callback_at", "not_future")
    if due_at > now + timedelta(days=MAX_AHEAD_DAYS):
        raise ValidationError("callback_at", f"too_far:{MAX_AHEAD_DAYS}")
    decision = evaluate_contact(
        conn,
        loan_id=loan_id,
        channel=Channel.CALL.value,
        at=due_at,
        rules=rules,
        agency_id=actor.agency_id if actor.role is Role.AGENCY_AGENT else None,
    )
    if not decision.allowed:
        # the last sentence says when in UTC; the page says it in the borrower's time
        lines = explain(decision.row, rules, lang)
        if decision.earliest_allowed_at is not None:
            lines = lines[:-1]
        raise CallbackRefused(decision.blocked_by, lines, decision.earliest_allowed_at)
    superseded = tuple(
        int(i)
        for i in conn.execute(
            update(Callback)
            .where(Callback.loan_id == loan_id, Callback.status == CallbackStatus.OPEN.value)
            .values(status=CallbackStatus.CANCELLED.value, closed_at=now, closed_by=actor.name)
            .returning(Callback.id)
        ).scalars()
    )
    for old in superseded:
        audit.record(
            conn,
            action="callback.cancel",
            actor=actor.name,
            subject_type="callback",
            subject_id=old,
            payload={"loan_id": loan_id, "superseded": True},
            at=now,
        )
    callback_id = int(
        conn.execute(
            insert(Callback)
            .values(
                loan_id=loan_id,
                borrower_id=borrower_id,
                attempt_id=attempt_id,
                agent_ref=agent_ref,
                due_at=due_at,
                status=CallbackStatus.OPEN.value,
                created_by=actor.name,
                created_at=now,
            )
            .returning(Callback.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="callback.schedule",
        actor=actor.name,
        subject_type="callback",
        subject_id=callback_id,
        payload={
            "loan_id": loan_id,
            "attempt_id": attempt_id,
            "agent_ref": agent_ref,
            "due_at": due_at.isoformat(),
        },
        at=now,
    )
    return Booked(callback_id, due_at, superseded)


def close_callback(
    conn: Connection,
    actor: Actor,
    callback_id: int,
    *,
    loan_id: int,
    status: CallbackStatus | str,
    now: datetime,
    today: date,
) -> None:
    """Close an open callback of ``loan_id`` as ``done`` or ``cancelled``: the loan in the
    actor's scope first (:class:`NotFound`), then the status, then the callback of that
    loan (:class:`NotFound` for another loan's); :class:`Conflict` when it is closed
    already, also by a concurrent request (the ``status = 'open'`` condition)."""
    actor.require(CONTACT)
    require_loan(conn, actor, loan_id, now, today)
    try:
        chosen = CallbackStatus(status)
    except ValueError:
        raise ValidationError("status", "one of: done, cancelled") from None
    if chosen is CallbackStatus.OPEN:
        raise ValidationError("status", "one of: done, cancelled")
    found = conn.execute(
        select(Callback.id).where(Callback.id == callback_id, Callback.loan_id == loan_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("callback", str(callback_id))
    changed = conn.execute(
        update(Callback)
        .where(Callback.id == callback_id, Callback.status == CallbackStatus.OPEN.value)
        .values(status=chosen.value, closed_at=now, closed_by=actor.name)
    ).rowcount
    if not changed:
        raise Conflict(f"callback {callback_id} is already closed")
    audit.record(
        conn,
        action=f"callback.{chosen.value}",
        actor=actor.name,
        subject_type="callback",
        subject_id=callback_id,
        payload={"loan_id": loan_id},
        at=now,
    )


def open_callbacks(
    conn: Connection,
    actor: Actor,
    *,
    now: datetime,
    today: date,
    agent_ref: str | None = None,
    loan_id: int | None = None,
    within: timedelta = timedelta(days=1),
) -> list[OpenCallback]:
    """Open callbacks due before ``now + within`` that ``actor`` may see, earliest first:
    an agent's (``agent_ref``), or one loan's (``loan_id``, any time ahead)."""
    actor.require(READ)
    if loan_id is not None:
        require_loan(conn, actor, loan_id, now, today)
    query = (
        select(
            Callback.id,
            Callback.loan_id,
            Loan.external_ref,
            Callback.agent_ref,
            Callback.due_at,
            Callback.created_by,
            Borrower.timezone,
        )
        .join(Loan, Loan.id == Callback.loan_id)
        .join(Borrower, Borrower.id == Callback.borrower_id)
        .where(
            Callback.status == CallbackStatus.OPEN.value,
            visible(actor, now, book_date_on(conn, today) if actor.scope_buckets else None),
        )
    )
    if loan_id is not None:
        query = query.where(Callback.loan_id == loan_id)
    else:
        query = query.where(and_(Callback.agent_ref == agent_ref, Callback.due_at <= now + within))
    rows = conn.execute(query.order_by(Callback.due_at, Callback.id).limit(500)).all()
    return [
        OpenCallback(
            id=int(r.id),
            loan_id=int(r.loan_id),
            loan_ref=str(r.external_ref),
            agent_ref=r.agent_ref,
            due_at=r.due_at,
            zone=str(r.timezone),
            created_by=str(r.created_by),
            due=r.due_at <= now,
        )
        for r in rows
    ]
