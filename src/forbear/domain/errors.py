"""The one error hierarchy of Forbear.

Every expected failure is a subclass of :class:`ForbearError`. Errors carry data (the
field, the line, the rule id), never HTTP codes or exit codes: the CLI and the web
layer each have one map that renders them. Messages must never contain personal data
(names, ID numbers, phones, e-mails, addresses).

ForbearError
├── ConfigurationError        settings, key files, product or rule files are unusable
├── ValidationError           one bad value given to a domain function (field, reason)
├── ImportRejected            a file import found bad rows; carries every RowError
├── NotFound                  a referenced record does not exist (kind, key)
├── Conflict                  the request contradicts stored data (duplicate id, ...)
├── StorageUnavailable        the database cannot be reached or is not migrated
├── PermissionDenied          the role (and purpose) may not do this: a 403 (role, action, purpose)
└── (elsewhere, because they belong to one layer)
    ├── store.crypto.DecryptionFailed      a stored value cannot be decrypted (wrong key, tampering)
    ├── compliance.content.ContentRejected a text fails the content filter (rule ids, spans)
    └── services.imports.UnreadableFile    an import file is missing, unknown or undecodable
"""

from __future__ import annotations

from dataclasses import dataclass


class ForbearError(Exception):
    """Root of every error Forbear raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ForbearError):
    """Settings, key files, product definitions or rule packs are missing or unsafe."""


class ValidationError(ForbearError):
    """A single value is unacceptable; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row of an imported file.

    ``line`` is the 1-based line in the file as a person sees it in an editor (the
    header is line 1, so the first data row is line 2); for Parquet it is the row
    number plus one, to keep the same convention.
    """

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class ImportRejected(ForbearError):
    """An import found bad rows and, by default, imported nothing."""

    def __init__(self, source: str, errors: list[RowError]) -> None:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{source}: {len(errors)} bad row(s), nothing imported: {shown}{more}")
        self.source = source
        self.errors = errors


class NotFound(ForbearError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key


class Conflict(ForbearError):
    """The request contradicts what is stored (a duplicate id, a changed record)."""


class StorageUnavailable(ForbearError):
    """The database cannot be reached, or its schema is not at the expected version."""


class PermissionDenied(ForbearError):
    """The viewer's role, or the purpose given, does not allow the action (a 403).

    ``action`` is a permission (``privacy.export``) or an unmasking (``pii.unmask:mobile``);
    ``purpose`` is the stated purpose, if any. Never carries the data that was asked for.
    """

    def __init__(self, role: str, action: str, purpose: str | None = None) -> None:
        why = f" for purpose {purpose!r}" if purpose is not None else ""
        super().__init__(f"role {role!r} may not {action}{why}")
        self.role = role
        self.action = action
        self.purpose = purpose
