"""Daily runs, read-only: the list with their summaries, one run.

Open to the roles that steer the operation (any of :data:`MANAGE`): supervisors,
compliance officers and administrators; agents do not see them (least privilege).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.store.runs import Run

# Read-only management views have no permission of their own in the roles file.
MANAGE = ("plan.approve", "compliance.view", "model.manage", "config.change")


def require_manager(actor: Actor) -> None:
    """:class:`PermissionDenied` unless ``actor`` holds one of :data:`MANAGE`."""
    if not any(actor.may(p) for p in MANAGE):
        raise PermissionDenied(str(actor.role), " | ".join(MANAGE))


def list_runs(conn: Connection, actor: Actor, *, limit: int, offset: int) -> tuple[int, list[Any]]:
    """How many runs there are, and ``limit`` of them from ``offset``, newest first."""
    require_manager(actor)
    total = conn.execute(select(func.count()).select_from(Run)).scalar_one()
    rows = conn.execute(
        select(Run.__table__).order_by(Run.as_of.desc(), Run.id.desc()).limit(limit).offset(offset)
    ).all()
    return int(total), list(rows)


def get_run(conn: Connection, actor: Actor, run_id: int) -> Any:
    """One run (:class:`NotFound` if there is none)."""
    require_manager(actor)
    row = conn.execute(select(Run.__table__).where(Run.id == run_id)).one_or_none()
    if row is None:
        raise NotFound("run", str(run_id))
    return row
