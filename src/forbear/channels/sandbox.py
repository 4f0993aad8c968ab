"""The sandbox: the embedded default adapter, which sends nothing and writes each message
down instead, as ``<data_dir>/sandbox/<YYYY-MM-DD>/<message_id>.json`` (mode 0600: the
address and the text are personal data; the data directory is git-ignored). ``make demo``
shows what would have been sent, and the "sent messages" page lists the outbox rows.

Idempotent like a real provider: the same ``message_id`` again is accepted once more
with the same reference, and its file is not written twice.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forbear.channels.base import Accepted, OutgoingMessage
from forbear.clock import Clock, system_clock
from forbear.domain.errors import ConfigurationError

FOLDER = "sandbox"


class SandboxAdapter:
    """Writes messages to files (module docstring). ``rate_per_second``: no limit unless
    the channels file gives one."""

    def __init__(
        self,
        name: str,
        root: Path,
        *,
        rate_per_second: float | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.name = name
        self.root = root
        self.rate_per_second = rate_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, Path] = {}

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        *,
        data_dir: Path,
        secrets: Mapping[str, str],
    ) -> SandboxAdapter:
        del secrets  # nothing to sign
        unknown = sorted(set(options) - {"kind", "channels", "rate_per_second", "folder"})
        if unknown:
            raise ConfigurationError(
                f"channel provider {name!r}: unknown option(s) {', '.join(unknown)}"
            )
        folder = options.get("folder", FOLDER)
        if (
            not isinstance(folder, str)
            or not folder
            or Path(folder).is_absolute()
            or ".." in Path(folder).parts
        ):
            raise ConfigurationError(
                f"channel provider {name!r}: option 'folder' must be a folder inside the "
                "data directory"
            )
        rate = options.get("rate_per_second")
        return cls(name, data_dir / folder, rate_per_second=None if rate is None else float(rate))

    def use_clock(self, clock: Clock) -> None:
        """Date the folders by the dispatcher's clock (the demo's simulated days)."""
        self._clock = clock

    def _path_of(self, message_id: str) -> Path | None:
        if message_id in self._seen:
            return self._seen[message_id]
        if self.root.is_dir():
            for day in self.root.iterdir():
                candidate = day / f"{message_id}.json"
                if candidate.is_file():
                    return candidate
        return None

    def send(self, message: OutgoingMessage) -> Accepted:
        key = message.message_id
        if not key or not all(ch.isalnum() or ch in "-_." for ch in key) or key.startswith("."):
            raise ValueError("a message id is letters, digits, '-', '_' and '.'")
        with self._lock:
            existing = self._path_of(key)
            if existing is None:
                now = self._clock()
                folder = self.root / now.date().isoformat()
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                record = {
                    "message_id": key,
                    "provider": self.name,
                    "channel": message.channel,
                    "to": message.to,
                    "subject": message.subject,
                    "body": message.body,
                    "lang": message.lang,
                    "template": message.template,
                    "params": dict(message.params),
                    "borrower_ref": message.borrower_ref,
                    "loan_ref": message.loan_ref,
                    "written_at": now.isoformat(),
                }
                target = folder / f"{key}.json"
                temporary = folder / f".{key}.tmp"
                handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(record, out, ensure_ascii=False, indent=1)
                os.replace(temporary, target)
                existing = target
            self._seen[key] = existing
        return Accepted(self.name, f"sandbox:{key[:32]}")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._seen.clear()
