"""Experiment readouts in the JSON API (issue 16, item 1): the experiments, one readout,
and promotion of a challenger (the same use cases as ``forbear experiment``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from forbear.services import experiments as svc
from forbear.web.deps import require_any, state_of
from forbear.web.sessions import Principal

router = APIRouter(prefix="/experiments", tags=["experiments"])
Reader = Annotated[Principal, Depends(require_any(*svc.READ))]
Manager = Annotated[Principal, Depends(require_any(svc.PROMOTE))]
ExperimentId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    arm: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=svc.MAX_REASON)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


def info_out(x: svc.ExperimentInfo) -> dict[str, Any]:
    return {
        "id": x.id,
        "segment": x.segment,
        "segment_treatment": x.segment_treatment,
        "arms": [{"name": a.name, "treatment": a.treatment, "share": a.share} for a in x.arms],
        "champion": x.champion,
        "control": x.control,
        "strategy_version_id": x.version.id if x.version else None,
        "active": x.active,
    }


@router.get("", summary="The experiments (the active strategy's first)")
def list_experiments(request: Request, principal: Reader) -> dict[str, Any]:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rows = svc.experiments(conn, principal.as_actor())
    return {"items": [info_out(x) for x in rows]}


@router.get(
    "/{experiment_id}/readout",
    summary="Per-arm outcomes, differences with intervals, detectable effects, verdicts",
)
def readout(
    request: Request,
    principal: Reader,
    experiment_id: ExperimentId,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    web = state_of(request)
    with web.forbear.reading() as conn:  # a readout writes nothing
        report = svc.report(conn, experiment_id, principal.as_actor(), start=start, end=end)
    return report.to_dict()


@router.post(
    "/{experiment_id}/promote",
    status_code=201,
    summary="Make an arm's treatment the segment's champion in a new candidate version",
)
def promote(
    request: Request, principal: Manager, experiment_id: ExperimentId, body: PromoteIn
) -> dict[str, Any]:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        p = svc.promote(
            conn, experiment_id, body.arm, principal.as_actor(), now=web.now(),
            reason=body.reason, start=body.from_, end=body.to,
        )  # fmt: skip
    return {
        "strategy_version_id": p.strategy.id,
        "name": p.strategy.name,
        "version": p.strategy.version,
        "status": p.strategy.status,
        "experiment": p.experiment,
        "arm": p.arm,
        "treatment": p.treatment,
        "verdict": p.verdict,
        "weak": p.weak,
    }
