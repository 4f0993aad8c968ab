"""Roles, permissions and purpose-bound unmasking, as data (``access_roles.yaml``).

DESIGN.md "Data and units": personal data is masked everywhere it is shown unless the
viewer's role *and purpose* allow it. PIPL arts. 5-6 (purpose limitation, minimum
necessity) shape the shipped policy: each role gets the permissions its work needs, and
``pii.unmask`` is further limited to named purposes, each naming the fields it opens
(an agent may unmask the mobile to call the debtor, nothing else; legal may unmask
name, national ID and address for litigation; an admin may unmask nothing).

Pure: :func:`parse_policy` turns YAML text into a validated :class:`AccessPolicy`;
:func:`default_policy` reads the copy shipped as package data (once, cached). The module
functions :func:`can`, :func:`may_unmask` and :func:`mask_for` use the default policy
unless one is passed.

Masking is role-aware on top of :mod:`forbear.domain.masking`: national IDs show the
first 3 and last 4 characters (``410***********1234``, the customary display on Chinese
statements) where the plain helper keeps 4 + 4; an agency agent sees no ID digits at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from forbear.domain import yamltext
from forbear.domain.errors import ConfigurationError, PermissionDenied, ValidationError
from forbear.domain.masking import MASK, _mask_middle, mask_email, mask_mobile, mask_name

ROLES_RESOURCE = "access_roles.yaml"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COMPLIANCE_OFFICER = "compliance_officer"
    LEGAL = "legal"
    AGENCY_AGENT = "agency_agent"
    ADMIN = "admin"


class PiiField(StrEnum):
    """The personal fields of a borrower that can be shown masked or unmasked."""

    NAME = "name"
    NATIONAL_ID = "national_id"
    MOBILE = "mobile"
    EMAIL = "email"
    ADDRESS = "address"


class Purpose(StrEnum):
    CONTACT = "contact"
    LITIGATION = "litigation"
    COMPLAINT = "complaint"
    PRIVACY_REQUEST = "privacy_request"


def _check_style(style: str) -> str:
    kind, _, rest = style.partition(":")
    if kind in ("surname", "email", "hidden") and not rest:
        return style
    try:
        if kind == "keep":
            head, tail = rest.split(":")
            if int(head) >= 0 and int(tail) >= 0:
                return style
        if kind == "prefix" and int(rest) >= 0:
            return style
    except ValueError:
        pass
    raise ValueError(f"unknown masking style {style!r}")


class _RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    permissions: frozenset[str]
    unmask: dict[str, frozenset[PiiField]] = Field(default_factory=dict)
    masking: dict[PiiField, str] = Field(default_factory=dict)

    @field_validator("masking")
    @classmethod
    def _styles(cls, value: dict[PiiField, str]) -> dict[PiiField, str]:
        for style in value.values():
            _check_style(style)
        return value


class AccessPolicy(BaseModel):
    """The validated roles file. Every role of :class:`Role` must be defined, every
    permission must be declared, and a role that unmasks must hold ``pii.unmask``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    fields: frozenset[PiiField]
    permissions: frozenset[str]
    masking: dict[PiiField, str]
    roles: dict[Role, _RoleSpec]

    @field_validator("masking")
    @classmethod
    def _styles(cls, value: dict[PiiField, str]) -> dict[PiiField, str]:
        for style in value.values():
            _check_style(style)
        missing = set(PiiField) - set(value)
        if missing:
            raise ValueError(f"no default masking for {sorted(missing)}")
        return value

    def model_post_init(self, __context: Any) -> None:
        missing = set(Role) - set(self.roles)
        if missing:
            raise ValueError(f"roles not defined: {sorted(missing)}")
        for role, spec in self.roles.items():
            unknown = spec.permissions - self.permissions
            if unknown:
                raise ValueError(f"role {role}: undeclared permissions {sorted(unknown)}")
            if any(spec.unmask.values()) and "pii.unmask" not in spec.permissions:
                raise ValueError(f"role {role} lists unmask purposes without pii.unmask")

    def _role(self, role: Role | str) -> _RoleSpec:
        try:
            return self.roles[Role(role)]
        except ValueError:
            raise ValidationError("role", f"unknown role {role!r}") from None

    def can(self, role: Role | str, permission: str) -> bool:
        if permission not in self.permissions:
            raise ValidationError("permission", f"unknown permission {permission!r}")
        return permission in self._role(role).permissions

    def purposes(self, role: Role | str) -> dict[str, frozenset[PiiField]]:
        """The purposes ``role`` may unmask for, each with the fields it opens."""
        spec = self._role(role)
        return dict(spec.unmask) if "pii.unmask" in spec.permissions else {}

    def may_unmask(self, role: Role | str, field: PiiField | str, purpose: str) -> bool:
        try:
            wanted = PiiField(field)
        except ValueError:
            return False
        return wanted in self.purposes(role).get(purpose, frozenset())

    def style(self, role: Role | str, field: PiiField | str) -> str:
        try:
            wanted = PiiField(field)
        except ValueError:
            raise ValidationError("field", f"unknown personal field {field!r}") from None
        return self._role(role).masking.get(wanted, self.masking[wanted])

    def mask_for(self, role: Role | str, field: PiiField | str, value: str) -> str:
        """``value`` as ``role`` may see it without unmasking."""
        return apply_style(self.style(role, field), value)


def apply_style(style: str, value: str) -> str:
    """Mask ``value`` with one of the styles of the roles file (module docstring)."""
    kind, _, rest = _check_style(style).partition(":")
    if kind == "surname":
        return mask_name(value)
    if kind == "email":
        return mask_email(value)
    if kind == "hidden":
        return MASK * 6  # a fixed width: not even the length leaks
    if kind == "prefix":
        return _mask_middle(value.strip(), int(rest), 0)
    head, tail = (int(part) for part in rest.split(":"))
    if (head, tail) == (3, 4) and _looks_like_phone(value):
        return mask_mobile(value)  # drops +86 and separators first
    return _mask_middle(value.strip(), head, tail)


def _looks_like_phone(value: str) -> bool:
    return any(sep in value for sep in "+- ()") or (value.strip().isdigit() and len(value) <= 13)


def parse_policy(text: str) -> AccessPolicy:
    """Validate a roles file; refuses with :class:`ConfigurationError` naming the problem."""
    try:
        data = yamltext.load(text)
        return AccessPolicy.model_validate(data)
    except (yaml.YAMLError, PydanticError, ValueError) as exc:
        raise ConfigurationError(f"invalid roles file: {exc}") from None


@cache
def default_policy() -> AccessPolicy:
    """The policy shipped in ``forbear/domain/access_roles.yaml`` (package data)."""
    text = resources.files("forbear.domain").joinpath(ROLES_RESOURCE).read_text(encoding="utf-8")
    return parse_policy(text)


def can(role: Role | str, permission: str, *, policy: AccessPolicy | None = None) -> bool:
    """Whether ``role`` holds ``permission``."""
    return (policy or default_policy()).can(role, permission)


def may_unmask(
    role: Role | str, field: PiiField | str, purpose: str, *, policy: AccessPolicy | None = None
) -> bool:
    """Whether ``role`` may see ``field`` in clear for ``purpose``."""
    return (policy or default_policy()).may_unmask(role, field, purpose)


def mask_for(
    role: Role | str, field: PiiField | str, value: str, *, policy: AccessPolicy | None = None
) -> str:
    """``value`` masked as ``role`` sees it: ``138****5678``, ``410***********1234``, ``张*``."""
    return (policy or default_policy()).mask_for(role, field, value)


@dataclass(frozen=True)
class Actor:
    """Who starts a use case, as every front end hands it to :mod:`forbear.services`.

    ``name`` is how the audit trail names them (``web:alice``, ``api:bob``,
    ``cli:root``, ``portal:<borrower ref>``, ``system:daily-run``). ``role`` is the
    staff role whose permissions the use case checks; ``None`` for an operator at the
    command line or the system itself, which hold every permission of the role-free
    tools they run (a use case that needs a named staff approval asks for one
    explicitly). ``agency_id`` and ``scope_buckets`` narrow which loans a staff member
    may see (:mod:`forbear.services.scope`)."""

    name: str
    role: Role | None = None
    user_id: int | None = None
    agency_id: int | None = None
    scope_buckets: tuple[str, ...] = ()

    def may(self, permission: str) -> bool:
        """Does this actor hold ``permission``? (Role-free actors hold every one.)"""
        return self.role is None or can(self.role, permission)

    def require(self, permission: str) -> None:
        """:class:`PermissionDenied` unless this actor holds ``permission``."""
        if not self.may(permission):
            raise PermissionDenied(str(self.role), permission)

    @property
    def scoped(self) -> bool:
        """Does this actor see less than the whole book?"""
        return self.role is Role.AGENCY_AGENT or bool(self.scope_buckets)
