"""Staff management for the admin (issue 15, item 9)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
