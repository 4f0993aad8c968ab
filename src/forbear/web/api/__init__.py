"""The JSON API under ``/api/v1``: one router module per area.

Areas of issue 6 (promises, plans, legal, complaints) add a module here and one
``include_router`` line below.
"""

from __future__ import annotations

from fastapi import APIRouter

from forbear.web.api import (
    accounts,
    assistant,
    catalogue,
    channels,
    collection,
    complaints,
    contacts,
    dashboard,
    education,
    experiments,
    me,
    outbox,
    outreach,
    portal,
    queue,
    runs,
)
from forbear.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
router.include_router(me.router)
router.include_router(accounts.router)
router.include_router(contacts.router)
router.include_router(queue.router)
router.include_router(runs.router)
router.include_router(catalogue.router)
router.include_router(collection.router)
router.include_router(complaints.router)
router.include_router(dashboard.router)
router.include_router(portal.router)
router.include_router(education.router)
router.include_router(channels.router)
router.include_router(outbox.router)
router.include_router(outreach.router)
router.include_router(assistant.router)
router.include_router(experiments.router)
