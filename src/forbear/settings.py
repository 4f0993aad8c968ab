"""Settings: the one pydantic-settings class, read by the composition root and entry points.

Every setting can come from the environment with the ``FORBEAR_`` prefix (for example
``FORBEAR_DATABASE_URL``) or from a ``.env`` file in the working directory.
"""

from __future__ import annotations

import base64
import os
import secrets
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from forbear.domain.errors import ConfigurationError

KEY_FILE_NAME = "forbear.key"
KEY_BYTES = 32  # AES-256-GCM data key; the HMAC blind-index key is derived from it
# Keys that must never protect real data: the empty key and the ones in our docs.
_KNOWN_UNSAFE_KEYS = {"", "changeme", "change-me", "dev", "development", "secret"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORBEAR_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path("./forbear-data"))
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data directory"
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 random bytes; in development generated into the data directory",
    )
    lender_timezone: str = "Asia/Shanghai"
    currency: str = "CNY"

    @field_validator("lender_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("currency must be a 3-letter ISO 4217 code")
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.lender_timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'forbear.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE_NAME

    def load_key(self) -> bytes:
        """The data-encryption key, refusing unsafe keys outside development.

        In development (and tests) a key is generated on first use into
        ``<data_dir>/forbear.key`` with mode 0600. In production the key must be given
        in ``FORBEAR_ENCRYPTION_KEY``; a missing, default or malformed key refuses to start.
        """
        if self.encryption_key is not None:
            return _decode_key(self.encryption_key.get_secret_value())
        if self.environment is Environment.PRODUCTION:
            raise ConfigurationError(
                "FORBEAR_ENCRYPTION_KEY is not set: production refuses to start without a key "
                "(generate one with `forbear keygen`)"
            )
        return _load_or_create_key_file(self.key_file)


def _decode_key(text: str) -> bytes:
    if text.strip().lower() in _KNOWN_UNSAFE_KEYS:
        raise ConfigurationError("FORBEAR_ENCRYPTION_KEY is a default or empty value: refused")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ConfigurationError("FORBEAR_ENCRYPTION_KEY is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(
            f"FORBEAR_ENCRYPTION_KEY must decode to {KEY_BYTES} bytes, not {len(raw)}"
        )
    if len(set(raw)) < 8:
        raise ConfigurationError("FORBEAR_ENCRYPTION_KEY is not random (too few distinct bytes)")
    return raw


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"key file {path} is readable by others (mode {mode:o}); run chmod 600 on it"
            )
        return _decode_key(path.read_text(encoding="ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once cannot both write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(new_key_text())
    return _decode_key(path.read_text(encoding="ascii"))
