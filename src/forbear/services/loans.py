"""Small look-ups on loans that front ends need to show or route a request."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from forbear.store.models import Loan


def borrower_of(conn: Connection, loan_id: int) -> int:
    """The id of the borrower of loan ``loan_id`` (which must exist)."""
    borrower: int = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
    return borrower


def external_refs(conn: Connection, loan_ids: Iterable[int]) -> dict[int, str]:
    """The lender's reference of each of ``loan_ids`` that exists."""
    ids = list(loan_ids)
    if not ids:
        return {}
    rows = conn.execute(select(Loan.id, Loan.external_ref).where(Loan.id.in_(ids))).all()
    return {int(i): str(ref) for i, ref in rows}


__all__ = ["borrower_of", "external_refs"]
