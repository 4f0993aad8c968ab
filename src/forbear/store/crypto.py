"""Field-level encryption and blind indexes for personal data (DESIGN.md, "Data and units").

Ciphertext layout: ``version (1 byte) || nonce (12 bytes) || AES-256-GCM(ciphertext + tag)``.
The associated data binds a value to its place (``"borrowers.mobile"``): a ciphertext
copied into another column fails to decrypt instead of showing up under the wrong label.

Two independent keys are derived from the master key with HKDF-SHA256, one for
encryption and one for the HMAC-SHA256 blind indexes, so a leaked index key reveals
nothing about the encryption key and vice versa.

Blind indexes make equality lookups possible (``borrowers.mobile_bidx``) without storing
the value in clear. Values are normalised per kind first, so ``+86 138-1234-5678`` and
``13812345678`` find the same borrower.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from forbear.domain.errors import ConfigurationError, ForbearError

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
CURRENT_KEY_VERSION = 1
_ENCRYPTION_INFO = b"forbear-pii-encryption"
_INDEX_INFO = b"forbear-blind-index"
_NON_DIGITS = re.compile(r"[^0-9]")
_WHITESPACE = re.compile(r"\s+")


class Contexts:
    """The associated-data labels of every encrypted column (``"table.column"``)."""

    BORROWER_NAME = "borrowers.name"
    BORROWER_NATIONAL_ID = "borrowers.national_id"
    BORROWER_MOBILE = "borrowers.mobile"
    BORROWER_EMAIL = "borrowers.email"
    BORROWER_ADDRESS = "borrowers.address"
    CONTACT_VALUE = "contact_points.value"
    CONTACT_OWNER_NAME = "contact_points.owner_name"
    # Free text that borrowers and staff type (it may hold anything: an ID number, a
    # phone, an illness), encrypted like the structured personal data above.
    COMPLAINT_DESCRIPTION = "complaints.description"
    COMPLAINT_EXTENSION_REASON = "complaints.extension_reason"
    COMPLAINT_RESOLUTION = "complaints.resolution"
    CASE_LESSON = "case_library.lesson"
    HOLD_REASON = "holds.reason"
    PROMISE_CANCEL_REASON = "promises.cancel_reason"
    PLAN_CANCEL_REASON = "plans.cancel_reason"
    LEGAL_CLOSED_REASON = "legal_cases.closed_reason"
    LEGAL_EVENT_NOTES = "legal_case_events.notes"
    # The sign-in code waiting in the portal's outbox.
    PORTAL_OUTBOX_PAYLOAD = "portal_outbox.payload"


class DecryptionFailed(ForbearError):
    """A stored value could not be decrypted: wrong key, wrong context, or tampered data.

    The message names the context only, never the plaintext or the ciphertext.
    """

    def __init__(self, context: str, reason: str) -> None:
        super().__init__(f"cannot decrypt a value for {context}: {reason}")
        self.context = context


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def normalise(kind: str, value: str) -> str:
    """The canonical form of ``value`` that the blind index of ``kind`` hashes.

    Every kind is NFKC-normalised first (full-width digits and letters, common in Chinese
    input methods, become ASCII) and stripped.

    - ``phone``: digits only; an 11-digit mainland mobile loses its ``86`` / ``0086`` prefix
    - ``national_id``: upper case (the check character ``x`` -> ``X``), inner spaces removed
    - ``email``: lower case
    - anything else: inner whitespace collapsed to one space
    """
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "phone":
        digits = _NON_DIGITS.sub("", text)
        for prefix in ("0086", "86"):
            rest = digits[len(prefix) :]
            if digits.startswith(prefix) and len(rest) == 11 and rest.startswith("1"):
                return rest
        return digits
    if kind == "national_id":
        return _WHITESPACE.sub("", text).upper()
    if kind == "email":
        return text.lower()
    return _WHITESPACE.sub(" ", text)


class PiiVault:
    """Encrypts, decrypts and blind-indexes personal data with keys derived from one
    master key.

    ``previous_keys`` maps older key versions to their master keys so values written
    before a key rotation can still be read; new values always use ``key_version``.
    ``index_key`` is the master key the blind indexes derive from (default ``key``).
    """

    def __init__(
        self,
        key: bytes,
        *,
        key_version: int = CURRENT_KEY_VERSION,
        previous_keys: dict[int, bytes] | None = None,
        index_key: bytes | None = None,
    ) -> None:
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"the master key must be {MASTER_KEY_BYTES} bytes")
        if not 0 < key_version < 256:
            raise ConfigurationError("key_version must be between 1 and 255")
        self._version = key_version
        self._aead: dict[int, AESGCM] = {key_version: AESGCM(_derive(key, _ENCRYPTION_INFO))}
        for version, old in (previous_keys or {}).items():
            if len(old) != MASTER_KEY_BYTES or not 0 < version < 256:
                raise ConfigurationError(f"previous key version {version} is malformed")
            self._aead.setdefault(version, AESGCM(_derive(old, _ENCRYPTION_INFO)))
        # The blind-index key does not follow encryption-key rotation (``forbear keys
        # rotate``): it stays derived from the keyring's index key, so lookups keep
        # working while and after values are re-encrypted. Default: the current key.
        if index_key is not None and len(index_key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"the index key must be {MASTER_KEY_BYTES} bytes")
        self._index_key = _derive(key if index_key is None else index_key, _INDEX_INFO)

    @property
    def key_version(self) -> int:
        """The version new values are encrypted with (the first byte of every value)."""
        return self._version

    def __repr__(self) -> str:  # never show key material
        return f"PiiVault(key_version={self._version})"

    @staticmethod
    def _associated_data(version: int, context: str) -> bytes:
        return bytes([version]) + context.encode("utf-8")

    def encrypt(self, text: str, *, context: str) -> bytes:
        """Encrypt ``text`` for the place named by ``context`` (``"table.column"``)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self._version].encrypt(
            nonce, text.encode("utf-8"), self._associated_data(self._version, context)
        )
        return bytes([self._version]) + nonce + sealed

    def encrypt_optional(self, text: str | None, *, context: str) -> bytes | None:
        return None if text is None else self.encrypt(text, context=context)

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """The text sealed by :meth:`encrypt` with the same ``context``.

        Raises :class:`DecryptionFailed` for a wrong key, a wrong context or tampering.
        """
        if len(blob) < 1 + NONCE_BYTES + 16:
            raise DecryptionFailed(context, "value is too short")
        version = blob[0]
        aead = self._aead.get(version)
        if aead is None:
            raise DecryptionFailed(context, f"unknown key version {version}")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = aead.decrypt(nonce, sealed, self._associated_data(version, context))
        except InvalidTag:
            raise DecryptionFailed(
                context, "authentication failed (wrong key, wrong column or tampered)"
            ) from None
        return plain.decode("utf-8")

    def decrypt_optional(self, blob: bytes | None, *, context: str) -> str | None:
        return None if blob is None else self.decrypt(blob, context=context)

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 (hex) of the normalised ``value``; the kind is part of the message,
        so the same text indexed as two kinds gives two unrelated digests."""
        message = kind.encode("utf-8") + b"\x00" + normalise(kind, value).encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()
