"""The one place Forbear reads the wall clock.

Domain rules and use cases never read the clock themselves (``tests/unit/test_clock_passed_in.py``
checks it): the front end that starts a use case (a web request, a CLI command, the daily
run, the dispatcher) asks its :data:`Clock` for the moment once and passes ``now`` (an aware
UTC ``datetime``) or ``today`` (a ``date`` in the lender's zone) down. Tests pass a
:func:`fixed_clock`, so a test reads the same moment however slowly it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current moment, aware, in UTC."""


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stopped at ``at`` (which must be aware)."""
    if at.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    moment = at.astimezone(UTC)
    return lambda: moment


def today(clock: Clock, zone: tzinfo) -> date:
    """The calendar day ``clock`` reads in ``zone`` (the lender's business day)."""
    return clock().astimezone(zone).date()
