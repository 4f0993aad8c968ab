"""The sent-messages page: what the dispatcher handed to each channel (the sandbox's messages
in the demo), with status (issue 13).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
