"""Letters for the print house: one PDF per letter and a manifest CSV per day.

``send`` takes a letter into a **spool** (``<directory>/spool/<message id>.json``, written
to a temporary file, fsync'd and renamed, mode 0600) and answers accepted: a worker killed
after that loses nothing. ``flush`` (the dispatcher calls it at the end of each batch and
when it stops) renders every spooled letter into ``<directory>/<YYYY-MM-DD>/`` (the day in
the lender's time zone): ``<message id>.pdf`` (A4, the embedded CJK font of
:mod:`forbear.services.documents.pdf`) and a row of ``manifest.csv`` (UTF-8 with BOM, so
spreadsheet programs open the Chinese right)::

    message_id, recipient_name, address_line_1..4, pages, sha256, file

Idempotent: a message id already in a manifest of the last ``LOOKBACK_DAYS`` days is not
spooled nor written again; a crash between a PDF and its manifest row rewrites the PDF at
the next flush; a crash between the row and the spool's removal only removes the spool.
Several workers may share the directory: ``flush`` holds an exclusive lock on it.

``to`` is the postal address as lines: the recipient's name first, then one to four
address lines (more are joined into the fourth). A channels file entry::

    providers:
      print-house:
        kind: letters
        channels: [letter]
        directory: letters        # under the data directory unless absolute
        timezone: Asia/Shanghai
        sender: [某某消费金融有限公司, 上海市浦东新区世纪大道100号, 200120]
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forbear.channels import providers
from forbear.channels.base import Accepted, OutgoingMessage, PermanentFailure, TransientFailure
from forbear.domain.errors import ConfigurationError
from forbear.services.documents.pdf import Page

MANIFEST = "manifest.csv"
COLUMNS = (
    "message_id",
    "recipient_name",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "pages",
    "sha256",
    "file",
)
ADDRESS_LINES = 4
LOOKBACK_DAYS = 31
TITLES = {"zh": "还款通知", "en": "Repayment notice"}
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def file_stem(message_id: str) -> str:
    """The message id as a file name; an id with other characters becomes its SHA-256."""
    if _SAFE.match(message_id) and not message_id.startswith("."):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()


def address_lines(to: str) -> tuple[str, list[str]]:
    """The recipient's name and their address lines (at most four)."""
    lines = [line.strip() for line in to.splitlines() if line.strip()]
    if len(lines) < 2:
        raise PermanentFailure(
            "a letter needs a name and an address line",
            code="address_incomplete",
            address_invalid=True,
        )
    name, rest = lines[0], lines[1:]
    if len(rest) > ADDRESS_LINES:
        rest = [*rest[: ADDRESS_LINES - 1], " ".join(rest[ADDRESS_LINES - 1 :])]
    return name, rest


def _long_date(day: date, lang: str) -> str:
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day.strftime('%B')} {day.year}"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LetterBatchAdapter:
    """The print house's daily batch (see the module docstring)."""

    kind = "letters"

    def __init__(
        self,
        name: str,
        *,
        directory: Path,
        timezone: str = "Asia/Shanghai",
        sender: Sequence[str] = (),
        rate_per_second: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"channel provider {name!r}: unknown time zone {timezone!r}"
            ) from None
        self.name = name
        self.rate_per_second = rate_per_second
        self.directory = directory
        self._sender = list(sender)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.spool = directory / "spool"
        self._cache: tuple[list[tuple[str, int, int]], frozenset[str]] | None = None
        self.spool.mkdir(parents=True, exist_ok=True, mode=0o700)

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        *,
        data_dir: Path,
        secrets: Mapping[str, str],
    ) -> LetterBatchAdapter:
        del secrets  # the print house takes files, not requests
        read = providers.Options(name, options, {"directory", "timezone", "sender"})
        directory = Path(read.text("directory", "letters"))
        sender = options.get("sender", [])
        if not isinstance(sender, list) or not all(isinstance(x, str) for x in sender):
            raise ConfigurationError(f"channel provider {name!r}: option 'sender' must be lines")
        return cls(
            name,
            directory=directory if directory.is_absolute() else data_dir / directory,
            timezone=read.text("timezone", "Asia/Shanghai"),
            sender=sender,
            rate_per_second=read.rate(),
        )

    # --- the day's manifests

    def _today(self) -> date:
        return self._clock().astimezone(self._zone).date()

    def day_directory(self, day: date) -> Path:
        return self.directory / day.isoformat()

    def manifest_rows(self, day: date) -> list[dict[str, str]]:
        path = self.day_directory(day) / MANIFEST
        if not path.exists():
            return []
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    def _written(self, today: date) -> set[str]:
        """The message ids in the manifests of the last LOOKBACK_DAYS days, read again
        only when one of those files changed (a send must not reread a month of CSV)."""
        days = [today - timedelta(back) for back in range(LOOKBACK_DAYS + 1)]
        stamp: list[tuple[str, int, int]] = []
        for day in days:
            try:
                info = (self.day_directory(day) / MANIFEST).stat()
            except FileNotFoundError:
                continue
            stamp.append((day.isoformat(), info.st_mtime_ns, info.st_size))
        if self._cache is not None and self._cache[0] == stamp:
            return set(self._cache[1])
        ids: set[str] = set()
        for day in days:
            ids.update(row["message_id"] for row in self.manifest_rows(day))
        self._cache = (stamp, frozenset(ids))
        return ids

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- the protocol

    def send(self, message: OutgoingMessage) -> Accepted:
        address_lines(message.to)  # refuse an incomplete address now, not at the print house
        ref = f"letter:{file_stem(message.message_id)}"
        if message.message_id in self._written(self._today()):
            return Accepted(provider=self.name, provider_ref=ref)
        letter = {
            "message_id": message.message_id,
            "to": message.to,
            "lang": message.lang,
            "subject": message.subject,
            "body": message.body,
            "loan_ref": message.loan_ref,
        }
        try:
            _write_atomic(
                self.spool / f"{file_stem(message.message_id)}.json",
                json.dumps(letter, ensure_ascii=False).encode("utf-8"),
            )
        except OSError:
            raise TransientFailure("the letter spool cannot be written", code="spool") from None
        return Accepted(provider=self.name, provider_ref=ref)

    def flush(self) -> None:
        """Render the spooled letters into today's directory and manifest."""
        moment = self._clock()
        today = moment.astimezone(self._zone).date()
        with self._locked():
            spooled = sorted(self.spool.glob("*.json"))
            if not spooled:
                return
            written = self._written(today)
            folder = self.day_directory(today)
            for path in spooled:
                letter = json.loads(path.read_text(encoding="utf-8"))
                if letter["message_id"] not in written:
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                    row = self._render(letter, folder, today, moment)
                    self._append(folder / MANIFEST, row)
                    written.add(letter["message_id"])
                path.unlink()
            _fsync_dir(self.spool)

    def _render(
        self, letter: dict[str, Any], folder: Path, today: date, moment: datetime
    ) -> dict[str, str]:
        lang = letter.get("lang") or "zh"
        name, lines = address_lines(letter["to"])
        title = letter.get("subject") or TITLES.get(lang, TITLES["zh"])
        page = Page(title=title, created_at=moment)
        for line in self._sender:
            page.paragraph(line, size=9)
        page.pdf.ln(6)
        page.paragraph("\n".join([name, *lines]), size=11)
        page.pdf.ln(4)
        page.paragraph(_long_date(today, lang), align="R")
        page.title(title, size=15)
        for paragraph in re.split(r"\n\s*\n", letter["body"].strip()):
            page.paragraph(paragraph.strip())
        if letter.get("loan_ref"):
            label = "合同编号" if lang == "zh" else "Contract"
            page.pdf.ln(4)
            page.paragraph(f"{label}: {letter['loan_ref']}", size=9)
        pdf = page.output()
        file_name = f"{file_stem(letter['message_id'])}.pdf"
        _write_atomic(folder / file_name, pdf)
        padded = [*lines, *[""] * (ADDRESS_LINES - len(lines))]
        return {
            "message_id": letter["message_id"],
            "recipient_name": name,
            **{f"address_line_{i + 1}": padded[i] for i in range(ADDRESS_LINES)},
            "pages": str(page.pdf.pages_count),
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "file": file_name,
        }

    @staticmethod
    def _append(manifest: Path, row: Mapping[str, str]) -> None:
        new = not manifest.exists()
        with open(manifest, "a", encoding="utf-8-sig" if new else "utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            os.chmod(manifest, 0o600)

    def close(self) -> None:
        return None
