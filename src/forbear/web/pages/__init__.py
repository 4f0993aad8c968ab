"""Server-rendered pages (Jinja2), Chinese first: one router module per area.

Areas of issue 6 (promises, plans, legal, complaints) and the borrower portal add a
module here and one ``include_router`` line below.
"""

from __future__ import annotations

from fastapi import APIRouter

from forbear.web.pages import (
    accounts,
    admin,
    approvals,
    assistant,
    auth,
    collection,
    complaints,
    compliance,
    compose,
    dashboard,
    experiments,
    holds,
    legal,
    portal,
    portal_contact,
    portal_link,
    replies,
    sent,
    strategies,
    workbench,
)

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(workbench.router)
router.include_router(accounts.router)
router.include_router(collection.router)
router.include_router(legal.router)
router.include_router(complaints.router)
router.include_router(compliance.router)
router.include_router(dashboard.router)
router.include_router(portal.router)
router.include_router(portal_contact.router)
router.include_router(sent.router)
router.include_router(replies.router)
router.include_router(compose.router)
router.include_router(portal_link.router)
router.include_router(assistant.router)
router.include_router(holds.router)
router.include_router(approvals.router)
router.include_router(strategies.router)
router.include_router(experiments.router)
router.include_router(admin.router)
