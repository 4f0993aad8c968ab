"""What the promise modules share: the audit event of one promise, the actor and UTC checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from forbear.domain.errors import ValidationError
from forbear.store import audit


def audit_one(
    conn: Connection, action: str, actor: str, promise_id: int, payload: dict[str, Any]
) -> None:
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type="promise",
        subject_id=str(promise_id),
        payload=payload,
    )


def check_actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")


def utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)
