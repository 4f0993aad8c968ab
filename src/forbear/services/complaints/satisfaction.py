"""One-question satisfaction surveys after a complaint, a promise or a plan, and their
summary."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection, case, func, insert, select

from forbear.domain import complaints as domain
from forbear.domain.complaints import (
    ComplaintStatus,
    SurveySubject,
)
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services.complaints.common import (
    _actor,
    _business_day,
    _check_window,
    _require_borrower,
    _require_loan_of,
    _utc,
    _vocabulary,
)
from forbear.store import audit
from forbear.store.complaints import Complaint, SatisfactionResponse
from forbear.store.models import Loan
from forbear.store.plans import Plan
from forbear.store.promises import Promise

# --- satisfaction -------------------------------------------------------------------------


def _subject_loan(
    conn: Connection, subject: SurveySubject, subject_id: int
) -> tuple[int | None, int]:
    """(loan id, borrower id) of a survey's subject; NotFound when it does not exist."""
    if subject is SurveySubject.COMPLAINT:
        row = conn.execute(
            select(Complaint.loan_id, Complaint.borrower_id, Complaint.status).where(
                Complaint.id == subject_id
            )
        ).one_or_none()
        if row is None:
            raise NotFound("complaint", str(subject_id))
        if ComplaintStatus(row.status) in domain.OPEN_STATUSES:
            raise Conflict(f"complaint {subject_id} is not resolved yet: no survey before then")
        return row.loan_id, int(row.borrower_id)
    table = Plan if subject is SurveySubject.PLAN else Promise
    found = conn.execute(
        select(table.loan_id, Loan.borrower_id)
        .join(Loan, Loan.id == table.loan_id)
        .where(table.id == subject_id)
    ).one_or_none()
    if found is None:
        raise NotFound(subject.value, str(subject_id))
    return int(found[0]), int(found[1])


def record_satisfaction(
    conn: Connection,
    *,
    borrower_id: int,
    subject_type: str,
    subject_id: int,
    score: int,
    actor: str,
    now: datetime,
    loan_id: int | None = None,
) -> int:
    """Record the one-question survey ("how satisfied are you?", 1..5) after a plan, a
    promise or a complaint's resolution; one answer per subject. Returns the response id;
    audited as ``satisfaction.record``."""
    who, moment = _actor(actor), _utc(now)
    subject = _vocabulary(SurveySubject, subject_type, "subject_type")
    if isinstance(score, bool) or not isinstance(score, int) or score not in domain.SCORES:
        raise ValidationError("score", "must be a whole number from 1 to 5")
    _require_borrower(conn, borrower_id)
    subject_loan, owner = _subject_loan(conn, subject, subject_id)
    if owner != borrower_id:
        raise ValidationError("subject_id", "the subject is not the borrower's")
    if loan_id is not None:
        _require_loan_of(conn, loan_id, borrower_id)
        if subject_loan is not None and loan_id != subject_loan:
            raise ValidationError("loan_id", "the subject is on another loan")
    taken = conn.execute(
        select(SatisfactionResponse.id).where(
            SatisfactionResponse.subject_type == subject.value,
            SatisfactionResponse.subject_id == subject_id,
        )
    ).first()
    if taken is not None:
        raise Conflict(f"the {subject.value} {subject_id} survey is already answered")
    response_id = int(
        conn.execute(
            insert(SatisfactionResponse)
            .values(
                borrower_id=borrower_id,
                loan_id=loan_id if loan_id is not None else subject_loan,
                subject_type=subject.value,
                subject_id=subject_id,
                score=score,
                answered_at=moment,
                answered_on=_business_day(conn, moment),
                recorded_by=who,
            )
            .returning(SatisfactionResponse.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="satisfaction.record",
        actor=who,
        subject_type="satisfaction_response",
        subject_id=str(response_id),
        payload={"subject_type": subject.value, "subject_id": subject_id, "score": score},
        at=moment,
    )
    return response_id


SATISFACTION: dict[str, pl.DataType] = {
    "subject_type": pl.String(),  # plan, promise, complaint, or "all"
    "responses": pl.Int64(),
    "mean_score": pl.Float64(),  # null when no responses
    "share_4_5": pl.Float64(),  # share of 4 and 5 answers, null when no responses
}


def satisfaction_summary(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Survey results answered on business days ``start``..``end`` as ``SATISFACTION``:
    one row per subject type (all three, zero when none) and one ``all`` row."""
    _check_window(start, end)
    rows = conn.execute(
        select(
            SatisfactionResponse.subject_type,
            func.count(),
            func.sum(SatisfactionResponse.score),
            func.sum(case((SatisfactionResponse.score >= 4, 1), else_=0)),
        )
        .where(SatisfactionResponse.answered_on.between(start, end))
        .group_by(SatisfactionResponse.subject_type)
    ).all()
    by_type = {str(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}
    out = []
    totals = [0, 0, 0]
    for subject in SurveySubject:
        n, total, high = by_type.get(subject.value, (0, 0, 0))
        totals = [totals[0] + n, totals[1] + total, totals[2] + high]
        out.append(_summary_row(subject.value, n, total, high))
    out.append(_summary_row("all", *totals))
    return pl.DataFrame(out, schema=SATISFACTION)


def _summary_row(name: str, n: int, total: int, high: int) -> dict[str, object]:
    return {
        "subject_type": name,
        "responses": n,
        "mean_score": total / n if n else None,
        "share_4_5": high / n if n else None,
    }
