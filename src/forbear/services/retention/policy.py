"""Who is past retention, and what the purge does with each table (the package docstring
states the policy and its sources)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, func, select

from forbear.store.models import (
    AccountState,
    Base,
    Borrower,
    ContactPoint,
    Instalment,
    Loan,
    LoanStatus,
    Payment,
)

ANONYMISED_NAME = "已匿名 anonymised"
ANONYMISED_TEXT = ANONYMISED_NAME  # what erased free text reads as, where a value must stay
RETAIN_YEARS = 3
LIMITATION_YEARS = 3
AFTER_LIMITATION_YEARS = 1
# Tables of other areas whose dates count as activity: (table, date or timestamp column).
ACTIVITY_BY_BORROWER = (("contact_attempts", "at"), ("complaints", "received_at"))
ACTIVITY_BY_LOAN = (("demands", "at"), ("account_notices", "at"))
# Rows deleted with the borrower (by borrower_id): secrets and traces no law asks to keep.
ERASED_WITH_BORROWER = (
    "portal_sessions",
    "portal_outbox",
    "article_views",
    "inbound_messages",  # a borrower's replies (their words, their number)
    "account_notes",  # agents' call notes: what the borrower said
)
# The borrower's stated finances in a plan's request (``plans.terms``).
PLAN_TERMS_ERASED = ("income", "expenses")

# What the purge does with each table that points at a borrower, a loan or a case, or
# holds encrypted values (docs/privacy.md; a test checks that no such table is missing).
DELETED = "deleted"
DEIDENTIFIED = "de-identified"
KEPT = "kept (no personal data)"
ANONYMISED = "anonymised"
REVIEWED: dict[str, str] = {
    "borrowers": ANONYMISED,
    "contact_points": DELETED,
    "portal_codes": DELETED,
    "portal_sessions": DELETED,
    "portal_outbox": DELETED,
    "article_views": DELETED,
    "inbound_messages": DELETED,
    "assistant_conversations": DELETED,  # forbear.services.assistant.retention
    "assistant_turns": DELETED,
    "complaints": DEIDENTIFIED,
    "case_library": DEIDENTIFIED,
    "holds": DEIDENTIFIED,
    "hold_cases": DEIDENTIFIED,  # the dispute's answer and the release reason erased
    "dispute_evidence": DELETED,  # the borrower's files and their names
    "account_notes": DELETED,
    "plan_approvals": DEIDENTIFIED,  # the typed reasons erased
    "callbacks": KEPT,  # a loan, a moment and whose queue
    "promises": DEIDENTIFIED,
    "plans": DEIDENTIFIED,
    "legal_cases": DEIDENTIFIED,
    "legal_case_events": DEIDENTIFIED,
    "contact_attempts": DEIDENTIFIED,  # the link to a deleted contact point
    "outbox": DEIDENTIFIED,  # the text as sent and the link to a deleted contact point
    "loans": KEPT,
    "instalments": KEPT,
    "payments": KEPT,
    "account_states": KEPT,
    "account_scores": KEPT,
    "account_flags": KEPT,
    "account_notices": KEPT,
    "agency_assignments": KEPT,
    "demands": KEPT,
    "complaint_contacts": KEPT,
    "satisfaction_responses": KEPT,
    "payment_intents": KEPT,
    "plan_lines": KEPT,
    "legal_queue": KEPT,
    "legal_case_costs": KEPT,
    "legal_documents": KEPT,  # file names and sha256 of generated documents
    "decisions": KEPT,
    "work_queue": KEPT,
    "channel_callbacks": KEPT,  # provider, event ids and signature digests
    "unmask_events": KEPT,  # which staff member unmasked which borrower id, when
}

_B: Table = Borrower.__table__  # type: ignore[assignment]
_CP: Table = ContactPoint.__table__  # type: ignore[assignment]
_L: Table = Loan.__table__  # type: ignore[assignment]
_I: Table = Instalment.__table__  # type: ignore[assignment]
_P: Table = Payment.__table__  # type: ignore[assignment]
_S: Table = AccountState.__table__  # type: ignore[assignment]


@dataclass
class PurgeReport:
    as_of: date
    dry_run: bool
    borrowers_considered: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def borrowers_anonymised(self) -> int:
        return self.counts.get("borrowers", 0)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if hasattr(value, "date") and callable(value.date):
        return value.date()  # type: ignore[no-any-return]
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value  # type: ignore[no-any-return]


def _latest(into: dict[int, date], pairs: Iterable[Any]) -> None:
    for key, value in pairs:
        day = _as_date(value)
        if key is not None and day is not None and (key not in into or day > into[key]):
            into[key] = day


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in rows}


def _table(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


def retention_end(last_activity: date, last_due: date | None) -> date:
    """The first day the borrower's data may be erased (module docstring)."""
    end = add_years(last_activity, RETAIN_YEARS)
    if last_due is not None:
        end = max(end, add_years(last_due, LIMITATION_YEARS + AFTER_LIMITATION_YEARS))
    return end


def due_for_purge(conn: Connection, as_of: date) -> list[int]:
    """Ids of the borrowers past retention on ``as_of`` and not yet anonymised."""
    borrowers = {
        int(r.id): _as_date(r.created_at)
        for r in conn.execute(select(_B.c.id, _B.c.created_at).where(_B.c.anonymised_at.is_(None)))
    }
    loans = list(
        conn.execute(select(_L.c.id, _L.c.borrower_id, _L.c.start_date, _L.c.written_off_on))
    )
    loan_owner = {int(r.id): int(r.borrower_id) for r in loans}
    scheduled: dict[int, int] = _pairs(
        conn.execute(
            select(_I.c.loan_id, func.sum(_I.c.principal + _I.c.interest + _I.c.fee)).group_by(
                _I.c.loan_id
            )
        )
    )
    paid: dict[int, int] = _pairs(
        conn.execute(
            select(_P.c.loan_id, func.sum(_P.c.amount))
            .where(_P.c.paid_on <= as_of)
            .group_by(_P.c.loan_id)
        )
    )
    latest_state = (
        select(_S.c.loan_id, func.max(_S.c.as_of).label("as_of"))
        .where(_S.c.as_of <= as_of)
        .group_by(_S.c.loan_id)
        .subquery()
    )
    status: dict[int, str] = _pairs(
        conn.execute(
            select(_S.c.loan_id, _S.c.status).join(
                latest_state,
                (latest_state.c.loan_id == _S.c.loan_id) & (latest_state.c.as_of == _S.c.as_of),
            )
        )
    )
    closed_states = {LoanStatus.PAID_OFF.value, LoanStatus.WRITTEN_OFF.value}
    open_borrowers: set[int] = set()
    activity: dict[int, date] = {}
    for loan in loans:
        closed = (
            loan.written_off_on is not None
            or status.get(loan.id) in closed_states
            or (loan.id in scheduled and paid.get(loan.id, 0) >= scheduled[loan.id])
        )
        if not closed:
            open_borrowers.add(int(loan.borrower_id))
    # Last activity per loan, then per borrower.
    by_loan: dict[int, date] = {}
    _latest(by_loan, ((r.id, r.start_date) for r in loans))
    _latest(by_loan, ((r.id, r.written_off_on) for r in loans))
    _latest(
        by_loan, conn.execute(select(_P.c.loan_id, func.max(_P.c.paid_on)).group_by(_P.c.loan_id))
    )
    _latest(
        by_loan,
        conn.execute(select(_S.c.loan_id, func.max(_S.c.last_payment_date)).group_by(_S.c.loan_id)),
    )
    last_due: dict[int, date] = {}
    _latest(
        last_due, conn.execute(select(_I.c.loan_id, func.max(_I.c.due_date)).group_by(_I.c.loan_id))
    )
    for name, column in ACTIVITY_BY_LOAN:
        table = _table(name)
        if table is not None and column in table.c:
            query = select(table.c.loan_id, func.max(table.c[column])).group_by(table.c.loan_id)
            _latest(by_loan, conn.execute(query))
    _latest(activity, ((loan_owner[k], v) for k, v in by_loan.items()))
    _latest(activity, ((loan_owner[k], v) for k, v in last_due.items()))
    borrower_last_due: dict[int, date] = {}
    _latest(borrower_last_due, ((loan_owner[k], v) for k, v in last_due.items()))
    for name, column in ACTIVITY_BY_BORROWER:
        table = _table(name)
        if table is not None and column in table.c:
            query = select(table.c.borrower_id, func.max(table.c[column])).group_by(
                table.c.borrower_id
            )
            _latest(activity, conn.execute(query))
    # The row's creation date counts only for a borrower with no other trace: an imported
    # book is created today, and that is not the borrower's activity.
    for borrower_id, created in borrowers.items():
        if borrower_id not in activity and created is not None:
            activity[borrower_id] = created
    due = [
        borrower_id
        for borrower_id in sorted(borrowers)
        if borrower_id not in open_borrowers
        and borrower_id in activity
        and as_of >= retention_end(activity[borrower_id], borrower_last_due.get(borrower_id))
    ]
    return due
