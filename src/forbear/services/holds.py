"""Holds in SQL: the one SQL form of "a hold is open at ``at``"
(:func:`forbear.domain.holds.hold_open`; tests check the two agree)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from forbear.store.contacts import Hold


def open_at(at: datetime) -> ColumnElement[bool]:
    """``holds`` rows open at ``at``: begun by then and not yet ended."""
    return and_(Hold.since <= at, or_(Hold.until.is_(None), Hold.until > at))


def covering(borrower_id: int, loan_id: int) -> ColumnElement[bool]:
    """``holds`` rows that cover ``loan_id`` of ``borrower_id`` (a null loan covers all)."""
    return and_(
        Hold.borrower_id == borrower_id, or_(Hold.loan_id.is_(None), Hold.loan_id == loan_id)
    )
