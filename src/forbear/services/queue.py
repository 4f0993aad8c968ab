"""The work queue an agent works: the latest completed daily run's, checked against the
borrower situation at the moment of reading.

The daily run decides the day's work from the book as it stood in the morning. A use case
may change the facts during the day (a plan accepted in the portal, a payment posted, a
hold placed, a promise taken): the account then no longer needs the work the run gave it.
:func:`work_queue` reads the situation of the queued borrowers live
(:func:`forbear.services.situation.of_borrowers`) and sets such a row aside with the
reason (:func:`settled_reason`), so no agent is sent to demand money the borrower was just
told they do not owe. The figures shown are the live ones, the same as the account page
and the portal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, select

from forbear.domain.access import Actor, Role
from forbear.domain.strategy.schema import PLAN_SEGMENT
from forbear.services import situation
from forbear.services.accounts.views import masked_name
from forbear.services.days import book_date, queue_date
from forbear.services.scope import visible
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.models import AccountState, Borrower, Loan
from forbear.store.runs import Decision, WorkQueueItem

VIEW = "account.view"
MAX_ITEMS = 2_000


class Settled(StrEnum):
    """Why a queued account no longer needs the day's work."""

    CLOSED = "closed"  # the loan is no longer active (paid off, written off)
    DISPUTE = "dispute"  # a dispute hold: collection stops
    HOLD = "hold"  # another hold that stops work
    PLAN = "plan"  # a repayment plan now governs the loan
    PROMISE = "promise"  # a promise to pay is now active
    PAID = "paid"  # nothing is overdue any more


def settled_reason(
    segment: str | None, queued_overdue: int | None, live: Mapping[str, Any] | None
) -> Settled | None:
    """Why a row queued by the run (its decision's ``segment``, the overdue amount the run
    saw) no longer needs work given the loan's live situation row, or None when it still
    does. Work the run gave *because* of a plan or promise (the built-in plan segment:
    reminders before the next instalment) stays."""
    if live is None:
        return None
    if live["status"] != "active":
        return Settled.CLOSED
    if live["disputed"]:
        return Settled.DISPUTE
    if live["hold_any"]:
        return Settled.HOLD
    if segment != PLAN_SEGMENT:
        if live["active_plan"]:
            return Settled.PLAN
        if live["active_promise"]:
            return Settled.PROMISE
    if (queued_overdue or 0) > 0 and not live["overdue_total"]:
        return Settled.PAID
    return None


@dataclass(frozen=True)
class QueueItem:
    rank: int
    agent_id: str
    team_id: str | None
    loan_id: int
    loan_ref: str
    borrower_name: str | None
    channel: str
    template: str | None
    carried: bool
    bucket: str | None
    dpd: int | None
    overdue_total: int | None
    settled: Settled | None = None  # set: the account no longer needs this work
    worked: bool = False  # contacted (or tried: the gate asked) since the day began
    last_outcome: str | None = None  # the latest attempt's outcome, "pending" or "blocked"
    last_contact_at: datetime | None = None


@dataclass(frozen=True)
class WorkQueue:
    as_of: date | None  # the run's business date (None: no completed run up to today)
    items: list[QueueItem]  # still due, by agent and rank
    settled: list[QueueItem]  # set aside since the run, with the reason


def work_queue(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    at: datetime,
    today: date,
    agent_ref: str | None = None,
    team_id: str | None = None,
    agent: str | None = None,
    zone: str = "Asia/Shanghai",
) -> WorkQueue:
    """The queue of the latest completed run up to ``today`` that ``actor`` works or
    oversees, by agent and rank.

    Agents (and agency agents) see the items of their own agent id ``agent_ref`` (none
    without one); a supervisor sees its team's (``team_id``; ``agent`` narrows it to one
    agent); the other roles see every item within their scope. Rows whose account no
    longer needs the work (:func:`settled_reason`) come back in ``settled``. Each item says
    whether it was worked today (an attempt since midnight of ``today`` in the lender's
    ``zone``) and what its latest attempt came to (:func:`last_attempts`)."""
    actor.require(VIEW)
    day = queue_date(conn, today)
    if day is None:
        return WorkQueue(None, [], [])
    q = WorkQueueItem
    state = AccountState
    query = (
        select(
            q.rank,
            q.agent_id,
            q.team_id,
            q.loan_id,
            q.borrower_id,
            Loan.external_ref,
            Borrower.name_enc,
            q.channel,
            q.template,
            q.carried,
            state.bucket,
            state.dpd,
            state.overdue_total,
            Decision.segment,
        )
        .join(Loan, Loan.id == q.loan_id)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .outerjoin(state, and_(state.loan_id == q.loan_id, state.as_of == q.as_of))
        .outerjoin(
            Decision,
            and_(
                Decision.as_of == q.as_of,
                Decision.loan_id == q.loan_id,
                Decision.action_index == q.action_index,
            ),
        )
        .where(q.as_of == day, visible(actor, at, day))
    )
    if actor.role in (Role.AGENT, Role.AGENCY_AGENT):
        if agent_ref is None and actor.role is Role.AGENT:
            return WorkQueue(day, [], [])
        if agent_ref is not None:
            query = query.where(q.agent_id == agent_ref)
    elif actor.role is Role.SUPERVISOR and team_id is not None:
        query = query.where(q.team_id == team_id)
    if agent is not None:
        query = query.where(q.agent_id == agent)
    rows = conn.execute(query.order_by(q.agent_id, q.rank).limit(MAX_ITEMS)).all()
    live = _live(conn, [int(r.borrower_id) for r in rows], today, at)
    latest = last_attempts(conn, [int(r.loan_id) for r in rows])
    day_start = datetime.combine(today, time(0), ZoneInfo(zone))
    items: list[QueueItem] = []
    settled: list[QueueItem] = []
    for r in rows:
        now = live.get(int(r.loan_id))
        item = QueueItem(
            rank=r.rank,
            agent_id=r.agent_id,
            team_id=r.team_id,
            loan_id=r.loan_id,
            loan_ref=r.external_ref,
            borrower_name=masked_name(vault, actor, r.name_enc),
            channel=r.channel,
            template=r.template,
            carried=r.carried,
            bucket=r.bucket if now is None else now["bucket"],
            dpd=r.dpd if now is None else now["dpd"],
            overdue_total=r.overdue_total if now is None else now["overdue_total"],
        )
        last = latest.get(int(r.loan_id))
        if last is not None:
            item = replace(
                item,
                worked=last.at >= day_start,
                last_outcome=last.outcome,
                last_contact_at=last.at,
            )
        reason = settled_reason(r.segment, r.overdue_total, now)
        if reason is None:
            items.append(item)
        else:
            settled.append(replace(item, settled=reason))
    return WorkQueue(day, items, settled)


def _live(
    conn: Connection, borrower_ids: list[int], today: date, at: datetime
) -> dict[int, dict[str, Any]]:
    """The live situation row of every loan of ``borrower_ids``, by loan id."""
    if not borrower_ids:
        return {}
    as_of = book_date(conn, today) or today
    found = situation.of_borrowers(conn, borrower_ids, as_of, at)
    return {int(row["loan_id"]): row for row in found.loans.iter_rows(named=True)}


@dataclass(frozen=True)
class LastAttempt:
    loan_id: int
    attempt_id: int
    at: datetime
    outcome: str  # the stored outcome, "pending" (allowed, none yet) or "blocked"


def last_attempts(conn: Connection, loan_ids: list[int]) -> dict[int, LastAttempt]:
    """The latest contact attempt of each of ``loan_ids`` (allowed or blocked), by loan."""
    if not loan_ids:
        return {}
    a = ContactAttempt
    found: dict[int, LastAttempt] = {}
    for start in range(0, len(loan_ids), 500):
        chunk = loan_ids[start : start + 500]
        newest = (
            select(a.loan_id, func.max(a.id).label("id"))
            .where(a.loan_id.in_(chunk))
            .group_by(a.loan_id)
            .subquery()
        )
        rows = conn.execute(
            select(a.id, a.loan_id, a.at, a.allowed, a.outcome).join(newest, newest.c.id == a.id)
        ).all()
        for r in rows:
            outcome = r.outcome or ("pending" if r.allowed else "blocked")
            found[int(r.loan_id)] = LastAttempt(int(r.loan_id), int(r.id), r.at, str(outcome))
    return found


@dataclass(frozen=True)
class PendingOutcome:
    """An allowed contact attempt still without an outcome."""

    attempt_id: int
    loan_id: int
    loan_ref: str
    channel: str
    at: datetime
    actor: str


PENDING_LOOKBACK = timedelta(days=14)


def pending_outcomes(
    conn: Connection,
    actor: Actor,
    *,
    at: datetime,
    today: date,
    loan_id: int | None = None,
) -> list[PendingOutcome]:
    """Allowed contact attempts of the last :data:`PENDING_LOOKBACK` left without an
    outcome, oldest first: the actor's own (the workbench), or every one of ``loan_id``
    (the account page), within the actor's scope. An attempt without an outcome counts
    against every cap and leaves the right-party-contact figures unknown, so it must be
    found again."""
    actor.require(VIEW)
    a = ContactAttempt
    query = (
        select(a.id, a.loan_id, Loan.external_ref, a.channel, a.at, a.actor)
        .join(Loan, Loan.id == a.loan_id)
        .where(
            a.allowed.is_(True),
            a.outcome.is_(None),
            a.at >= at - PENDING_LOOKBACK,
            visible(actor, at, book_date(conn, today) if actor.scope_buckets else None),
        )
    )
    if loan_id is not None:
        query = query.where(a.loan_id == loan_id)
    else:
        query = query.where(a.actor == actor.name)
    rows = conn.execute(query.order_by(a.at, a.id).limit(200)).all()
    return [
        PendingOutcome(
            int(r.id), int(r.loan_id), str(r.external_ref), str(r.channel), r.at, str(r.actor)
        )
        for r in rows
    ]


def next_account(items: list[QueueItem], after_loan_id: int | None) -> QueueItem | None:
    """The next unworked item of a queue after ``after_loan_id`` (by the queue's order),
    wrapping round to the first unworked one; None when every item is worked."""
    unworked = [i for i in items if not i.worked and i.loan_id != after_loan_id]
    if not unworked:
        return None
    if after_loan_id is not None:
        order = [i.loan_id for i in items]
        if after_loan_id in order:
            here = order.index(after_loan_id)
            later = [i for i in unworked if order.index(i.loan_id) > here]
            if later:
                return later[0]
    return unworked[0]
