"""Sessions on the web: the cookie and the header that carry them, and who is asking.

The use cases (sign-in within the rate limits, sessions, API tokens, sign-out) are
:mod:`forbear.services.sessions`; this module keeps what is HTTP: the session cookie's
name and lifetime. :class:`Principal` (the signed-in staff member of one request) is
defined there and re-exported here, where the web app imports it.
"""

from __future__ import annotations

from forbear.services.sessions import (
    ABSOLUTE,
    NewSession,
    Principal,
    Refused,
    SignInFailed,
    SignInThrottled,
)

__all__ = [
    "ABSOLUTE",
    "COOKIE_MAX_AGE",
    "SESSION_COOKIE",
    "NewSession",
    "Principal",
    "Refused",
    "SignInFailed",
    "SignInThrottled",
]

SESSION_COOKIE = "forbear_session"
COOKIE_MAX_AGE = int(ABSOLUTE.total_seconds())  # the cookie lives as long as the session may
