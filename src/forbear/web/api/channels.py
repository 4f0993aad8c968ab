"""Signed provider callbacks under /api/v1/channels: delivery receipts, inbound replies, real-
time payments (issue 13).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/channels", tags=["channels"])
