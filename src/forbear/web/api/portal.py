"""The portal area's API routesapi (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
