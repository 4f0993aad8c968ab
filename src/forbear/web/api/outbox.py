"""The outbox for staff: messages by status, one message, retry and cancel (issue 13)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/outbox", tags=["outbox"])
