"""The assistant's API for the lender's own app (``/api/v1/assistant/...``, issue 14)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/assistant", tags=["assistant"])
