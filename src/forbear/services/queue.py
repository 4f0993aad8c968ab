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
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, select

from forbear.domain.access import Actor, Role
from forbear.domain.strategy.schema import PLAN_SEGMENT
from forbear.services import situation
from forbear.services.accounts.views import masked_name
from forbear.services.days import book_date, queue_date
from forbear.services.scope import visible
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
) -> WorkQueue:
    """The queue of the latest completed run up to ``today`` that ``actor`` works or
    oversees, by agent and rank.

    Agents (and agency agents) see the items of their own agent id ``agent_ref`` (none
    without one); a supervisor sees its team's (``team_id``; ``agent`` narrows it to one
    agent); the other roles see every item within their scope. Rows whose account no
    longer needs the work (:func:`settled_reason`) come back in ``settled``."""
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
