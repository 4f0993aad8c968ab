"""Load the facts of one borrower (or the whole book) and compute the borrower situation
(:mod:`forbear.domain.situation`): what every reader shows of an account, from what is
stored at the moment of reading (not the daily run's snapshot).

``as_of`` (the business date) and ``at`` (the moment) are the caller's: no clock here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.errors import NotFound
from forbear.domain.ledger.state import DEFAULT_BUCKETS, BucketScheme
from forbear.domain.plans.flags import PLAN_RULES
from forbear.domain.plans.ledger import PLAN_PERIODS
from forbear.domain.plans.policy import default_policy
from forbear.domain.promises import RECORDS
from forbear.domain.situation import (
    LIMITATION_FACTS,
    OWNERS,
    SITUATION_HOLDS,
    Facts,
    Situation,
    situation,
)
from forbear.services.contracts import ledger_products
from forbear.store import bulk
from forbear.store.contacts import Hold, read_flags
from forbear.store.models import Loan
from forbear.store.plans import Plan, read_plan_lines, read_plan_periods
from forbear.store.promises import Promise, read_records

DEFAULT_LIMITATION_YEARS = 3


def limitation_years(rules: CompiledRules | None = None) -> int:
    """The limitation period in years from the rules in force (the pack's ``limitation``
    rule; 3 years in CN when the pack has none)."""
    active = (rules or default_rules()).active("limitation")
    return int(active[0].params["years"]) if active else DEFAULT_LIMITATION_YEARS


def _owners(
    conn: Connection, borrower_ids: Sequence[int] | None, loan_ids: Sequence[int] | None
) -> pl.DataFrame:
    stmt = select(Loan.id.label("loan_id"), Loan.borrower_id).order_by(Loan.id)
    if borrower_ids is not None:
        stmt = stmt.where(Loan.borrower_id.in_([int(i) for i in borrower_ids]))
    if loan_ids is not None:
        stmt = stmt.where(Loan.id.in_([int(i) for i in loan_ids]))
    rows = conn.execute(stmt).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=OWNERS, orient="row")


def plan_rules(conn: Connection, loan_ids: list[int] | None) -> pl.DataFrame:
    """``PLAN_RULES``: accepted and active plans with their missed-payment rule (the
    one recorded at offer, else the policy's)."""
    default = default_policy().policy.broken
    stmt = select(Plan.id, Plan.loan_id, Plan.status, Plan.start_date, Plan.terms).where(
        Plan.status.in_(["accepted", "active"])
    )
    if loan_ids is not None:
        stmt = stmt.where(Plan.loan_id.in_(loan_ids))
    rows = []
    for r in conn.execute(stmt.order_by(Plan.id)).all():
        rule = dict(r.terms or {}).get("broken") or {}
        rows.append(
            (
                int(r.id),
                int(r.loan_id),
                str(r.status),
                r.start_date,
                int(rule.get("days_late", default.days_late)),
                int(rule.get("tolerance", default.tolerance)),
            )
        )
    return pl.DataFrame(rows, schema=PLAN_RULES, orient="row")


def _holds(conn: Connection, borrower_ids: Sequence[int] | None) -> pl.DataFrame:
    h = Hold
    stmt = select(
        h.id,
        h.borrower_id,
        h.loan_id,
        h.kind,
        h.channel,
        h.contact_point_id,
        h.since,
        h.until,
        h.reason,
    ).order_by(h.borrower_id, h.id)
    if borrower_ids is not None:
        stmt = stmt.where(h.borrower_id.in_([int(i) for i in borrower_ids]))
    rows = [tuple(r) for r in conn.execute(stmt).all()]
    return pl.DataFrame(rows, schema=SITUATION_HOLDS, orient="row")


# Up to this many borrowers their flags are read for their loans only (the reader cuts
# its grouped subqueries to those loans); beyond it the whole book's, filtered.
FLAGS_ONE_BY_ONE = 2000


def _flags(conn: Connection, at: datetime, borrower_ids: Sequence[int] | None) -> pl.DataFrame:
    if borrower_ids is None or len(borrower_ids) > FLAGS_ONE_BY_ONE:
        flags = read_flags(conn, at=at)
        if borrower_ids is None:
            return flags
        return flags.filter(pl.col("borrower_id").is_in(list(borrower_ids)))
    if len(borrower_ids) == 1:
        return read_flags(conn, at=at, borrower_id=int(borrower_ids[0]))
    return read_flags(conn, at=at, borrower_ids=[int(b) for b in borrower_ids])


def _plan_periods(conn: Connection, ids: list[int]) -> pl.DataFrame:
    """``PLAN_PERIODS`` of ``ids`` (read_plan_periods reads the whole book)."""
    stmt = (
        select(Plan.id, Plan.loan_id, Plan.status, Plan.base_date, Plan.start_date, Plan.ended_on)
        .where(Plan.start_date.is_not(None), Plan.loan_id.in_(ids))
        .order_by(Plan.loan_id, Plan.id)
    )
    rows = [tuple(r) for r in conn.execute(stmt).all()]
    return pl.DataFrame(rows, schema=PLAN_PERIODS, orient="row")


def _promises(conn: Connection, ids: list[int], as_of: date) -> pl.DataFrame:
    """Promise ``RECORDS`` of ``ids`` taken on or before ``as_of``."""
    p = Promise
    stmt = (
        select(
            p.id,
            p.loan_id,
            p.source,
            p.amount,
            p.taken_on,
            p.promised_on,
            p.status,
            p.amount_paid,
            p.resolved_on,
        )
        .where(p.loan_id.in_(ids), p.taken_on <= as_of)
        .order_by(p.id)
    )
    rows = [tuple(r) for r in conn.execute(stmt).all()]
    return pl.DataFrame(rows, schema=RECORDS, orient="row")


def load_facts(
    conn: Connection,
    as_of: date,
    at: datetime,
    *,
    borrower_id: int | None = None,
    borrower_ids: Sequence[int] | None = None,
) -> Facts:
    """The facts of ``borrower_id``'s loans, or of ``borrower_ids``' (every loan when
    both are None) on ``as_of``."""
    if borrower_id is not None:
        borrower_ids = [borrower_id]
    owners = _owners(conn, borrower_ids, None)
    ids: list[int] | None = owners["loan_id"].to_list() if borrower_ids is not None else None
    loans = bulk.read_loans(conn, ids)
    loans, products = ledger_products(conn, loans, bulk.read_products_terms(conn), ids)
    periods = read_plan_periods(conn) if ids is None else _plan_periods(conn, ids)
    records = read_records(conn, taken_by_day=as_of) if ids is None else _promises(conn, ids, as_of)
    flags = _flags(conn, at, borrower_ids)
    return Facts(
        loans=loans,
        owners=owners,
        products=products,
        instalments=bulk.read_instalments(conn, ids),
        payments=bulk.read_payments(conn, up_to=as_of, loan_ids=ids),
        plan_periods=periods.cast(pl.Schema(PLAN_PERIODS)),
        plan_lines=read_plan_lines(conn, periods["plan_id"].to_list()),
        plan_rules=plan_rules(conn, ids),
        promises=records,
        holds=_holds(conn, borrower_ids),
        limitation=flags.select(list(LIMITATION_FACTS)),
    )


def of_borrower(
    conn: Connection,
    borrower_id: int,
    as_of: date,
    at: datetime,
    *,
    rules: CompiledRules | None = None,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> Situation:
    """The situation of every loan of ``borrower_id`` on ``as_of`` at ``at``."""
    facts = load_facts(conn, as_of, at, borrower_id=borrower_id)
    return situation(facts, as_of, at, limitation_years=limitation_years(rules), buckets=buckets)


def of_borrowers(
    conn: Connection,
    borrower_ids: Sequence[int],
    as_of: date,
    at: datetime,
    *,
    rules: CompiledRules | None = None,
) -> Situation:
    """The situation of every loan of ``borrower_ids`` on ``as_of`` at ``at`` (read in
    one go: a work queue's borrowers, the dispatcher's batch). The ledger goes loan by
    loan for a few loans (:func:`forbear.domain.ledger.takes_scalar_path`), else through
    its compiled walk."""
    facts = load_facts(conn, as_of, at, borrower_ids=sorted({int(b) for b in borrower_ids}))
    return situation(
        facts,
        as_of,
        at,
        limitation_years=limitation_years(rules),
    )


def of_loan(
    conn: Connection,
    loan_id: int,
    as_of: date,
    at: datetime,
    *,
    rules: CompiledRules | None = None,
) -> tuple[Situation, dict[str, Any] | None]:
    """The situation of ``loan_id``'s borrower and the loan's own row (None before the
    loan starts). :class:`NotFound` for no such loan."""
    borrower = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one_or_none()
    if borrower is None:
        raise NotFound("loan", str(loan_id))
    found = of_borrower(conn, int(borrower), as_of, at, rules=rules)
    return found, found.loan(loan_id)


def of_book(
    conn: Connection, as_of: date, at: datetime, *, rules: CompiledRules | None = None
) -> Situation:
    """The situation of every loan of the book (the ACCOUNT frame's flags may come from
    :func:`account_flags` of it)."""
    facts = load_facts(conn, as_of, at)
    return situation(facts, as_of, at, limitation_years=limitation_years(rules))


def account_flags(found: Situation | pl.DataFrame) -> pl.DataFrame:
    """The strategy flags of a situation (or of a ``LOAN_SITUATION`` frame from
    :func:`forbear.domain.situation.situation_of_states`) in the ACCOUNT frame's names:
    ``loan_id, hold_any, hardship, limitation_expired, active_plan, active_promise,
    broken_promises_90d`` (for the daily run's ACCOUNT frame)."""
    frame = found.loans if isinstance(found, Situation) else found
    return frame.select(
        "loan_id",
        "hold_any",
        "hardship",
        "limitation_expired",
        "active_plan",
        "active_promise",
        "broken_promises_90d",
    )
