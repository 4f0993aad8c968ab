"""Composing a message to a borrower from the workbench: choose, preview, send (issue 13)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
