"""Holds in SQL: the one SQL form of "a hold is open at ``at``"
(:func:`forbear.domain.holds.hold_open`; tests check the two agree), and the open holds
of one loan as the account page lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from forbear.store.contacts import Hold


def open_at(at: datetime) -> ColumnElement[bool]:
    """``holds`` rows open at ``at``: begun by then and not yet ended."""
    return and_(Hold.since <= at, or_(Hold.until.is_(None), Hold.until > at))


def covering(borrower_id: int, loan_id: int) -> ColumnElement[bool]:
    """``holds`` rows that cover ``loan_id`` of ``borrower_id`` (a null loan covers all)."""
    return and_(
        Hold.borrower_id == borrower_id, or_(Hold.loan_id.is_(None), Hold.loan_id == loan_id)
    )


def open_holds(
    conn: Connection, borrower_id: int, loan_id: int, at: datetime
) -> list[dict[str, Any]]:
    """Every hold covering ``loan_id`` open at ``at`` (``id, kind, channel, since,
    loan_id``), by id; no reasons (a typed reason stays encrypted)."""
    return [
        {"id": h.id, "kind": h.kind, "channel": h.channel, "since": h.since, "loan_id": h.loan_id}
        for h in conn.execute(
            select(Hold.id, Hold.kind, Hold.channel, Hold.since, Hold.loan_id)
            .where(covering(borrower_id, loan_id), open_at(at))
            .order_by(Hold.id)
        )
    ]
