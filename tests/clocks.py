"""The fixed moments tests pass to use cases (no use case reads the clock:
``forbear/clock.py``). ``SETUP_AT`` stamps what a test sets up (imports, templates,
strategies, models, lender rules); ``SETUP_DAY`` is its day, from which imported products
take effect."""

from __future__ import annotations

from datetime import UTC, datetime

SETUP_AT = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
SETUP_DAY = SETUP_AT.date()
