"""The audit trail, page by page, for the compliance console (``audit.view``).

Reading only: events are written by the use cases that make them. Holds ids and codes,
never personal data (:mod:`forbear.store.audit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from forbear.domain.access import Actor
from forbear.store import audit
from forbear.store.audit import AuditEvent, VerifyResult

PAGE = 50


@dataclass(frozen=True)
class TrailPage:
    rows: list[Any]  # seq, at, actor, action, subject_type, subject_id, payload
    total: int
    pages: int
    verified: VerifyResult | None


def page(
    conn: Connection,
    actor: Actor,
    *,
    page_no: int,
    action: str | None = None,
    subject_type: str | None = None,
    verify: bool = False,
    size: int = PAGE,
) -> TrailPage:
    """One page of events, newest first, of one ``action`` and/or ``subject_type`` if
    given; ``verify`` checks the whole hash chain too."""
    actor.require("audit.view")
    t = AuditEvent
    stmt = select(t.seq, t.at, t.actor, t.action, t.subject_type, t.subject_id, t.payload)
    count = select(func.count()).select_from(t)
    if action:
        stmt, count = stmt.where(t.action == action), count.where(t.action == action)
    if subject_type:
        stmt = stmt.where(t.subject_type == subject_type)
        count = count.where(t.subject_type == subject_type)
    total = int(conn.execute(count).scalar_one())
    rows = list(
        conn.execute(stmt.order_by(t.seq.desc()).limit(size).offset((page_no - 1) * size)).all()
    )
    return TrailPage(
        rows=rows,
        total=total,
        pages=max(1, -(-total // size)),
        verified=audit.verify(conn) if verify else None,
    )
