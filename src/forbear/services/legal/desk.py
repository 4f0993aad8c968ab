"""Legal use cases as the front ends start them, with the :class:`Actor` who asks.

Each checks ``legal.manage`` and the actor's scope first: a case whose loan is out of
scope answers like an unknown case, before anything of it is read, unmasked or audited;
lists show only loans in scope. Then it calls :mod:`.queue`, :mod:`.cases`,
:mod:`.limitation` or :mod:`forbear.services.documents.gather`, which validate, write and
audit. The case documents' use case is
:func:`forbear.services.documents.desk.documents` (documents read legal, not back)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound
from forbear.domain.legal.costs import parse_cost
from forbear.domain.legal.proof import delivery_proof
from forbear.services.legal.cases import (
    DEFAULT_ZONE,
    CaseView,
    add_costs,
    advance,
    get_case,
    list_cases,
)
from forbear.services.legal.cases import open_case as open_case_for
from forbear.services.legal.common import PERMISSION
from forbear.services.legal.detail import CaseDetail, case_detail
from forbear.services.legal.limitation import limitation_watch
from forbear.services.legal.queue import QueueItem, queue
from forbear.services.legal.review import QueueFilter, QueuePage, queue_page
from forbear.services.loan_scope import business_day, require_loan_day, seen_loans
from forbear.store.crypto import PiiVault
from forbear.store.legal import LegalCase, LegalCaseEvent


def _role(actor: Actor) -> str:
    actor.require(PERMISSION)
    return actor.role.value if actor.role is not None else "legal"


def case_day(conn: Connection, actor: Actor, case_id: int, *, now: datetime, today: date) -> date:
    """The business day, after checking the case exists and its loan is in ``actor``'s
    scope (else :class:`NotFound` "legal case", as for an unknown case)."""
    actor.require(PERMISSION)
    loan_id = conn.execute(
        select(LegalCase.loan_id).where(LegalCase.id == case_id)
    ).scalar_one_or_none()
    if loan_id is None:
        raise NotFound("legal case", str(case_id))
    return require_loan_day(
        conn, actor, int(loan_id), now=now, today=today, thing=("legal case", case_id)
    )


def review_queue(
    conn: Connection, actor: Actor, *, now: datetime, today: date
) -> tuple[date, list[QueueItem]]:
    """The business day and the legal review queue, loans in scope only."""
    actor.require(PERMISSION)
    day = business_day(conn, today)
    seen = seen_loans(conn, actor, now=now, today=today)
    return day, [i for i in queue(conn, day) if seen is None or i.loan_id in seen]


def review_page(
    conn: Connection, actor: Actor, wanted: QueueFilter, *, now: datetime, today: date
) -> QueuePage:
    """One page of the legal review queue (loans in scope only), filtered and sorted."""
    actor.require(PERMISSION)
    day = business_day(conn, today)
    seen = seen_loans(conn, actor, now=now, today=today)
    return queue_page(conn, day, wanted, seen=seen)


def queued_entry(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> QueuePage:
    """The queue entry of one loan in scope (the confirm step before a case is opened):
    a page of one row, or of none when the loan is not (or no longer) queued."""
    actor.require(PERMISSION)
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    return queue_page(conn, day, QueueFilter(per_page=MAX_ROWS), seen={loan_id})


MAX_ROWS = 200


def case_page(
    conn: Connection, actor: Actor, case_id: int, *, now: datetime, today: date, vault: PiiVault
) -> CaseDetail:
    """The case with its claim, masked debtor, limitation date, demands and costs."""
    day = case_day(conn, actor, case_id, now=now, today=today)
    found = get_case(conn, case_id, vault=vault)
    return case_detail(conn, found, role=actor.role, as_of=day, vault=vault)


def add_cost(
    conn: Connection,
    actor: Actor,
    case_id: int,
    *,
    kind: str,
    amount: str,
    incurred_on: date | None,
    now: datetime,
    today: date,
) -> CaseView:
    """Record one cost typed on the case page (kind, yuan, day; :func:`.cases.add_costs`)."""
    role = _role(actor)
    day = case_day(conn, actor, case_id, now=now, today=today)
    found = get_case(conn, case_id)
    cost = parse_cost(kind, amount, incurred_on, opened_on=found.opened_on, today=day)
    return add_costs(conn, case_id, [cost], role=role, actor=actor.name, on=day, now=now)


def cases(
    conn: Connection, actor: Actor, *, now: datetime, today: date, vault: PiiVault | None
) -> list[CaseView]:
    """Every legal case on a loan in scope, oldest first."""
    actor.require(PERMISSION)
    seen = seen_loans(conn, actor, now=now, today=today)
    return [c for c in list_cases(conn, vault=vault) if seen is None or c.loan_id in seen]


def case(
    conn: Connection,
    actor: Actor,
    case_id: int,
    *,
    now: datetime,
    today: date,
    vault: PiiVault | None,
) -> CaseView:
    case_day(conn, actor, case_id, now=now, today=today)
    return get_case(conn, case_id, vault=vault)


def history(
    conn: Connection, actor: Actor, case_id: int, *, now: datetime, today: date
) -> list[dict[str, Any]]:
    """The case's stage moves, oldest first (``stage_on, from_stage, stage, court,
    created_by``)."""
    case_day(conn, actor, case_id, now=now, today=today)
    e = LegalCaseEvent
    rows = conn.execute(
        select(e.stage_on, e.from_stage, e.stage, e.court, e.created_by)
        .where(e.case_id == case_id)
        .order_by(e.id)
    ).all()
    return [dict(row._mapping) for row in rows]


def open_case(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> CaseView:
    """Open a case for a queued loan in scope, on the business day."""
    role = _role(actor)
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    return open_case_for(conn, loan_id, role=role, actor=actor.name, on=day, now=now)


def move(
    conn: Connection,
    actor: Actor,
    case_id: int,
    to: str,
    *,
    now: datetime,
    today: date,
    court: str | None = None,
    case_number: str | None = None,
    notes: str | None = None,
    reason: str | None = None,
    evidence_ref: str | None = None,
    proof_kind: str | None = None,
    proof_ref: str | None = None,
    signed_on: date | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    vault: PiiVault | None = None,
) -> CaseView:
    """Move a case in scope forward (:func:`.cases.advance`). The proof of delivery a
    demand letter needs comes as ``proof_kind`` with ``proof_ref`` (and ``signed_on`` for
    a receipt), as the case page's form gives it, or as one ``evidence_ref`` string."""
    role = _role(actor)
    day = case_day(conn, actor, case_id, now=now, today=today)
    proof = None
    if to == "demand_letter" and proof_kind:
        proof = delivery_proof(
            proof_kind, proof_ref, signed_on=signed_on, sent_on=day, today=max(day, today)
        )
    return advance(
        conn,
        case_id,
        to,
        role=role,
        actor=actor.name,
        on=day,
        court=court,
        case_number=case_number,
        notes=notes,
        reason=reason,
        evidence_ref=evidence_ref,
        proof=proof,
        zone=zone,
        vault=vault,
        now=now,
    )


def watch(
    conn: Connection, actor: Actor, *, now: datetime, today: date, within: int | None = None
) -> tuple[date, list[dict[str, Any]]]:
    """The business day and the limitation watch, loans in scope only."""
    actor.require(PERMISSION)
    day = business_day(conn, today)
    seen = seen_loans(conn, actor, now=now, today=today)
    rows = limitation_watch(conn, day, within).iter_rows(named=True)
    return day, [row for row in rows if seen is None or row["loan_id"] in seen]
