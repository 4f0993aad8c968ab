"""The moment a use case works at, for the callers that do not pass one yet.

Every front end passes its clock's moment (CLI ``app.now()`` / ``app.today()``, web
``web.now()``, tests a fixed clock). A few public signatures had an optional moment before
the clock was passed in, and many tests still call them without it; for those callers only,
the moment falls back to :func:`forbear.clock.system_clock` here, the one place a service
may reach it. New code passes the moment and never relies on this.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from forbear.clock import system_clock


def now_or_clock(now: datetime | None) -> datetime:
    """``now`` if given, else the system clock (aware UTC)."""
    return now if now is not None else system_clock()


def today_or_clock(today: date | None, zone: tzinfo) -> date:
    """``today`` if given, else the system clock's day in ``zone``."""
    return today if today is not None else system_clock().astimezone(zone).date()
