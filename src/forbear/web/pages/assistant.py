"""The assistant's pages (issue 14): the borrower's chat on the portal and the agents'
handoff queue and take-over page on the workbench."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
