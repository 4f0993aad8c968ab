"""Settings: the one pydantic-settings class, read by the composition root and entry points.

Every setting can come from the environment with the ``FORBEAR_`` prefix (for example
``FORBEAR_DATABASE_URL``) or from a ``.env`` file in the working directory.

Encryption keys form a :class:`Keyring` (key rotation, ``forbear keys rotate``). Where
they come from, first match wins:

1. ``FORBEAR_ENCRYPTION_KEYS``: the keyring as JSON,
   ``{"current": 2, "index": 1, "keys": {"1": "<base64>", "2": "<base64>"}}``
   (production: keep it in the secret store; rotating means adding a key, raising
   ``current``, deploying, then ``forbear keys reencrypt``);
2. ``FORBEAR_ENCRYPTION_KEY``: one base64 key, read as version 1;
3. outside production only, the key file ``<data_dir>/forbear.key`` (mode 0600): either one
   base64 key (the original format, version 1) or the keyring JSON above, which
   ``forbear keys rotate`` writes.

``current`` is the version new values are encrypted with; the others still decrypt.
``index`` (default: the lowest version) is the key the blind indexes derive from; it
does not rotate, so lookups by mobile or ID number work during and after a rotation.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
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
    encryption_keys: SecretStr | None = Field(
        default=None,
        description='keyring JSON {"current": N, "index": M, "keys": {"N": base64, ...}}',
    )
    lender_timezone: str = "Asia/Shanghai"
    scoring_exclude: list[str] = Field(
        default_factory=list,
        description="columns never used as scorecard features (protected attributes: sex, "
        'ethnicity, religion, marital status ...), as JSON: ["SEX", "MARRIAGE"] '
        "(forbear model train; docs/scoring.md)",
    )
    currency: str = "CNY"
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="the largest request body the web app reads (bytes); larger is a 413 "
        "before anything parses it (forbear.web.guard)",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="signs the web app's session cookies (32+ characters); in development "
        "generated into the data directory (forbear.web.security)",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks (CIDR) of the reverse proxies whose "
        "X-Forwarded-For names the client; empty: the peer address is the client "
        "(docs/security.md)",
    )
    unmask_limits: dict[str, tuple[int, int]] = Field(
        default_factory=dict,
        description="distinct borrowers a user may unmask per minute and per day, by role, over "
        "the defaults of forbear.services.unmasking, as JSON: "
        '{"agent": [10, 300]} (docs/security.md)',
    )
    # --- outreach (issue 13): forbear.channels, forbear dispatch / worker
    channels_file: Path | None = Field(
        default=None,
        description="YAML of the channel adapters (which provider sends each channel, its "
        "URL, credentials, rate limit) and the providers' callback secrets; default: "
        "<data_dir>/channels.yaml when present, else the sandbox for every channel "
        "(forbear.channels.config, docs/outreach.md)",
    )
    channel_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="each provider's shared secret for signed webhooks and callbacks, as "
        'JSON {"provider-name": "secret"} (keep it in the secret store; '
        "forbear.domain.signatures)",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the web app's address as borrowers reach it: the base of the signed "
        "portal links in messages",
    )
    run_at: str = Field(
        default="06:00",
        description="the local time (lender_timezone, HH:MM) at which `forbear worker` runs "
        "the daily job",
    )

    # --- the borrower assistant (issue 14): forbear.assistant
    assistant_model_dir: Path | None = Field(
        default=None,
        description="where `forbear assistant train` writes the intent model and the app "
        "reads it; default: <data_dir>/models/assistant (forbear.assistant.nlu)",
    )
    assistant_sms: bool = Field(
        default=True,
        description="borrowers' SMS and app replies that are not opt-outs go to the assistant "
        "(false: to the agents' reply inbox, as before issue 14)",
    )
    llm_url: str | None = Field(
        default=None,
        description="an OpenAI-compatible chat-completions endpoint that may rephrase the "
        "assistant's replies (off when unset; it never decides amounts, dates or actions)",
    )
    llm_key: SecretStr | None = Field(default=None, description="the key for llm_url")
    llm_model: str = Field(default="gpt-4o-mini", description="the model name sent to llm_url")
    lender_name: str = Field(
        default="示例消费金融有限公司 Example Consumer Finance Co., Ltd.",
        max_length=200,
        description="the lender's name on every portal page and message (issue 15)",
    )
    lender_licence: str = Field(
        default="金融许可证 (demo) 0000000",
        max_length=200,
        description="the lender's licence line on every portal page",
    )
    lender_hotline: str = Field(
        default="400-000-0000",
        max_length=40,
        description="the lender's official customer-service hotline on every portal page",
    )
    lender_payment_url: str | None = Field(
        default=None,
        description="the lender's own payment page; the portal's 我要还款 leads there "
        "(unset: the portal records the intent and shows how to pay)",
    )

    @field_validator("run_at")
    @classmethod
    def _run_at(cls, value: str) -> str:
        from datetime import time

        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not a time of day HH:MM: {value!r}") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("unmask_limits")
    @classmethod
    def _unmask_limits(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        from forbear.domain.access import Role

        for role, (per_minute, per_day) in value.items():
            if role not in {r.value for r in Role}:
                raise ValueError(f"unknown role {role!r}")
            if per_minute < 0 or per_day < 0:
                raise ValueError(f"{role}: limits cannot be negative")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an address or network: {item.strip()!r}") from exc
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in self.trusted_proxies.split(",")
            if item.strip()
        )

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
        """The current data-encryption key, refusing unsafe keys outside development.

        In development (and tests) a key is generated on first use into
        ``<data_dir>/forbear.key`` with mode 0600. In production the key must be given
        in ``FORBEAR_ENCRYPTION_KEYS`` or ``FORBEAR_ENCRYPTION_KEY``; a missing, default or
        malformed key refuses to start.
        """
        return self.load_keyring().current_key

    def load_keyring(self) -> Keyring:
        """Every key version (see the module docstring for where they come from)."""
        if self.encryption_keys is not None:
            return parse_keyring(self.encryption_keys.get_secret_value(), "FORBEAR_ENCRYPTION_KEYS")
        if self.encryption_key is not None:
            return Keyring.single(_decode_key(self.encryption_key.get_secret_value()))
        if self.environment is Environment.PRODUCTION:
            raise ConfigurationError(
                "FORBEAR_ENCRYPTION_KEY is not set: production refuses to start without a key "
                "(generate one with `forbear keygen`)"
            )
        return _load_or_create_key_file(self.key_file)

    @property
    def keyring_from_environment(self) -> bool:
        return self.encryption_keys is not None or self.encryption_key is not None


@dataclass(frozen=True)
class Keyring:
    """Master keys by version (1..255); ``current`` encrypts, all decrypt, ``index`` is
    the blind-index key."""

    current: int
    keys: dict[int, bytes]
    index: int

    def __post_init__(self) -> None:
        for version in self.keys:
            if not 0 < version < 256:
                raise ConfigurationError(f"key version {version} is not between 1 and 255")
        if self.current not in self.keys or self.index not in self.keys:
            raise ConfigurationError("the keyring's current or index version has no key")

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(current={self.current}, index={self.index}, versions={sorted(self.keys)})"

    @classmethod
    def single(cls, key: bytes) -> Keyring:
        return cls(current=1, keys={1: key}, index=1)

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    @property
    def index_key(self) -> bytes:
        return self.keys[self.index]

    def previous_keys(self) -> dict[int, bytes]:
        return {v: k for v, k in self.keys.items() if v != self.current}

    def rotated(self) -> Keyring:
        """A new random key as the next version, made current; older keys kept."""
        version = max(self.keys) + 1
        if version > 255:
            raise ConfigurationError("no key version left (255 used): retire old keys first")
        keys = {**self.keys, version: base64.b64decode(new_key_text())}
        return Keyring(current=version, keys=keys, index=self.index)

    def to_json(self) -> str:
        keys = {str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(self.keys.items())}
        return json.dumps({"current": self.current, "index": self.index, "keys": keys}, indent=2)


def parse_keyring(text: str, source: str) -> Keyring:
    """A keyring from its JSON, or from one base64 key (the original format, version 1)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return Keyring.single(_decode_key(stripped))
    try:
        data = json.loads(stripped)
        keys = {int(v): _decode_key(str(k)) for v, k in dict(data["keys"]).items()}
        current = int(data["current"])
        index = int(data.get("index", min(keys)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(
            f"{source} is not a valid keyring ({type(exc).__name__})"
        ) from None
    return Keyring(current=current, keys=keys, index=index)


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Replace the key file atomically (write a 0600 temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


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


def _load_or_create_key_file(path: Path) -> Keyring:
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"key file {path} is readable by others (mode {mode:o}); run chmod 600 on it"
            )
        return parse_keyring(path.read_text(encoding="ascii"), f"key file {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once cannot both write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(new_key_text())
    return parse_keyring(path.read_text(encoding="ascii"), f"key file {path}")
