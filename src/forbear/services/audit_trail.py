"""The audit trail for the compliance console (``audit.view``): page by page with filters
(date range, actor, action, subject type), and the same selection as a CSV export.

Reading only, apart from the export itself, which is audited (``audit.export``, naming the
filters and the row count): events are written by the use cases that make them. Events
hold ids and codes, never personal data (:mod:`forbear.store.audit`), so what the export
carries is what the page shows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, func, select

from forbear.domain.access import Actor
from forbear.domain.errors import ValidationError
from forbear.domain.spreadsheet import safe_text
from forbear.store import audit
from forbear.store.audit import AuditEvent, VerifyResult

PAGE = 50
EXPORT_MAX = 100_000  # rows in one export; a wider selection is refused (narrow the dates)
COLUMNS = ("seq", "at", "actor", "action", "subject_type", "subject_id", "payload")


@dataclass(frozen=True)
class TrailFilter:
    """Which events: ``start``..``end`` are local dates (both included) in ``zone``;
    ``actor`` matches part of the actor's name (``agent1`` finds ``web:agent1``)."""

    start: date | None = None
    end: date | None = None
    actor: str | None = None
    action: str | None = None
    subject_type: str | None = None
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ValidationError("start", "the first day is after the last day")


@dataclass(frozen=True)
class TrailPage:
    rows: list[Any]  # seq, at, actor, action, subject_type, subject_id, payload
    total: int
    pages: int
    verified: VerifyResult | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(stmt: Select[Any], chosen: TrailFilter) -> Select[Any]:
    t = AuditEvent
    zone = ZoneInfo(chosen.zone)
    if chosen.start:
        stmt = stmt.where(t.at >= datetime.combine(chosen.start, time(0), zone))
    if chosen.end:
        stmt = stmt.where(t.at < datetime.combine(chosen.end + timedelta(days=1), time(0), zone))
    if chosen.actor and chosen.actor.strip():
        stmt = stmt.where(
            func.lower(t.actor).like(_like(chosen.actor.strip().lower()), escape="\\")
        )
    if chosen.action and chosen.action.strip():
        stmt = stmt.where(t.action == chosen.action.strip())
    if chosen.subject_type and chosen.subject_type.strip():
        stmt = stmt.where(t.subject_type == chosen.subject_type.strip())
    return stmt


def _selected() -> Any:
    t = AuditEvent
    return select(t.seq, t.at, t.actor, t.action, t.subject_type, t.subject_id, t.payload)


def page(
    conn: Connection,
    actor: Actor,
    *,
    page_no: int,
    action: str | None = None,
    subject_type: str | None = None,
    verify: bool = False,
    size: int = PAGE,
    chosen: TrailFilter | None = None,
) -> TrailPage:
    """One page of events, newest first, of the chosen filter (``action`` and
    ``subject_type`` as keywords are kept for older callers); ``verify`` checks the whole
    hash chain too."""
    actor.require("audit.view")
    chosen = chosen or TrailFilter(action=action, subject_type=subject_type)
    count = _where(select(func.count()).select_from(AuditEvent), chosen)
    total = int(conn.execute(count).scalar_one())
    stmt = _where(_selected(), chosen).order_by(AuditEvent.seq.desc())
    rows = list(conn.execute(stmt.limit(size).offset((page_no - 1) * size)).all())
    return TrailPage(
        rows=rows,
        total=total,
        pages=max(1, -(-total // size)),
        verified=audit.verify(conn) if verify else None,
    )


def actions(conn: Connection, actor: Actor) -> list[str]:
    """The actions the trail holds (for the filter's choices)."""
    actor.require("audit.view")
    t = AuditEvent
    return list(conn.execute(select(t.action).distinct().order_by(t.action)).scalars())


def subject_types(conn: Connection, actor: Actor) -> list[str]:
    """The kinds of subject the trail holds (for the filter's choices)."""
    actor.require("audit.view")
    t = AuditEvent
    return list(conn.execute(select(t.subject_type).distinct().order_by(t.subject_type)).scalars())


def export_csv(conn: Connection, actor: Actor, chosen: TrailFilter, *, now: datetime) -> str:
    """The chosen events, oldest first, as CSV text (UTF-8 with BOM for spreadsheets);
    every cell escaped against formula injection (:mod:`forbear.domain.spreadsheet`).
    Audited as ``audit.export``."""
    actor.require("audit.view")
    count = _where(select(func.count()).select_from(AuditEvent), chosen)
    total = int(conn.execute(count).scalar_one())
    if total > EXPORT_MAX:
        raise ValidationError(
            "start", f"{total} events chosen; at most {EXPORT_MAX} per export (narrow the dates)"
        )
    zone = ZoneInfo(chosen.zone)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in conn.execute(_where(_selected(), chosen).order_by(AuditEvent.seq)):
        writer.writerow(
            [
                r.seq,
                r.at.astimezone(zone).isoformat(timespec="seconds"),
                safe_text(r.actor),
                safe_text(r.action),
                safe_text(r.subject_type),
                safe_text(str(r.subject_id)),
                safe_text(r.payload or ""),
            ]
        )
    audit.record(
        conn,
        action="audit.export",
        actor=actor.name,
        subject_type="audit_trail",
        subject_id="csv",
        payload={
            "rows": total,
            "start": chosen.start.isoformat() if chosen.start else None,
            "end": chosen.end.isoformat() if chosen.end else None,
            "actor": chosen.actor or None,
            "action": chosen.action or None,
            "subject_type": chosen.subject_type or None,
        },
        at=now,
    )
    return out.getvalue()
