"""The channels file: which provider sends each channel, how fast, and how often a
transient failure is tried again.

``Settings.channels_file``, else ``<data_dir>/channels.yaml`` when present; without one
every channel goes to the **sandbox** (:mod:`forbear.channels.sandbox`: each message is
written to the data directory, nothing leaves the machine). The file::

    providers:
      aliyun_sms:                  # the provider's name (its secret in channel_secrets)
        kind: sms_http             # the adapter (forbear.channels.registry)
        channels: [sms]            # the channels it sends
        rate_per_second: 100       # the provider's limit (default: the adapter's own)
        threads: 8                 # parallel sends (default 4)
        batch_size: 100            # messages per provider request, for a provider with a
                                   # batch action keyed per message (sms_http; default 1)
        endpoint: https://...      # ... and the adapter's own options
      mail:
        kind: smtp
        channels: [email]
        host: smtp.example.com
    retry:                         # transient failures (throttled, timed out, 5xx)
      max_tries: 5
      base_delay_seconds: 30       # doubled each try, with jitter
      max_delay_seconds: 7200
    dispatch:
      batch: 500                   # rows claimed at once
      backlog_batch: 2000          # ... at most, while a backlog drains (doubling from batch)
      lease_seconds: 300           # a claim's lease (a killed worker's rows come back)

With a file, a channel no provider sends is **not dispatched** (its messages wait,
visible in ``forbear outbox status``): a production system never sends into the sandbox
by accident. ``sandbox`` is a kind like the others and may be named for any channel.

A mistake is a :class:`~forbear.domain.errors.ConfigurationError` naming the file and the
field (``providers.aliyun_sms.channels``), never a secret's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ConfigurationError
from forbear.services.outreach.dispatch import RetryPolicy

SANDBOX = "sandbox"
DEFAULT_THREADS = 4
DEFAULT_BATCH_SIZE = 1  # messages per provider request: one send a message
# The kinds with a batch action (forbear.channels.base.BatchAdapter) and the most messages
# one request of theirs may carry.
BATCH_KINDS: dict[str, int] = {"sms_http": 100}
DEFAULT_BATCH = 500
# While a backlog drains (each claim comes back full and the sends keep up), a claim
# doubles up to this: preparing a batch has a fixed cost (the live situation and the gate
# read per batch, about half a CPU second), which a larger batch shares among more messages.
DEFAULT_BACKLOG_BATCH = 2000
DEFAULT_LEASE = timedelta(minutes=5)
# Channels the dispatcher sends (agent calls and visits are people's work).
SENDABLE = (
    Channel.SMS,
    Channel.EMAIL,
    Channel.APP_PUSH,
    Channel.AI_CALL,
    Channel.IM,
    Channel.LETTER,
)
# kind -> "module:Class" (imported only when configured: forbear.channels.registry)
KINDS: dict[str, str] = {
    "sandbox": "forbear.channels.sandbox:SandboxAdapter",
    "smtp": "forbear.channels.smtp:SmtpAdapter",
    "sms_http": "forbear.channels.sms:SmsGatewayAdapter",
    "webhook": "forbear.channels.webhook:JsonWebhookAdapter",
    "push": "forbear.channels.webhook:PushAdapter",
    "voice": "forbear.channels.webhook:VoiceAdapter",
    "letters": "forbear.channels.letters:LetterBatchAdapter",
}
_TOP_KEYS = frozenset({"providers", "retry", "dispatch"})


@dataclass(frozen=True)
class ProviderConfig:
    """One provider: its adapter kind, the channels it sends, its limits, and the rest of
    its entry (``options``, handed to the adapter's ``from_options`` as written)."""

    name: str
    kind: str
    channels: tuple[str, ...]
    rate_per_second: float | None = None
    threads: int = DEFAULT_THREADS
    options: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE  # messages per request (kinds in BATCH_KINDS)


@dataclass(frozen=True)
class ChannelsConfig:
    providers: tuple[ProviderConfig, ...]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch: int = DEFAULT_BATCH
    lease: timedelta = DEFAULT_LEASE
    source: str = "(built in: the sandbox for every channel)"
    backlog_batch: int = DEFAULT_BACKLOG_BATCH  # never below ``batch`` (the dispatcher's max)

    def provider_for(self, channel: str) -> ProviderConfig | None:
        for provider in self.providers:
            if channel in provider.channels:
                return provider
        return None

    @property
    def channels(self) -> frozenset[str]:
        """The channels some provider sends (the only ones claimed)."""
        return frozenset(c for p in self.providers for c in p.channels)


def sandbox_only() -> ChannelsConfig:
    """No channels file: the sandbox sends every channel."""
    return ChannelsConfig(
        providers=(ProviderConfig(SANDBOX, SANDBOX, tuple(c.value for c in SENDABLE)),)
    )


def channels_path(channels_file: Path | None, data_dir: Path) -> Path | None:
    """The file in force: the setting (which must exist), else ``<data_dir>/channels.yaml``
    when present, else None (the sandbox)."""
    if channels_file is not None:
        if not channels_file.is_file():
            raise ConfigurationError(f"channels_file {channels_file} does not exist")
        return channels_file
    default = data_dir / "channels.yaml"
    return default if default.is_file() else None


def load(channels_file: Path | None, data_dir: Path) -> ChannelsConfig:
    """The configuration in force (module docstring)."""
    path = channels_path(channels_file, data_dir)
    if path is None:
        return sandbox_only()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"channels file {path.name}: cannot be read ({exc})") from None
    return parse(text, source=path.name)


def parse(text: str, *, source: str = "channels file") -> ChannelsConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigurationError(f"{source}: not valid YAML{at}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _error(source, "(top)", "must be a mapping with 'providers'")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _error(source, unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    providers = _providers(raw.get("providers"), source)
    return ChannelsConfig(
        providers=providers,
        retry=_retry(raw.get("retry"), source),
        batch=int(
            _number(
                raw.get("dispatch") or {},
                "batch",
                DEFAULT_BATCH,
                source,
                "dispatch",
                1,
                10_000,
                whole=True,
            )
        ),
        backlog_batch=int(
            _number(
                raw.get("dispatch") or {},
                "backlog_batch",
                DEFAULT_BACKLOG_BATCH,
                source,
                "dispatch",
                1,
                10_000,
                whole=True,
            )
        ),
        lease=timedelta(
            seconds=_number(
                raw.get("dispatch") or {},
                "lease_seconds",
                DEFAULT_LEASE.total_seconds(),
                source,
                "dispatch",
                10,
                86_400,
            )
        ),
        source=source,
    )


def _error(source: str, where: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {where}: {why}")


def _providers(raw: Any, source: str) -> tuple[ProviderConfig, ...]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _error(source, "providers", "must be a mapping of provider name to its settings")
    found: list[ProviderConfig] = []
    taken: dict[str, str] = {}
    for name, entry in raw.items():
        where = f"providers.{name}"
        if not isinstance(name, str) or not name.strip() or len(name) > 32:
            raise _error(source, "providers", "a provider's name is a text of 1 to 32 characters")
        if not isinstance(entry, dict):
            raise _error(source, where, "must be a mapping (kind, channels, options)")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise _error(source, f"{where}.kind", f"one of {', '.join(sorted(KINDS))}")
        channels = entry.get("channels")
        if isinstance(channels, str):
            channels = [channels]
        sendable = {c.value for c in SENDABLE}
        if (
            not isinstance(channels, list)
            or not channels
            or not all(isinstance(c, str) and c in sendable for c in channels)
        ):
            raise _error(
                source,
                f"{where}.channels",
                f"a list of channels from {', '.join(sorted(sendable))}",
            )
        for channel in channels:
            if channel in taken:
                raise _error(
                    source,
                    f"{where}.channels",
                    f"{channel} is already sent by provider {taken[channel]!r}",
                )
            taken[channel] = name
        rate = entry.get("rate_per_second")
        if rate is not None:
            rate = _number(entry, "rate_per_second", None, source, where, 0.001, 1_000_000)
        threads = int(_number(entry, "threads", DEFAULT_THREADS, source, where, 1, 256, whole=True))
        most = BATCH_KINDS.get(str(kind), 1)
        batch_size = int(
            _number(entry, "batch_size", DEFAULT_BATCH_SIZE, source, where, 1, 10_000, whole=True)
        )
        if batch_size > most:
            why = (
                f"at most {most} for kind {kind}"
                if most > 1
                else f"kind {kind} sends one message a request (1)"
            )
            raise _error(source, f"{where}.batch_size", why)
        options = {k: v for k, v in entry.items() if k not in ("threads", "batch_size")}
        found.append(
            ProviderConfig(
                name=name,
                kind=str(kind),
                channels=tuple(channels),
                rate_per_second=rate,
                threads=threads,
                options=options,
                batch_size=batch_size,
            )
        )
    return tuple(found)


def _retry(raw: Any, source: str) -> RetryPolicy:
    if raw is None:
        return RetryPolicy()
    if not isinstance(raw, dict):
        raise _error(source, "retry", "must be a mapping (max_tries, base_delay_seconds, ...)")
    known = {"max_tries", "base_delay_seconds", "max_delay_seconds"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _error(
            source, f"retry.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})"
        )
    default = RetryPolicy()
    tries = int(_number(raw, "max_tries", default.max_tries, source, "retry", 1, 100, whole=True))
    base = _number(
        raw, "base_delay_seconds", default.base_delay.total_seconds(), source, "retry", 0.01, 86_400
    )
    most = _number(
        raw,
        "max_delay_seconds",
        default.max_delay.total_seconds(),
        source,
        "retry",
        0.01,
        7 * 86_400,
    )
    if most < base:
        raise _error(source, "retry.max_delay_seconds", "must not be below base_delay_seconds")
    return RetryPolicy(
        max_tries=tries, base_delay=timedelta(seconds=base), max_delay=timedelta(seconds=most)
    )


def _number(
    raw: Mapping[str, Any],
    key: str,
    default: float | None,
    source: str,
    where: str,
    low: float,
    high: float,
    *,
    whole: bool = False,
) -> float:
    if not isinstance(raw, Mapping):
        raise _error(source, where, "must be a mapping")
    value = raw.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(source, f"{where}.{key}", "must be a number")
    if whole and int(value) != value:
        raise _error(source, f"{where}.{key}", "must be a whole number")
    if not low <= float(value) <= high:
        raise _error(source, f"{where}.{key}", f"must be between {low:g} and {high:g}")
    return float(value)
