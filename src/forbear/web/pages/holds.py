"""The holds and disputes queue (issue 15, item 1)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
