"""Password hashes and random tokens of staff accounts, sessions and API tokens.

- Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
  recommended parameter set); hashes made with older parameters are upgraded at the next
  successful sign-in (:mod:`forbear.services.sessions`).
- Session and API tokens are 32 random bytes; the database keeps only their sha256.

The web app's cookie signing and client address stay in :mod:`forbear.web.security`
(HTTP concerns); everything a use case needs to check or store a credential is here.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from forbear.domain.errors import ValidationError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
TOKEN_BYTES = 32
API_TOKEN_PREFIX = "fbr_"
# A few passwords every guessing list starts with; length alone does not stop them.
_COMMON_PASSWORDS = {
    "1234567890",
    "12345678910",
    "0123456789",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "abcdefghij",
    "iloveyou123",
    "woaini1314",
    "a123456789",
}

_hasher = PasswordHasher()
# Verified when a username is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_password(password: str, username: str) -> None:
    """Refuse weak passwords with a :class:`ValidationError` naming the reason."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError("password", f"at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValidationError("password", f"at most {MAX_PASSWORD_CHARS} characters")
    if len(set(password)) < 4:
        raise ValidationError("password", "too few different characters")
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or username.lower() in lowered:
        raise ValidationError("password", "too easy to guess")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an unknown user (``None``) costs the same time."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# letters and digits a person reads aloud or types without confusing them (no 0/O, 1/l/I)
_READABLE = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_initial_password() -> str:
    """A random 16-character password for a new or reset account, shown once to the admin
    who hands it over (about 93 bits)."""
    while True:
        candidate = "".join(secrets.choice(_READABLE) for _ in range(16))
        if len(set(candidate)) >= 8:
            return candidate


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
