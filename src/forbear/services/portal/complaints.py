"""A borrower's complaint and survey answers from the portal: a complaint (source
``portal``) about one of their own loans or about no loan, the complaint hold going on as
for any complaint (:mod:`forbear.services.complaints`); a survey answer after a plan or a
promise on one of their own loans."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from forbear.services.complaints import file_complaint, record_satisfaction
from forbear.services.portal.common import actor_of
from forbear.services.portal.loans import own_loan
from forbear.store.crypto import PiiVault


def complain(
    conn: Connection,
    vault: PiiVault,
    *,
    borrower_id: int,
    loan_id: int | None,
    category: str,
    description: str,
    now: datetime,
) -> int:
    """File the borrower's complaint; a loan that is not theirs is :class:`NotFound`
    before anything is written. Returns the complaint's id."""
    if loan_id is not None:
        own_loan(conn, borrower_id, loan_id)
    return file_complaint(
        conn,
        vault,
        borrower_id=borrower_id,
        loan_id=loan_id,
        source="portal",
        category=category,
        description=description,
        actor=actor_of(borrower_id),
        now=now,
    )


def answer_survey(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    subject_type: str,
    subject_id: int,
    score: int,
    now: datetime,
) -> int:
    """The borrower's answer to the one-question survey after a plan or a promise on one of
    their own loans (:class:`NotFound` otherwise, nothing written). Returns its id."""
    own_loan(conn, borrower_id, loan_id)
    return record_satisfaction(
        conn,
        borrower_id=borrower_id,
        subject_type=subject_type,
        subject_id=subject_id,
        score=score,
        actor=actor_of(borrower_id),
        now=now,
        loan_id=loan_id,
    )
