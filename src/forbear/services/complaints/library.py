"""The case library: lessons from closed accounts, searchable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select

from forbear.domain import complaints as domain
from forbear.domain.complaints import (
    CaseOutcome,
)
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services.complaints.common import (
    _actor,
    _business_day,
    _text,
    _utc,
    _vocabulary,
)
from forbear.store import audit
from forbear.store.complaints import CaseEntry
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Loan

# --- the case library ---------------------------------------------------------------------

CASES: dict[str, pl.DataType] = {
    "case_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "outcome": pl.String(),
    "category": pl.String(),
    "lesson": pl.String(),
    "written_by": pl.String(),
    "written_on": pl.Date(),
}


def add_case(
    conn: Connection,
    vault: PiiVault,
    *,
    loan_id: int,
    outcome: str,
    category: str,
    lesson: str,
    actor: str,
    now: datetime,
) -> int:
    """Tag a closed account ``success`` or ``failure`` with the lesson learnt (one entry
    per loan; the caller checks the writer is a supervisor or compliance officer; the
    lesson must hold no personal data). Audited as ``case.add``."""
    who, moment = _actor(actor), _utc(now)
    result = _vocabulary(CaseOutcome, outcome, "outcome")
    tag = _text(category, "category", limit=32)
    text = _text(lesson, "lesson", limit=domain.MAX_TEXT)
    if conn.execute(select(Loan.id).where(Loan.id == loan_id)).first() is None:
        raise NotFound("loan", str(loan_id))
    if conn.execute(select(CaseEntry.id).where(CaseEntry.loan_id == loan_id)).first():
        raise Conflict(f"loan {loan_id} is already in the case library")
    case_id = int(
        conn.execute(
            insert(CaseEntry)
            .values(
                loan_id=loan_id,
                outcome=result.value,
                category=tag,
                lesson_enc=vault.encrypt(str(text), context=Contexts.CASE_LESSON),
                written_by=who,
                written_on=_business_day(conn, moment),
            )
            .returning(CaseEntry.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="case.add",
        actor=who,
        subject_type="case",
        subject_id=str(case_id),
        payload={"loan_id": loan_id, "outcome": result.value, "category": tag},
        at=moment,
    )
    return case_id


_CASE_COLUMNS = (
    CaseEntry.id,
    CaseEntry.loan_id,
    CaseEntry.outcome,
    CaseEntry.category,
    CaseEntry.lesson_enc,
    CaseEntry.written_by,
    CaseEntry.written_on,
)


def _case_row(vault: PiiVault, row: Any) -> dict[str, object]:
    entry: dict[str, object] = dict(zip(CASES, row, strict=True))
    entry["lesson"] = vault.decrypt(row.lesson_enc, context=Contexts.CASE_LESSON)
    return entry


def get_case(conn: Connection, vault: PiiVault, case_id: int) -> dict[str, object]:
    """One case library entry as a ``CASES`` row."""
    row = conn.execute(select(*_CASE_COLUMNS).where(CaseEntry.id == case_id)).one_or_none()
    if row is None:
        raise NotFound("case", str(case_id))
    return _case_row(vault, row)


def search_cases(
    conn: Connection,
    vault: PiiVault,
    *,
    text: str | None = None,
    category: str | None = None,
    outcome: str | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Case library entries matching every given filter (``text``: words found in the
    lesson or the category, case-insensitive), newest first, as ``CASES``.

    The lesson is encrypted, so the words are matched after decryption, in Python: the
    case library is a curated list (one entry per closed account a supervisor chose to
    tag), small enough to scan; the outcome and category filters still run in SQL."""
    stmt = select(*_CASE_COLUMNS)
    if outcome is not None:
        stmt = stmt.where(CaseEntry.outcome == _vocabulary(CaseOutcome, outcome, "outcome").value)
    if category is not None and category.strip():
        stmt = stmt.where(func.lower(CaseEntry.category) == category.strip().lower())
    words: list[str] = []
    if text is not None:
        if len(text) > 200:
            raise ValidationError("text", "at most 200 characters")
        words = [w for w in text.lower().split() if w]
    stmt = stmt.order_by(CaseEntry.written_on.desc(), CaseEntry.id.desc())
    found: list[dict[str, object]] = []
    for row in conn.execute(stmt):
        entry = _case_row(vault, row)
        haystack = (str(entry["lesson"]).lower(), str(entry["category"]).lower())
        if all(any(w in field for field in haystack) for w in words):
            found.append(entry)
            if len(found) >= limit:
                break
    return pl.DataFrame(found, schema=CASES)
