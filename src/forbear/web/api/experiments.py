"""Experiment readouts in the JSON API (issue 16, item 1)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/experiments", tags=["experiments"])
