"""Collection work over the API, one route module per noun: promises to pay
(:mod:`.promises`), repayment plans (:mod:`.plans`), suggested script lines
(:mod:`.scripts`) and the legal console (:mod:`.legal`). Each route parses, calls one use
case (:mod:`forbear.services.promises.desk`, :mod:`forbear.services.plans.desk`,
:mod:`forbear.services.script_panel`, :mod:`forbear.services.legal.desk`,
:mod:`forbear.services.documents.desk`), which checks the permission and the caller's
scope, writes and audits in one transaction, and renders
(:mod:`forbear.web.collection_views`). A refused request writes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter

from forbear.web.api import legal, plans, promises, scripts
from forbear.web.collection_views import MAX_FEN

router = APIRouter()
router.include_router(promises.router)
router.include_router(plans.router)
router.include_router(scripts.router)
router.include_router(legal.router)

__all__ = ["MAX_FEN", "router"]
