"""Strategies and risk models (read-only lists)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from forbear.services import models, strategies
from forbear.web.api.schemas import ModelList, ModelOut, StrategyList, StrategyOut
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import MANAGEMENT_VIEW
from forbear.web.sessions import Principal

router = APIRouter(tags=["strategies and models"])
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]


@router.get("/strategies", response_model=StrategyList, summary="Strategy versions")
def list_strategies(request: Request, principal: Manager) -> StrategyList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        stored = strategies.list_strategies(conn)
        strategy, info = strategies.active_strategy(conn)
    return StrategyList(
        in_force=strategy.name,
        in_force_version_id=None if info is None else info.id,
        items=[StrategyOut.model_validate(s, from_attributes=True) for s in stored],
    )


@router.get("/models", response_model=ModelList, summary="Risk model versions")
def list_models(request: Request, principal: Manager) -> ModelList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = models.list_models(conn)
    return ModelList(items=[ModelOut.model_validate(m, from_attributes=True) for m in found])
