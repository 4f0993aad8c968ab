"""Strategies from the web: list, compare, pre-launch check, activate (issue 15, item 8)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
