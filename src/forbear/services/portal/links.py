"""Signed portal links: the address in a message that opens the borrower's own portal page.

A link only **pre-selects** the borrower at the portal's sign-in (the page may greet them
and skip the "whose account" step); it never opens a session. Signing in still needs the
one-time code sent to the borrower's own mobile (:mod:`forbear.services.portal.sign_in`):
a forwarded or leaked SMS gives nobody access.

The token is ``<borrower_id>.<expires>.<mac>``: ``expires`` in Unix seconds, ``mac`` the
first 128 bits of an HMAC-SHA256 over ``portal_link|v1|<borrower_id>|<expires>`` under a
key derived from the master key (the vault's keyed hash,
:meth:`forbear.store.crypto.PiiVault.blind_index`, which does not change when encryption
keys rotate, so links already sent keep working). The dispatcher and the web app derive
the same key from the same keyring; no extra secret to configure. A token holds no
personal data (the borrower's row id is an internal number).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from forbear.domain.errors import ValidationError

LINK_TTL = timedelta(days=7)  # a reminder's link is good for a week
_MAX_TTL = timedelta(days=31)
_KIND = "portal_link"
_MAC_HEX = 32  # 128 bits: plenty against forgery, short enough for an SMS
SIGN_IN_PATH = "/portal/sign-in"
QUERY = "t"


class Keyed(Protocol):
    """What signs: the vault (its keyed hash)."""

    def blind_index(self, kind: str, value: str) -> str: ...


class LinkRefused(ValidationError):
    """A portal link that is malformed, forged or expired (a 400). The reason is one
    word; the token itself is never repeated."""

    def __init__(self, reason: str) -> None:
        super().__init__("link", f"portal link refused: {reason}")


def _mac(key: Keyed, borrower_id: int, expires: int) -> str:
    return key.blind_index(_KIND, f"{_KIND}|v1|{borrower_id}|{expires}")[:_MAC_HEX]


def sign(key: Keyed, borrower_id: int, *, now: datetime, ttl: timedelta = LINK_TTL) -> str:
    """A token for ``borrower_id`` that expires ``ttl`` after ``now``."""
    if borrower_id <= 0:
        raise ValueError("borrower_id must be positive")
    if not timedelta(0) < ttl <= _MAX_TTL:
        raise ValueError(f"a link lives between a second and {_MAX_TTL.days} days")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    expires = int((now + ttl).timestamp())
    return f"{borrower_id}.{expires}.{_mac(key, borrower_id, expires)}"


def link(
    key: Keyed, public_url: str, borrower_id: int, *, now: datetime, ttl: timedelta = LINK_TTL
) -> str:
    """The full address: ``<public_url>/portal/sign-in?t=<token>``."""
    token = sign(key, borrower_id, now=now, ttl=ttl)
    return f"{public_url.rstrip('/')}{SIGN_IN_PATH}?{QUERY}={quote(token, safe='.')}"


def verify(key: Keyed, token: str, *, now: datetime) -> int:
    """The borrower a token was signed for; :class:`LinkRefused` (``malformed``,
    ``forged``, ``expired``) otherwise. Compares the MAC in constant time."""
    if not isinstance(token, str) or len(token) > 80:
        raise LinkRefused("malformed")
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LinkRefused("malformed")
    borrower_id, expires, mac = int(parts[0]), int(parts[1]), parts[2]
    if borrower_id <= 0 or len(mac) != _MAC_HEX:
        raise LinkRefused("malformed")
    if not hmac.compare_digest(mac.lower(), _mac(key, borrower_id, expires)):
        raise LinkRefused("forged")
    if datetime.fromtimestamp(expires, UTC) <= now:
        raise LinkRefused("expired")
    return borrower_id
