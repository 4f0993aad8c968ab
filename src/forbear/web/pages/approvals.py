"""The supervisors' queue of plans beyond an agent's authority (issue 15, item 2)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
