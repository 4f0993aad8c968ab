"""The purge itself: erase, de-identify and anonymise the borrowers past retention, and
forget the throttles' records past theirs (the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, or_, select, update

from forbear.services import sessions, unmasking
from forbear.services.assistant import retention as assistant_retention
from forbear.services.outreach import replies
from forbear.services.retention.policy import (
    _B,
    _CP,
    _L,
    ANONYMISED_NAME,
    ANONYMISED_TEXT,
    ERASED_WITH_BORROWER,
    KEPT,
    PLAN_TERMS_ERASED,
    REVIEWED,
    PurgeReport,
    due_for_purge,
)
from forbear.store import audit
from forbear.store.complaints import CaseEntry, Complaint
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.hold_cases import DisputeEvidence, HoldCase
from forbear.store.legal import LegalCase, LegalCaseEvent
from forbear.store.models import (
    Base,
    ContactKind,
    OwnerType,
)
from forbear.store.plans import REASON_CONTEXT, Plan, PlanApproval
from forbear.store.portal import PortalCode
from forbear.store.promises import Promise
from forbear.store.repositories import chunked
from forbear.store.runs import OutboxMessage


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
    for name, n in assistant_retention.erase_borrowers(conn, ids).items():
        _add(counts, name, n)


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
    # the text of each message as sent (their name, amounts, a portal link)
    _add(
        counts,
        "outbox",
        _clear(conn, OutboxMessage, OutboxMessage.borrower_id.in_(ids), ["body_enc"]),
    )
    # a hold's contact point is the borrower's own, deleted below
    held = _clear(conn, Hold, Hold.borrower_id.in_(ids), ["reason_enc", "contact_point_id"])
    _add(counts, "holds", held)
    # a dispute's answer and a release reason; the borrower's evidence (its sealed file
    # under the data directory stays until the files are swept; its row, with the file's
    # name, goes: nothing links the file to anyone)
    theirs = select(Hold.id).where(Hold.borrower_id.in_(ids)).scalar_subquery()
    _add(
        counts,
        "hold_cases",
        _clear(conn, HoldCase, HoldCase.hold_id.in_(theirs), ["answer_enc", "reason_enc"]),
    )
    evidence: Table = DisputeEvidence.__table__  # type: ignore[assignment]
    _add(counts, "dispute_evidence", _delete(conn, evidence, evidence.c.hold_id.in_(theirs)))
    # the reasons typed when a plan was submitted for approval, and of the decision
    approvals = PlanApproval.loan_id.in_(loans)
    marked = _mark(conn, vault, PlanApproval, approvals, {"reason_enc": REASON_CONTEXT})
    _clear(conn, PlanApproval, approvals, ["decision_reason_enc"])
    _add(counts, "plan_approvals", marked)
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
        for name, n in expire_throttle_records(conn, now).items():
            _add(counts, name, n)
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
    """Delete sign-in attempts, unmask events, provider callback records, replies from
    senders on no file and the assistant's conversations with them (and with third
    parties) past their retention periods at ``now`` (module docstring); the
    counts of rows deleted, by table."""
    return {
        "sign_in_attempts": sessions.purge_attempts(conn, now - sessions.KEEP_ATTEMPTS),
        "unmask_events": unmasking.purge(conn, now - unmasking.KEEP),
        **replies.expire(conn, now),
        **assistant_retention.expire(conn, now),
    }
