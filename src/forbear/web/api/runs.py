"""Daily runs (read-only): the list with their summaries, one run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from forbear.services import runs
from forbear.web.api.schemas import RunList, RunOut
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import MANAGEMENT_VIEW, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(prefix="/runs", tags=["runs"])
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]


def run_out(row: Any) -> RunOut:
    return RunOut(
        id=row.id,
        as_of=row.as_of,
        status=row.status,
        engine=row.engine,
        strategy_version_id=row.strategy_version_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        summary=row.summary,
    )


@router.get("", response_model=RunList, summary="Daily runs, newest first")
def list_runs(
    request: Request,
    principal: Manager,
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RunList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        total, rows = runs.list_runs(conn, principal.as_actor(), limit=limit, offset=offset)
    return RunList(total=total, items=[run_out(r) for r in rows])


@router.get("/{run_id}", response_model=RunOut, summary="One daily run with its summary")
def get_run(
    request: Request, principal: Manager, run_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> RunOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        return run_out(runs.get_run(conn, principal.as_actor(), run_id))
