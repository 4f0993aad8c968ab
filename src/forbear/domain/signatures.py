"""HMAC signatures of provider traffic, both ways: the webhooks Forbear sends (app push, AI
voice) and the callbacks providers send back (receipts, replies, payments).

The signed text is ``<unix seconds>.<body bytes>``; the signature is hex HMAC-SHA256 under
the provider's secret. A callback is accepted only when the signature matches (compared in
constant time) and its timestamp lies within ``window`` of now; the caller refuses a
signature it has already seen (replay) by storing it. Pure: the moment is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from forbear.domain.errors import ForbearError

# How far a callback's timestamp may be from the receiver's clock, either way.
DEFAULT_WINDOW = timedelta(minutes=5)


class SignatureRefused(ForbearError):
    """A signature that does not hold. ``reason`` is one of ``missing``, ``malformed``,
    ``stale`` or ``mismatch``; the message names no secret and no body."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"signature refused: {reason}")
        self.reason = reason


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> int:
    """Check a callback's ``timestamp`` (unix seconds, as sent) and ``signature`` (hex)
    over ``body`` at ``now``; return the timestamp, else raise :class:`SignatureRefused`."""
    if not timestamp or not signature:
        raise SignatureRefused("missing")
    try:
        moment = int(timestamp)
    except ValueError:
        raise SignatureRefused("malformed") from None
    if len(signature) != 64 or any(c not in "0123456789abcdef" for c in signature.lower()):
        raise SignatureRefused("malformed")
    if abs(now.timestamp() - moment) > window.total_seconds():
        raise SignatureRefused("stale")
    expected = sign(secret, moment, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureRefused("mismatch")
    return moment
