"""What the complaint use cases share: validation of actors, times, vocabularies and
text, the lender's time zone and business day, and the lifecycle move."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, select, update

from forbear.domain import complaints as domain
from forbear.domain.complaints import (
    ComplaintStatus,
)
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.store import audit
from forbear.store.complaints import Complaint
from forbear.store.models import Borrower, Loan

E = TypeVar("E", bound=StrEnum)

# --- helpers ------------------------------------------------------------------------------


def _actor(actor: str) -> str:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")
    return actor.strip()


def _utc(moment: datetime, field: str = "now") -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)


def _vocabulary(enum: type[E], value: object, field: str) -> E:
    allowed = ", ".join(member.value for member in enum)
    if not isinstance(value, str):
        raise ValidationError(field, f"must be one of {allowed}")
    try:
        return enum(value)
    except ValueError:
        raise ValidationError(field, f"must be one of {allowed}") from None


def _text(value: object, field: str, *, limit: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, f"at most {limit} characters")
    return value.strip()


def lender_zone(conn: Connection) -> ZoneInfo:
    """The lender's zone: business dates (receipt day, due day) are days there."""
    from forbear.services.lender import rules_in_force

    # the stored configuration, else the default (complaint use cases are not given the
    # data directory, so a development lender.yaml is not read here)
    return ZoneInfo(rules_in_force(conn, None).timezone_default)


def _business_day(conn: Connection, moment: datetime) -> date:
    return moment.astimezone(lender_zone(conn)).date()


def _require_borrower(conn: Connection, borrower_id: int) -> None:
    if conn.execute(select(Borrower.id).where(Borrower.id == borrower_id)).first() is None:
        raise NotFound("borrower", str(borrower_id))


def _require_loan_of(conn: Connection, loan_id: int, borrower_id: int) -> None:
    owner = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one_or_none()
    if owner is None:
        raise NotFound("loan", str(loan_id))
    if owner != borrower_id:
        raise ValidationError("loan_id", "the loan is not the borrower's")


def _row(conn: Connection, complaint_id: int) -> Row[Any]:
    row = conn.execute(
        select(Complaint.__table__).where(Complaint.id == complaint_id)
    ).one_or_none()
    if row is None:
        raise NotFound("complaint", str(complaint_id))
    return row


def _move(
    conn: Connection,
    complaint: Row[Any],
    to: ComplaintStatus,
    *,
    actor: str,
    at: datetime,
    action: str,
    values: dict[str, object],
    payload: dict[str, object] | None = None,
) -> None:
    current = ComplaintStatus(complaint.status)
    if not domain.can_move(current, to):
        raise Conflict(f"complaint {complaint.id} is {current.value}: it cannot become {to.value}")
    conn.execute(
        update(Complaint)
        .where(Complaint.id == complaint.id, Complaint.status == current.value)
        .values(status=to.value, **values)
    )
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type="complaint",
        subject_id=str(complaint.id),
        payload={"from": current.value, "to": to.value, **(payload or {})},
        at=at,
    )


def _check_window(start: date, end: date) -> None:
    if end < start:
        raise ValidationError("end", "the window ends before it starts")
