"""Message files for ``forbear assistant classify`` and ``eval``: CSV (with a header),
JSONL (one object a line) or YAML (a list of mappings, or a mapping with ``messages``),
each message with a ``text`` field and, for evaluation, an ``intent`` field. A bad file
is refused whole with the line of its first problem (:class:`MessageFileError`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forbear.assistant.nlu import INTENTS
from forbear.domain.errors import ForbearError

MAX_FILE_BYTES = 50 * 1024 * 1024


class MessageFileError(ForbearError):
    """A message file cannot be used: unreadable, empty, a missing field, an unknown
    intent. ``line`` is 1-based (0 when the problem is the whole file). The message
    names the field and the line, never the message's text."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        where = f"{path}: line {line}" if line else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Message:
    line: int
    text: str
    intent: str | None = None
    id: str | None = None


def _records_csv(path: Path, content: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if reader.fieldnames is None:
        raise MessageFileError(path, 0, "empty file")
    records = []
    for row in reader:
        if None in row:
            raise MessageFileError(path, reader.line_num, "more cells than header columns")
        records.append((reader.line_num, row))
    return records


def _records_jsonl(path: Path, content: str) -> list[tuple[int, Any]]:
    records = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise MessageFileError(path, number, f"not JSON ({exc.msg})") from None
    return records


def _records_yaml(path: Path, content: str) -> list[tuple[int, Any]]:
    try:
        node = yaml.compose(content, Loader=yaml.SafeLoader)
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise MessageFileError(path, line, "not valid YAML") from None
    if node is None:
        return []
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        for key, value in node.value:
            if key.value == "messages":
                node = value
                data = data["messages"]
                break
        else:
            raise MessageFileError(path, 1, "expected a list of messages (or 'messages:')")
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        raise MessageFileError(path, 1, "expected a list of messages (or 'messages:')")
    return [(item.start_mark.line + 1, value) for item, value in zip(node.value, data, strict=True)]


def read_messages(path: Path, *, need_intent: bool = False) -> list[Message]:
    """Every message of ``path``, checked (format chosen by the file's extension)."""
    suffix = path.suffix.lower()
    readers = {
        ".csv": _records_csv,
        ".jsonl": _records_jsonl,
        ".ndjson": _records_jsonl,
        ".yaml": _records_yaml,
        ".yml": _records_yaml,
    }
    if suffix not in readers:
        raise MessageFileError(path, 0, "unknown format (use .csv, .jsonl, .yaml or .yml)")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise MessageFileError(path, 0, "larger than 50 MB")
        content = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MessageFileError(path, 0, "no such file") from None
    except IsADirectoryError:
        raise MessageFileError(path, 0, "is a directory") from None
    except UnicodeDecodeError:
        raise MessageFileError(path, 0, "not UTF-8 text") from None
    except OSError as exc:
        raise MessageFileError(path, 0, f"unreadable ({exc.strerror})") from None
    if "\x00" in content:
        raise MessageFileError(path, 0, "binary content (NUL bytes)")
    messages = []
    for line, record in readers[suffix](path, content):
        if not isinstance(record, dict):
            raise MessageFileError(path, line, "expected a mapping with a 'text' field")
        text = record.get("text")
        if text is None:
            raise MessageFileError(path, line, "missing field 'text'")
        if not isinstance(text, str):
            text = str(text)
        intent = record.get("intent")
        if need_intent:
            if intent is None or (isinstance(intent, str) and not intent.strip()):
                raise MessageFileError(path, line, "missing field 'intent'")
            if intent not in INTENTS:
                raise MessageFileError(path, line, f"unknown intent {str(intent)[:40]!r}")
        elif intent is not None and intent not in INTENTS:
            intent = None
        ident = record.get("id")
        messages.append(Message(line, text, intent, None if ident is None else str(ident)[:100]))
    if not messages:
        raise MessageFileError(path, 0, "no messages")
    return messages
