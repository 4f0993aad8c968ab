"""Secrets, signed cookies and the client address of the web app.

- The session secret signs cookies. ``FORBEAR_SESSION_SECRET`` (32+ characters) is
  required in production; in development and tests one is generated on first use into
  ``<data_dir>/session.key`` (mode 0600), like the development encryption key.
- Password hashes and random tokens are :mod:`forbear.services.credentials` (the use
  cases that check and store credentials need them).
- Keys of the sign-in rate limits are keyed hashes (HMAC-SHA256 with a key derived from
  the session secret), so the attempts table holds no username or address in clear.
- The client address of a request (:func:`client_address`) is the peer's, unless the peer
  is one of the configured trusted proxies (``FORBEAR_TRUSTED_PROXIES``): then it is the
  right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy. A header
  from anyone else is ignored (a client could write any address into it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from forbear.domain.errors import ConfigurationError
from forbear.settings import Environment, Settings

SESSION_KEY_FILE = "session.key"
MIN_SECRET_CHARS = 32
_UNSAFE_SECRETS = {"changeme", "change-me", "secret", "development", "dev", "session"}


def load_session_secret(settings: Settings) -> bytes:
    """The secret that signs session cookies (see the module docstring)."""
    if settings.session_secret is not None:
        text = settings.session_secret.get_secret_value().strip()
        if text.lower() in _UNSAFE_SECRETS or len(text) < MIN_SECRET_CHARS:
            raise ConfigurationError(
                f"FORBEAR_SESSION_SECRET must be at least {MIN_SECRET_CHARS} random characters"
            )
        return text.encode("utf-8")
    if settings.environment is Environment.PRODUCTION:
        raise ConfigurationError(
            "FORBEAR_SESSION_SECRET is not set: production refuses to start the web app "
            "without one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    return _load_or_create(settings.data_dir / SESSION_KEY_FILE)


def _load_or_create(path: Path) -> bytes:
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"session key file {path} is readable by others (mode {mode:o}); chmod 600 it"
            )
        text = path.read_text(encoding="ascii").strip()
        if len(text) < MIN_SECRET_CHARS:
            raise ConfigurationError(f"session key file {path} is too short")
        return text.encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return _load_or_create(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip().encode("ascii")


# ---------------------------------------------------------------- tokens


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class CookieSigner:
    """Signs and checks cookie values (itsdangerous, HMAC-SHA1 over a derived key, with a
    timestamp so a cookie older than ``max_age`` is refused even before the database is
    asked); keyed hashes for the rate-limit keys."""

    def __init__(self, secret: bytes, *, salt: str = "forbear.session") -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=salt)
        self._key = hashlib.sha256(b"forbear.rate-limit\x00" + secret).digest()
        # the secret of the stashed-form cookie (forbear.web.forms), derived apart
        self.form_secret = hashlib.sha256(b"forbear.form\x00" + secret).digest()

    def sign(self, value: str) -> str:
        return str(self._serializer.dumps(value))

    def unsign(self, signed: str, max_age: int) -> str | None:
        """The value, or None for a forged, tampered or too old cookie."""
        try:
            value = self._serializer.loads(signed, max_age=max_age)
        except (BadSignature, UnicodeDecodeError, ValueError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def key(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- client address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]
) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client of a request (see the module docstring). ``peer`` is the socket's
    address, ``forwarded_for`` the ``X-Forwarded-For`` header(s) joined by commas."""
    if peer is None:
        return "unknown"
    found = _address(peer)
    if found is None or not trusted or not _trusted(found, trusted) or not forwarded_for:
        return peer
    hops = [_address(hop) for hop in forwarded_for.split(",")]
    if any(hop is None for hop in hops):
        return peer  # a malformed chain: trust nothing in it
    # right to left: each trusted proxy appended the address it received the request from
    for hop in reversed(hops):
        assert hop is not None
        if not _trusted(hop, trusted):
            return str(hop)
    first = hops[0]
    return str(first) if first is not None else peer


def request_client(request: Request, trusted: Sequence[Network]) -> str:
    """:func:`client_address` of a request."""
    peer = request.client.host if request.client is not None else None
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    return client_address(peer, forwarded, trusted)
