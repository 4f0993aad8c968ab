"""``GET /api/v1/queue``: the work queue of the latest daily run, as the caller works it.

``items`` is the work still due; a row whose account no longer needs it since the run (a
plan accepted, a payment posted, a hold placed, a promise taken) is in ``settled`` with
the reason (:mod:`forbear.services.queue`). The figures are the live ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from forbear.services import queue
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
        found = queue.work_queue(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            at=web.now(),
            today=today,
            agent_ref=principal.agent_ref,
            team_id=principal.team_id,
            agent=agent,
        )
    return QueueOut(
        as_of=found.as_of,
        today=today,
        items=[item_out(i) for i in found.items],
        settled=[item_out(i) for i in found.settled],
    )


def item_out(i: queue.QueueItem) -> QueueItemOut:
    return QueueItemOut(
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
        settled=None if i.settled is None else i.settled.value,
    )
