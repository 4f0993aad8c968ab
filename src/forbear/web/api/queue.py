"""``GET /api/v1/queue``: the work queue of the latest daily run, as the caller works it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from forbear.web import reads
from forbear.web.api.schemas import Money, QueueItemOut, QueueOut
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import ACCOUNT_VIEW
from forbear.web.sessions import Principal

router = APIRouter(tags=["queue"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]


@router.get(
    "/queue",
    response_model=QueueOut,
    summary="Today's work queue (the latest completed run up to today), by agent and rank",
)
def get_queue(
    request: Request,
    principal: Viewer,
    agent: Annotated[
        str | None, Query(min_length=1, max_length=64, description="one agent id only")
    ] = None,
) -> QueueOut:
    web = state_of(request)
    today = web.today()
    with web.forbear.transaction() as conn:
        day = reads.queue_date(conn, today)
        items = (
            []
            if day is None
            else reads.work_queue(
                conn, web.forbear.vault, principal, at=web.now(), as_of=day, agent=agent
            )
        )
    return QueueOut(
        as_of=day,
        today=today,
        items=[
            QueueItemOut(
                rank=i.rank,
                agent_id=i.agent_id,
                team_id=i.team_id,
                loan_id=i.loan_id,
                loan_ref=i.loan_ref,
                borrower_name=i.borrower_name,
                channel=i.channel,
                template=i.template,
                carried=i.carried,
                bucket=i.bucket,
                dpd=i.dpd,
                overdue_total=Money.maybe(i.overdue_total),
            )
            for i in items
        ],
    )
