"""What every part of the daily run shares: its engines, its actor in the audit trail,
the local hour contacts are planned at."""

from __future__ import annotations

from datetime import time

from forbear.domain.errors import ValidationError

ENGINES = ("local", "spark")

CONTACT_HOUR = time(10, 0)

ACTOR = "system:daily-run"


class EngineUnavailable(ValidationError):
    """The requested engine cannot run here."""
