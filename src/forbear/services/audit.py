"""Reading the audit trail, for operators: verify its hash chain, list its newest events.

Writing events stays with the use cases that make them (:func:`forbear.store.audit.record`
inside their transaction); this module only reads.
"""

from __future__ import annotations

from sqlalchemy import Connection

from forbear.store import audit as trail
from forbear.store.audit import EventView, Problem, VerifyResult


def verify(conn: Connection) -> VerifyResult:
    """Check the whole chain: edited, deleted or inserted events are listed as problems."""
    return trail.verify(conn)


def recent_events(
    conn: Connection, *, action: str | None = None, limit: int = 50
) -> list[EventView]:
    """The newest ``limit`` events (of one ``action`` if given), newest first."""
    return trail.events(conn, action=action, limit=limit)


def payload_text(event: EventView) -> str:
    """An event's payload as the canonical JSON the chain hashes (ids only, no personal data)."""
    return trail.canonical_json(event.payload)


__all__ = ["EventView", "Problem", "VerifyResult", "payload_text", "recent_events", "verify"]
