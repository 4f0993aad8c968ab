"""What the legal modules share: the permission, the actor check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from forbear.domain.access import can
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.store.models import Loan

PERMISSION = "legal.manage"


def require_permission(role: str) -> None:
    if not role:
        raise PermissionDenied("(none)", PERMISSION)
    if not can(role, PERMISSION):
        raise PermissionDenied(role, PERMISSION)


def _borrower_of(conn: Connection, loan_id: int) -> int:
    found = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("loan", str(loan_id))
    return int(found)


def _actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")


def stamp(now: datetime | None) -> dict[str, datetime]:
    """``created_at`` from the caller's clock; without one the store stamps the row."""
    return {} if now is None else {"created_at": now}
