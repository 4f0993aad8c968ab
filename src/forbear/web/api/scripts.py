"""Suggested script lines and financial-education articles for an account's situation
(:func:`forbear.services.script_panel.panel`: scope checked there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from forbear.services import script_panel
from forbear.web.collection_views import ScriptsOut, scripts_out
from forbear.web.deps import require_any, state_of, translator
from forbear.web.permissions import ACCOUNT_VIEW, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["collection"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the loan's internal id")]


@router.get(
    "/accounts/{loan_id}/scripts",
    response_model=ScriptsOut,
    summary="Suggested script lines for the account's situation",
)
def get_scripts(request: Request, principal: Viewer, loan_id: LoanId) -> ScriptsOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        found = script_panel.panel(
            conn, principal.as_actor(), loan_id, now=web.now(), today=web.today(), lang=t.lang
        )
    return scripts_out(found, t.lang)
