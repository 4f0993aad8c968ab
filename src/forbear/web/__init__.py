"""The web app (issue 7): FastAPI JSON API under ``/api/v1`` and server-rendered pages.

Start it with ``forbear serve``; build it in code with :func:`create_app`. docs/web.md
describes roles, API authentication and the security measures.
"""

from __future__ import annotations

from forbear.web.app import create_app

__all__ = ["create_app"]
