"""Messages an agent sends from the workbench: templates and articles to choose from, the
rendered preview, send (issue 13).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/outreach", tags=["outreach"])
