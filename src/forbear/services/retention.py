"""Retention: erase what is past its retention period (REGULATIONS.md CN.RECORD.RETAIN,
PIPL art. 47: personal data is deleted once the purpose is fulfilled and the retention
period has ended).

Policy as implemented (confidence **I**, our inference; lenders may lengthen it):

- Only borrowers whose loans are **all closed** are considered: a loan is closed when it
  is written off (``written_off_on``), or its latest account state on or before
  ``as_of`` is ``paid_off``/``written_off``, or its payments cover the whole schedule.
  A borrower without loans counts as closed.
- Its **last activity** is the latest of: loan start, instalment due dates, payments,
  write-off, account-state dates, contact attempts, demands, notices and complaints
  (the borrower row's creation date only for a borrower with none of these).
- It is past retention when ``as_of`` is on or after the later of *last activity +
  3 years* and *last instalment due date + limitation (3 years) + 1 year* (CN.LIMITATION
  and CN.RECORD.RETAIN: "3 years after last activity or limitation + 1 year, whichever
  is later").

What happens to such a borrower, in one transaction. Every table of the schema was gone
through column by column (``docs/privacy.md`` has the table); a test checks that no table
with a ``borrower_id``, ``loan_id`` or ``*_enc`` column escapes this list:

- ``borrowers``: the name becomes ``"已匿名 anonymised"`` (encrypted like any name, so
  every reader keeps working); national ID, mobile, e-mail and address and their blind
  indexes are set to NULL; ``city`` is cleared (``province`` stays for analytics);
  ``external_ref`` (the lender's customer number, which links back to the person) is
  replaced by ``ANON-<id>``; ``anonymised_at`` is set. Already anonymised borrowers are
  skipped, so a purge can be run again.
- **Deleted** (no law asks to keep them, and each identifies the person or holds a
  secret): ``contact_points`` (values, blind indexes, contact persons' names); the
  portal's ``portal_codes`` (the phone's blind index, a keyed hash of the client
  address, the code's hash; every row of the borrower and every row requested for one
  of the borrower's phone numbers, known or not), ``portal_sessions`` (token hash, CSRF
  token), ``portal_outbox`` (the encrypted sign-in code) and ``article_views``.
- **Kept as the record of collection, de-identified** (CN.RECORD.RETAIN): the free text a
  person typed is erased -- ``complaints`` description, extension reason and resolution
  and ``case_library`` lessons become the encrypted marker ``"已匿名 anonymised"`` (the
  columns are NOT NULL or show that text existed), ``holds.reason_enc``,
  ``promises.cancel_reason_enc``, ``plans.cancel_reason_enc``,
  ``legal_cases.closed_reason_enc`` and ``legal_case_events.notes_enc`` become NULL; the
  borrower's stated ``income`` and ``expenses`` leave ``plans.terms``; the court's case
  number (``legal_cases`` and ``legal_case_events.case_number``; court records are
  public and name the parties) becomes NULL. Holds stay (the record that contact
  stopped when it had to; complaints point at them); every link to a deleted contact
  point (``contact_point_id`` in any table) becomes NULL. Contact attempts, demands,
  notices, promises, plans, satisfaction answers, legal cases and their costs and
  documents' hashes hold no other personal data and stay.
- Loans, instalments, payments, account states and scores stay for accounting; they now
  point to an anonymous borrower. The lender's loan and payment numbers stay: they are
  the keys of the lender's own books, which keep their own retention.
- The audit trail is append-only and hash-chained and holds ids and codes, never
  personal data (``forbear.store.audit``); it is not rewritten.

**The throttles' records** expire whatever the borrower: ``sign_in_attempts`` after
:data:`forbear.services.sessions.KEEP_ATTEMPTS` (one day; the sign-in limits look back
15 minutes, and the audit trail keeps every sign-in and failure) and ``unmask_events``
after :data:`forbear.services.unmasking.KEEP` (two days; the unmask throttle looks back a
day). Sign-ins and unmaskings also purge them now and then as they go; the retention run
forgets them even when nobody signs in (:func:`expire_throttle_records`), and counts them
as ``sign_in_attempts`` and ``unmask_events`` (rows deleted, any borrower).

One audit event ``retention.purge`` holds ``as_of`` and the counts per table (rows
deleted or de-identified). With ``dry_run`` the same work runs inside a savepoint that is
rolled back, so the counts are exact and nothing changes (no audit event either).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, or_, select, update

from forbear.services import sessions, unmasking
from forbear.store import audit
from forbear.store.complaints import CaseEntry, Complaint
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import LegalCase, LegalCaseEvent
from forbear.store.models import (
    AccountState,
    Base,
    Borrower,
    ContactKind,
    ContactPoint,
    Instalment,
    Loan,
    LoanStatus,
    OwnerType,
    Payment,
)
from forbear.store.plans import Plan
from forbear.store.portal import PortalCode
from forbear.store.promises import Promise
from forbear.store.repositories import chunked

ANONYMISED_NAME = "已匿名 anonymised"
ANONYMISED_TEXT = ANONYMISED_NAME  # what erased free text reads as, where a value must stay
RETAIN_YEARS = 3
LIMITATION_YEARS = 3
AFTER_LIMITATION_YEARS = 1
# Tables of other areas whose dates count as activity: (table, date or timestamp column).
ACTIVITY_BY_BORROWER = (("contact_attempts", "at"), ("complaints", "received_at"))
ACTIVITY_BY_LOAN = (("demands", "at"), ("account_notices", "at"))
# Rows deleted with the borrower (by borrower_id): secrets and traces no law asks to keep.
ERASED_WITH_BORROWER = ("portal_sessions", "portal_outbox", "article_views")
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
    "complaints": DEIDENTIFIED,
    "case_library": DEIDENTIFIED,
    "holds": DEIDENTIFIED,
    "promises": DEIDENTIFIED,
    "plans": DEIDENTIFIED,
    "legal_cases": DEIDENTIFIED,
    "legal_case_events": DEIDENTIFIED,
    "contact_attempts": DEIDENTIFIED,  # the link to a deleted contact point
    "outbox": DEIDENTIFIED,  # the link to a deleted contact point
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


def _delete(conn: Connection, table: Table, where: ColumnElement[bool]) -> int:
    return int(conn.execute(delete(table).where(where)).rowcount or 0)


def _add(counts: dict[str, int], name: str, n: int) -> None:
    counts[name] = counts.get(name, 0) + n


def _clear(conn: Connection, model: Any, ids: ColumnElement[bool], columns: Iterable[str]) -> int:
    """Set ``columns`` to NULL in the rows of ``model`` selected by ``ids`` that have a value
    in one of them; returns how many rows changed."""
    names = list(columns)
    table: Table = model.__table__
    where = ids & or_(*(table.c[c].is_not(None) for c in names))
    result = conn.execute(update(table).where(where).values(**dict.fromkeys(names)))
    return int(result.rowcount or 0)


def _mark(
    conn: Connection,
    vault: PiiVault,
    model: Any,
    ids: ColumnElement[bool],
    contexts: dict[str, str],
) -> int:
    """Replace the encrypted free text of the rows selected by ``ids`` with the encrypted
    marker ``ANONYMISED_TEXT`` (a value that must stay: NOT NULL, or "there was text")."""
    table: Table = model.__table__
    changed = 0
    for row in conn.execute(select(table.c.id, *(table.c[c] for c in contexts)).where(ids)):
        values = {
            column: vault.encrypt(ANONYMISED_TEXT, context=context)
            for column, context in contexts.items()
            if row._mapping[column] is not None
        }
        if values:
            conn.execute(update(table).where(table.c.id == row.id).values(**values))
            changed += 1
    return changed


def _phone_keys(conn: Connection, ids: list[int]) -> set[str]:
    """The blind indexes of the borrowers' own phone numbers (the portal's ``phone_key`` is
    the same keyed hash); a contact person's number is theirs, not the borrower's."""
    keys = {
        str(k)
        for k in conn.execute(select(_B.c.mobile_bidx).where(_B.c.id.in_(ids))).scalars()
        if k is not None
    }
    keys.update(
        str(k)
        for k in conn.execute(
            select(_CP.c.value_bidx).where(
                _CP.c.borrower_id.in_(ids),
                _CP.c.kind == ContactKind.PHONE.value,
                _CP.c.owner_type == OwnerType.DEBTOR.value,
            )
        ).scalars()
        if k is not None
    )
    return keys


def _erase_portal(conn: Connection, ids: list[int], counts: dict[str, int]) -> None:
    codes: Table = PortalCode.__table__  # type: ignore[assignment]
    keys = sorted(_phone_keys(conn, ids))
    where: ColumnElement[bool] = codes.c.borrower_id.in_(ids)
    if keys:
        where = where | codes.c.phone_key.in_(keys)
    _add(counts, "portal_codes", _delete(conn, codes, where))
    for name in ERASED_WITH_BORROWER:
        table = Base.metadata.tables[name]
        _add(counts, name, _delete(conn, table, table.c.borrower_id.in_(ids)))


def _erase_free_text(
    conn: Connection, vault: PiiVault, ids: list[int], counts: dict[str, int]
) -> None:
    loans = select(_L.c.id).where(_L.c.borrower_id.in_(ids)).scalar_subquery()
    complaint_text = {
        "description_enc": Contexts.COMPLAINT_DESCRIPTION,
        "extension_reason_enc": Contexts.COMPLAINT_EXTENSION_REASON,
        "resolution_enc": Contexts.COMPLAINT_RESOLUTION,
    }
    _add(
        counts,
        "complaints",
        _mark(conn, vault, Complaint, Complaint.borrower_id.in_(ids), complaint_text),
    )
    _add(
        counts,
        "case_library",
        _mark(
            conn,
            vault,
            CaseEntry,
            CaseEntry.loan_id.in_(loans),
            {"lesson_enc": Contexts.CASE_LESSON},
        ),
    )
    # a hold's contact point is the borrower's own, deleted below
    held = _clear(conn, Hold, Hold.borrower_id.in_(ids), ["reason_enc", "contact_point_id"])
    _add(counts, "holds", held)
    _add(
        counts,
        "promises",
        _clear(conn, Promise, Promise.borrower_id.in_(ids), ["cancel_reason_enc"]),
    )
    plans = 0
    for row in conn.execute(
        select(Plan.id, Plan.terms, Plan.cancel_reason_enc).where(Plan.loan_id.in_(loans))
    ):
        terms = dict(row.terms or {})
        if row.cancel_reason_enc is None and not any(k in terms for k in PLAN_TERMS_ERASED):
            continue
        for key in PLAN_TERMS_ERASED:
            terms.pop(key, None)
        conn.execute(
            update(Plan).where(Plan.id == row.id).values(terms=terms, cancel_reason_enc=None)
        )
        plans += 1
    _add(counts, "plans", plans)
    cases = select(LegalCase.id).where(LegalCase.loan_id.in_(loans)).scalar_subquery()
    _add(
        counts,
        "legal_cases",
        _clear(conn, LegalCase, LegalCase.id.in_(cases), ["closed_reason_enc", "case_number"]),
    )
    _add(
        counts,
        "legal_case_events",
        _clear(
            conn, LegalCaseEvent, LegalCaseEvent.case_id.in_(cases), ["notes_enc", "case_number"]
        ),
    )


def _anonymise(
    conn: Connection, vault: PiiVault, ids: list[int], counts: dict[str, int], now: datetime
) -> None:
    # The portal's traces first: they are found through the phone numbers' blind indexes,
    # which the steps below erase.
    _erase_portal(conn, ids, counts)
    _erase_free_text(conn, vault, ids, counts)
    points = select(_CP.c.id).where(_CP.c.borrower_id.in_(ids)).scalar_subquery()
    for name, table in sorted(Base.metadata.tables.items()):
        if "contact_point_id" in table.c:
            unlinked = conn.execute(
                update(table)
                .where(table.c.contact_point_id.in_(points))
                .values(contact_point_id=None)
            ).rowcount
            if unlinked:
                _add(counts, name, int(unlinked))
    _add(counts, "contact_points", _delete(conn, _CP, _CP.c.borrower_id.in_(ids)))
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
    _add(counts, "borrowers", len(ids))


def purge(
    conn: Connection,
    vault: PiiVault,
    *,
    as_of: date,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> PurgeReport:
    """Anonymise every borrower past retention on ``as_of``, and forget the throttles'
    records past theirs at ``now`` (module docstring).

    ``now`` (aware) is the caller's clock: ``anonymised_at`` is set to it, and sign-in
    attempts and unmask events older than their periods before it are deleted. Works in
    the caller's transaction; never commits.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ids = due_for_purge(conn, as_of)
    report = PurgeReport(as_of=as_of, dry_run=dry_run, borrowers_considered=len(ids))
    counts: dict[str, int] = dict.fromkeys((n for n, what in REVIEWED.items() if what != KEPT), 0)
    savepoint = conn.begin_nested()
    try:
        for chunk in chunked(ids):
            _anonymise(conn, vault, list(chunk), counts, now)
        counts.update(expire_throttle_records(conn, now))
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


def expire_throttle_records(conn: Connection, now: datetime) -> dict[str, int]:
    """Delete sign-in attempts and unmask events past their retention periods at ``now``
    (module docstring); the counts of rows deleted, by table."""
    return {
        "sign_in_attempts": sessions.purge_attempts(conn, now - sessions.KEEP_ATTEMPTS),
        "unmask_events": unmasking.purge(conn, now - unmasking.KEEP),
    }
