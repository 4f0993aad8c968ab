"""Daily runs, read-only: the list with their summaries, one run.

Open to the roles that steer the operation (any of :data:`MANAGE`): supervisors,
compliance officers and administrators; agents do not see them (least privilege).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, func, select

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.store.runs import Run, RunStatus

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


# --- the latest completed run of a range, as the dashboard shows it ---------------------


@dataclass(frozen=True)
class RunDay:
    run_id: int
    as_of: date
    summary: dict[str, Any]


def latest_run(conn: Connection, start: date, end: date) -> RunDay | None:
    """The completed daily run of the latest date in ``start..end``, if any."""
    row = conn.execute(
        select(Run.id, Run.as_of, Run.summary)
        .where(and_(Run.status == RunStatus.COMPLETED.value, Run.as_of >= start, Run.as_of <= end))
        .order_by(Run.as_of.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return RunDay(int(row.id), row.as_of, dict(row.summary or {}))


def capacity_use(summary: dict[str, Any] | None) -> pl.DataFrame:
    """The run summary's capacity entries (``forbear.domain.capacity.summary``) as a frame:
    ``channel, team_id, planned, scheduled, carried, capacity, used_pct``."""
    schema = {
        "channel": pl.String,
        "team_id": pl.String,
        "planned": pl.Int64,
        "scheduled": pl.Int64,
        "carried": pl.Int64,
        "capacity": pl.Int64,
        "used_pct": pl.Float64,
    }
    entries = (summary or {}).get("capacity") or []
    rows = [{k: e.get(k) for k in schema} for e in entries if isinstance(e, dict)]
    return pl.DataFrame(rows, schema=schema)


@dataclass(frozen=True)
class RunSummary:
    """The latest completed run of a range as the dashboard shows it."""

    run_id: int
    as_of: date
    accounts: int | None
    actions: int | None
    contacts_planned: int | None
    contacts_allowed: int | None
    contacts_blocked: int | None
    work_queue: int | None
    outbox_added: int | None
    capacity: list[dict[str, Any]]


def run_summary(run: RunDay | None) -> RunSummary | None:
    if run is None:
        return None
    summary = run.summary
    contacts = summary.get("contacts") or {}
    return RunSummary(
        run_id=run.run_id,
        as_of=run.as_of,
        accounts=summary.get("accounts"),
        actions=summary.get("actions"),
        contacts_planned=contacts.get("planned"),
        contacts_allowed=contacts.get("allowed"),
        contacts_blocked=contacts.get("blocked"),
        work_queue=summary.get("work_queue"),
        outbox_added=summary.get("outbox_added"),
        capacity=capacity_use(summary).to_dicts(),
    )
