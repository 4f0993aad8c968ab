"""Retention: erase what is past its retention period (REGULATIONS.md CN.RECORD.RETAIN,
PIPL art. 47: personal data is deleted once the purpose is fulfilled and the retention
period has ended).

Policy as implemented (confidence **I**, our inference; lenders may lengthen it):

- Only borrowers whose loans are **all closed** are considered: a loan is closed when it
  is written off (``written_off_on``), or its latest account state on or before
  ``as_of`` is ``paid_off``/``written_off``, or its payments cover the whole schedule.
  A borrower without loans counts as closed.
- Its **last activity** is the latest of: loan start, instalment due dates, payments,
  write-off, account-state dates, and contact attempts / demands where those tables
  exist (the borrower row's creation date only for a borrower with none of these).
- It is past retention when ``as_of`` is on or after the later of *last activity +
  3 years* and *last instalment due date + limitation (3 years) + 1 year* (CN.LIMITATION
  and CN.RECORD.RETAIN: "3 years after last activity or limitation + 1 year, whichever
  is later").

What happens to such a borrower, in one transaction:

- ``borrowers``: the name becomes ``"已匿名 anonymised"`` (encrypted like any name, so
  every reader keeps working); national ID, mobile, e-mail and address and their blind
  indexes are set to NULL; ``city`` is cleared (``province`` stays for analytics);
  ``external_ref`` (the lender's customer number, which links back to the person) is
  replaced by ``ANON-<id>``; ``anonymised_at`` is set. Already anonymised borrowers are
  skipped, so a purge can be run again.
- ``contact_points`` and, where present, ``holds`` of the borrower are deleted. Contact
  attempts stay as the record of collection (CN.RECORD.RETAIN; they hold no contact
  details or free text) but lose their link to the deleted contact point (set to NULL in
  every table with a ``contact_point_id``).
- Loans, instalments, payments, account states and scores stay for accounting; they now
  point to an anonymous borrower.

One audit event ``retention.purge`` holds ``as_of`` and the counts per table. With
``dry_run`` the same work runs inside a savepoint that is rolled back, so the counts are
exact and nothing changes (no audit event either).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, select, update

from forbear.store import audit
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import (
    AccountState,
    Base,
    Borrower,
    ContactPoint,
    Instalment,
    Loan,
    LoanStatus,
    Payment,
    utcnow,
)
from forbear.store.repositories import chunked

ANONYMISED_NAME = "已匿名 anonymised"
RETAIN_YEARS = 3
LIMITATION_YEARS = 3
AFTER_LIMITATION_YEARS = 1
# Tables of other areas deleted with the borrower, when they exist (by borrower_id).
ERASED_WITH_BORROWER = ("holds",)
# Tables of other areas whose dates count as activity: (table, date or timestamp column).
ACTIVITY_BY_BORROWER = (("contact_attempts", "at"),)
ACTIVITY_BY_LOAN = (("demands", "at"), ("account_notices", "at"))

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


def _delete(conn: Connection, table: Table, where: ColumnElement[bool]) -> int:
    return int(conn.execute(delete(table).where(where)).rowcount or 0)


def _anonymise(conn: Connection, vault: PiiVault, ids: list[int], counts: dict[str, int]) -> None:
    for name in ERASED_WITH_BORROWER:
        table = _table(name)
        if table is not None and "borrower_id" in table.c:
            counts[name] = counts.get(name, 0) + _delete(conn, table, table.c.borrower_id.in_(ids))
    points = select(_CP.c.id).where(_CP.c.borrower_id.in_(ids)).scalar_subquery()
    for name, table in Base.metadata.tables.items():
        if name not in ERASED_WITH_BORROWER and "contact_point_id" in table.c:
            conn.execute(
                update(table)
                .where(table.c.contact_point_id.in_(points))
                .values(contact_point_id=None)
            )
    counts["contact_points"] = counts.get("contact_points", 0) + _delete(
        conn, _CP, _CP.c.borrower_id.in_(ids)
    )
    now = utcnow()
    for borrower_id in ids:
        conn.execute(
            update(_B)
            .where(_B.c.id == borrower_id)
            .values(
                name_enc=vault.encrypt(ANONYMISED_NAME, context=Contexts.BORROWER_NAME),
                national_id_enc=None,
                national_id_bidx=None,
                mobile_enc=None,
                mobile_bidx=None,
                email_enc=None,
                address_enc=None,
                city=None,
                external_ref=f"ANON-{borrower_id}",
                anonymised_at=now,
                updated_at=now,
            )
        )
    counts["borrowers"] = counts.get("borrowers", 0) + len(ids)


def purge(
    conn: Connection,
    vault: PiiVault,
    *,
    as_of: date,
    actor: str,
    dry_run: bool = False,
) -> PurgeReport:
    """Anonymise every borrower past retention on ``as_of`` (module docstring).

    Works in the caller's transaction; never commits.
    """
    ids = due_for_purge(conn, as_of)
    report = PurgeReport(as_of=as_of, dry_run=dry_run, borrowers_considered=len(ids))
    counts: dict[str, int] = {"borrowers": 0, "contact_points": 0}
    savepoint = conn.begin_nested()
    try:
        for chunk in chunked(ids):
            _anonymise(conn, vault, list(chunk), counts)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        audit.record(
            conn,
            action="retention.purge",
            actor=actor,
            subject_type="retention",
            subject_id=as_of.isoformat(),
            payload={"as_of": as_of.isoformat(), "counts": counts},
        )
    report.counts = counts
    return report
