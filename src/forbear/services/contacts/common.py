"""What the contact use cases share: the channel vocabulary, which contact point a
channel reaches, validation helpers and the audited insert (the record with
``created_by``/``created_at`` and its audit event in the caller's transaction).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update

from forbear.domain.compliance.schema import Channel, HoldKind
from forbear.domain.errors import NotFound, ValidationError
from forbear.store import audit
from forbear.store.contacts import (
    Hold,
)
from forbear.store.models import ContactKind, ContactPoint, Loan
from forbear.store.workbench import Callback, CallbackStatus

E = TypeVar("E", bound=StrEnum)

# Which kind of contact point each channel reaches. Channels mapped to None need none
# (in-app messages and pushes reach the app); letters and visits may name an address or
# go to the address on file.
CHANNEL_POINT_KIND: dict[Channel, ContactKind | None] = {
    Channel.CALL: ContactKind.PHONE,
    Channel.AI_CALL: ContactKind.PHONE,
    Channel.SMS: ContactKind.PHONE,
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.IM: None,
    Channel.APP_PUSH: None,
    Channel.LETTER: ContactKind.ADDRESS,
    Channel.VISIT: ContactKind.ADDRESS,
}
# Channels that cannot go anywhere without a contact point: the debtor's primary one is
# taken when none is named.
NEEDS_POINT = frozenset({Channel.CALL, Channel.AI_CALL, Channel.SMS, Channel.EMAIL})


MAX_TYPED_REASON = 2000  # a hold reason typed by a person


def loan_id_for_ref(conn: Connection, loan_ref: str) -> int:
    """The internal id of the loan the lender calls ``loan_ref``."""
    found = conn.execute(select(Loan.id).where(Loan.external_ref == loan_ref)).scalar_one_or_none()
    if found is None:
        raise NotFound("loan", loan_ref)
    return int(found)


def _insert_hold(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int | None,
    kind: HoldKind,
    channel: Channel | None,
    contact_point_id: int | None,
    since: datetime,
    reason: str | None,
    actor: str,
    now: datetime,
    reason_enc: bytes | None = None,
) -> int:
    return _insert_audited(
        conn,
        Hold,
        {
            "reason_enc": reason_enc,
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "kind": kind.value,
            "channel": channel.value if channel is not None else None,
            "contact_point_id": contact_point_id,
            "since": since,
            "reason": reason,
        },
        action="hold.add",
        actor=actor,
        now=now,
        subject=("hold", None),
        payload={
            "borrower_id": borrower_id,
            "loan_id": loan_id,
            "kind": kind.value,
            "channel": channel.value if channel is not None else None,
            "contact_point_id": contact_point_id,
            "since": since.isoformat(),
        },
    )


def _insert_audited(
    conn: Connection,
    model: Any,
    values: dict[str, Any],
    *,
    action: str,
    actor: str,
    now: datetime,
    subject: tuple[str, int | None],
    payload: dict[str, Any],
) -> int:
    """Insert one record (``created_by``, ``created_at`` = ``now`` added) and its audit
    event in the caller's transaction; ``subject`` is (type, id), a None id meaning the
    new record."""
    new_id = conn.execute(
        insert(model)
        .values(**values, created_by=actor, created_at=_utc(now, "now"))
        .returning(model.id)
    ).scalar_one()
    kind, subject_id = subject
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type=kind,
        subject_id=str(new_id if subject_id is None else subject_id),
        payload=payload,
    )
    return int(new_id)


def _require_point(
    conn: Connection, borrower_id: int, contact_point_id: int, columns: Sequence[Any] = ()
) -> Any:
    point = conn.execute(
        select(ContactPoint.borrower_id, *columns).where(ContactPoint.id == contact_point_id)
    ).one_or_none()
    if point is None:
        raise NotFound("contact point", str(contact_point_id))
    if point.borrower_id != borrower_id:
        # Said without revealing whose it is.
        raise ValidationError(
            "contact_point_id", f"contact point {contact_point_id} is not on this loan's file"
        )
    return point


def _borrower_of(conn: Connection, loan_id: int) -> int:
    borrower_id = conn.execute(
        select(Loan.borrower_id).where(Loan.id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise NotFound("loan", str(loan_id))
    return int(borrower_id)


def _vocabulary(enum: type[E], value: str, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(member.value for member in enum)
        raise ValidationError(field, f"unknown value {value!r} (one of: {known})") from None


def _channel(value: str) -> Channel:
    return _vocabulary(Channel, value, "channel")


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)


def _actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def blocked_by_of(stored: str) -> list[str]:
    """``contact_attempts.blocked_by`` as a list of rule ids."""
    return [str(rule) for rule in json.loads(stored)]


# How early a call may come before an agreed callback's time and still keep the promise.
CALLBACK_EARLY = timedelta(minutes=30)


def _close_due_callbacks(
    conn: Connection, *, loan_id: int, attempt_id: int, actor: str, now: datetime
) -> list[int]:
    """A call that went through on ``loan_id`` keeps the callbacks agreed for about now
    (:mod:`.callbacks`): they are closed as ``done`` with the attempt, audited. The
    ``status = 'open'`` condition makes a concurrent closing of the same callback a no-op."""
    due = [
        int(i)
        for i in conn.execute(
            select(Callback.id).where(
                Callback.loan_id == loan_id,
                Callback.status == CallbackStatus.OPEN.value,
                Callback.due_at <= now + CALLBACK_EARLY,
            )
        ).scalars()
    ]
    closed = []
    for callback_id in due:
        done = conn.execute(
            update(Callback)
            .where(Callback.id == callback_id, Callback.status == CallbackStatus.OPEN.value)
            .values(status=CallbackStatus.DONE.value, closed_at=now, closed_by=actor)
        ).rowcount
        if done:
            closed.append(callback_id)
            audit.record(
                conn,
                action="callback.done",
                actor=actor,
                subject_type="callback",
                subject_id=callback_id,
                payload={"loan_id": loan_id, "attempt_id": attempt_id},
                at=now,
            )
    return closed
