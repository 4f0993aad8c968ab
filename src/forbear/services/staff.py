"""Staff accounts: add, list, disable, enable, set a password, API tokens.

Every front end calls these (``forbear staff`` at the command line, the demo).

Each function works in the caller's transaction (``conn``), validates before it writes and
records an audit event (``staff.*``) naming ids and roles only. Passwords and tokens never
reach the audit trail or a log; a new API token is returned once, in clear, and only its
sha256 is stored.

Scope of an account (what it may see, :mod:`forbear.services.scope`):

- ``agency_id``: required for an agency agent (and only for one): it sees only the
  accounts placed with its agency at the moment (CN.AGENCY.SCOPE);
- ``scope_buckets``: if not empty, only accounts whose latest bucket is one of these
  (an early-stage team sees M1 only, say);
- ``agent_ref``: the capacity file's agent id whose work queue the account works;
  ``team_id``: the team a supervisor leads (its agents' queues).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update

from forbear.domain.access import Actor, Role
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import credentials
from forbear.store import audit
from forbear.store.locks import LockSpace, lock
from forbear.store.web import ApiToken, StaffSession, StaffUser

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
REF = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_TOKEN_DAYS = 730


@dataclass(frozen=True)
class StaffInfo:
    id: int
    username: str
    display_name: str
    role: str
    agency_id: int | None
    agent_ref: str | None
    team_id: str | None
    scope_buckets: tuple[str, ...]
    disabled: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    has_password: bool


def info(row: Any) -> StaffInfo:
    """A ``staff_users`` row as :class:`StaffInfo` (never the password hash)."""
    return StaffInfo(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        agency_id=row.agency_id,
        agent_ref=row.agent_ref,
        team_id=row.team_id,
        scope_buckets=tuple(json.loads(row.scope_buckets or "[]")),
        disabled=row.disabled,
        locked_until=row.locked_until,
        last_sign_in_at=row.last_sign_in_at,
        has_password=row.password_hash is not None,
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValidationError("role", f"unknown role {value!r} (one of: {known})") from None


def _username(value: str) -> str:
    name = value.strip().lower()
    if not USERNAME.match(name):
        raise ValidationError(
            "username", "3-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    return name


def _ref(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if not REF.match(value.strip()):
        raise ValidationError(field, "letters, digits, '.', '_' or '-' (at most 64)")
    return value.strip()


def _buckets(values: list[str] | tuple[str, ...]) -> list[str]:
    known = list(DEFAULT_BUCKETS.labels)
    out: list[str] = []
    for value in values:
        label = value.strip()
        if label not in known:
            raise ValidationError("scope_buckets", f"unknown bucket {label!r} (one of: {known})")
        if label not in out:
            out.append(label)
    return out


MANAGE = "staff.manage"


class StaffConflict(Conflict):
    """A staff change that contradicts the accounts as stored; ``code`` says which
    (``exists``, ``self``, ``last_admin``, ``already_disabled``, ``not_disabled``,
    ``disabled``) so a front end can say it in its reader's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _actor(actor: Actor | str) -> str:
    """The audit trail's name of who acts; a staff member (an :class:`Actor` with a role)
    must hold ``staff.manage``; a bare name is an operator at the command line."""
    if isinstance(actor, Actor):
        actor.require(MANAGE)
        actor = actor.name
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")
    return actor


def _guard_admins(conn: Connection, user: Any, actor: Actor | str, *, losing_admin: bool) -> None:
    """An admin cannot disable or demote themselves, and the last enabled admin stays.
    Serialised (one lock for every change of who is an admin) so that two admins
    disabling each other at once leave one."""
    if isinstance(actor, Actor) and actor.user_id == user.id:
        raise StaffConflict("self", "you cannot disable or demote your own account")
    if not losing_admin or user.role != Role.ADMIN.value or user.disabled:
        return
    lock(conn, LockSpace.KEY, "staff.admins")
    others = conn.execute(
        select(func.count())
        .select_from(USERS)
        .where(
            USERS.c.role == Role.ADMIN.value,
            USERS.c.disabled.is_(False),
            USERS.c.id != user.id,
        )
    ).scalar_one()
    if not others:
        raise StaffConflict("last_admin", "the last admin cannot be disabled or demoted")


USERS = cast(Table, StaffUser.__table__)


def _user(conn: Connection, username: str) -> Any:
    found = conn.execute(
        select(USERS).where(USERS.c.username == username.strip().lower())
    ).one_or_none()
    if found is None:
        raise NotFound("staff user", username)
    return found


def get_staff(conn: Connection, username: str) -> StaffInfo:
    return info(_user(conn, username))


def add_staff(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    role: str,
    actor: Actor | str,
    now: datetime,
    password: str | None = None,
    agency_id: int | None = None,
    agent_ref: str | None = None,
    team_id: str | None = None,
    scope_buckets: list[str] | tuple[str, ...] = (),
) -> StaffInfo:
    """A new staff account (audited ``staff.add``). Without a password it can only use
    API tokens (a service account for the lender's systems)."""
    actor = _actor(actor)
    name = _username(username)
    kind = _role(role)
    shown = " ".join(display_name.split())
    if not 1 <= len(shown) <= 100:
        raise ValidationError("display_name", "1-100 characters")
    if kind is Role.AGENCY_AGENT and agency_id is None:
        raise ValidationError("agency", "an agency agent belongs to an agency (--agency N)")
    if kind is not Role.AGENCY_AGENT and agency_id is not None:
        raise ValidationError("agency", "only agency agents belong to an agency")
    if agency_id is not None and agency_id <= 0:
        raise ValidationError("agency", "a positive agency id")
    if password is not None:
        credentials.check_password(password, name)
    buckets = _buckets(scope_buckets)
    exists = conn.execute(select(StaffUser.id).where(StaffUser.username == name)).first()
    if exists is not None:
        raise StaffConflict("exists", f"staff user {name} already exists")
    new_id = conn.execute(
        insert(StaffUser)
        .values(
            username=name,
            display_name=shown,
            role=kind.value,
            agency_id=agency_id,
            agent_ref=_ref(agent_ref, "agent_ref"),
            team_id=_ref(team_id, "team_id"),
            scope_buckets=json.dumps(buckets),
            password_hash=credentials.hash_password(password) if password is not None else None,
            disabled=False,
            failed_attempts=0,
            password_changed_at=now if password is not None else None,
            created_by=actor,
            created_at=now,
        )
        .returning(StaffUser.id)
    ).scalar_one()
    audit.record(
        conn,
        action="staff.add",
        actor=actor,
        subject_type="staff_user",
        subject_id=str(new_id),
        payload={
            "role": kind.value,
            "agency_id": agency_id,
            "agent_ref": agent_ref,
            "team_id": team_id,
            "scope_buckets": buckets,
        },
    )
    return get_staff(conn, name)


def list_staff(conn: Connection) -> list[StaffInfo]:
    return [info(r) for r in conn.execute(select(USERS).order_by(USERS.c.username))]


def disable_staff(
    conn: Connection, username: str, *, actor: Actor | str, now: datetime
) -> StaffInfo:
    """Disable an account: its sessions and API tokens are revoked at once. Nobody
    disables their own account, and the last enabled admin stays enabled."""
    who = actor
    actor = _actor(actor)
    user = _user(conn, username)
    _guard_admins(conn, user, who, losing_admin=True)
    user = _user(conn, username)  # read again under the lock
    if user.disabled:
        raise StaffConflict("already_disabled", f"staff user {user.username} is already disabled")
    conn.execute(update(StaffUser).where(StaffUser.id == user.id).values(disabled=True))
    sessions = conn.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    tokens = conn.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    audit.record(
        conn,
        action="staff.disable",
        actor=actor,
        subject_type="staff_user",
        subject_id=str(user.id),
        payload={"sessions_revoked": sessions, "tokens_revoked": tokens},
    )
    return get_staff(conn, user.username)


def enable_staff(
    conn: Connection, username: str, *, actor: Actor | str, now: datetime
) -> StaffInfo:
    """Enable a disabled or locked account again (clears the failed-attempt lock)."""
    actor = _actor(actor)
    user = _user(conn, username)
    locked = user.locked_until is not None and user.locked_until > now
    if not user.disabled and not locked and user.failed_attempts == 0:
        raise StaffConflict(
            "not_disabled", f"staff user {user.username} is neither disabled nor locked"
        )
    conn.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(disabled=False, failed_attempts=0, locked_until=None)
    )
    audit.record(
        conn,
        action="staff.enable",
        actor=actor,
        subject_type="staff_user",
        subject_id=str(user.id),
        payload={"was_disabled": user.disabled, "was_locked": locked},
    )
    return get_staff(conn, user.username)


def set_password(
    conn: Connection, username: str, password: str, *, actor: Actor | str, now: datetime
) -> None:
    """A new password; every open session of the account is revoked."""
    actor = _actor(actor)
    user = _user(conn, username)
    credentials.check_password(password, user.username)
    conn.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(password_hash=credentials.hash_password(password), password_changed_at=now)
    )
    conn.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        conn,
        action="staff.password",
        actor=actor,
        subject_type="staff_user",
        subject_id=str(user.id),
        payload={},
    )


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # shown once
    prefix: str
    expires_at: datetime | None


def issue_api_token(
    conn: Connection,
    username: str,
    *,
    name: str,
    actor: Actor | str,
    now: datetime,
    days: int | None = 90,
) -> IssuedToken:
    """A bearer token for the lender's systems, acting as ``username`` with its role and
    scope (audited ``staff.token.issue``)."""
    actor = _actor(actor)
    user = _user(conn, username)
    if user.disabled:
        raise StaffConflict("disabled", f"staff user {user.username} is disabled")
    label = " ".join(name.split())
    if not 1 <= len(label) <= 100:
        raise ValidationError("name", "1-100 characters")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError("days", f"between 1 and {MAX_TOKEN_DAYS}")
    token = credentials.new_api_token()
    prefix = token[:12]
    expires = now + timedelta(days=days) if days is not None else None
    token_id = conn.execute(
        insert(ApiToken)
        .values(
            user_id=user.id,
            name=label,
            token_sha256=credentials.sha256_hex(token),
            prefix=prefix,
            created_by=actor,
            created_at=now,
            expires_at=expires,
        )
        .returning(ApiToken.id)
    ).scalar_one()
    audit.record(
        conn,
        action="staff.token.issue",
        actor=actor,
        subject_type="api_token",
        subject_id=str(token_id),
        payload={
            "user_id": user.id,
            "prefix": prefix,
            "expires_at": expires.isoformat() if expires else None,
        },
    )
    return IssuedToken(id=int(token_id), token=token, prefix=prefix, expires_at=expires)


def revoke_api_token(conn: Connection, token_id: int, *, actor: Actor | str, now: datetime) -> None:
    actor = _actor(actor)
    found = conn.execute(select(ApiToken.revoked_at).where(ApiToken.id == token_id)).one_or_none()
    if found is None:
        raise NotFound("api token", str(token_id))
    if found.revoked_at is not None:
        raise Conflict(f"api token {token_id} is already revoked")
    conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now))
    audit.record(
        conn,
        action="staff.token.revoke",
        actor=actor,
        subject_type="api_token",
        subject_id=str(token_id),
        payload={},
    )


def reset_password(conn: Connection, username: str, *, actor: Actor | str, now: datetime) -> str:
    """A new random initial password (returned once, for the admin to hand over; only
    its hash is stored); every open session of the account is revoked. Audited as
    ``staff.password`` with ``reset``."""
    password = credentials.new_initial_password()
    set_password(conn, username, password, actor=actor, now=now)
    return password


def change_role(
    conn: Connection,
    username: str,
    *,
    role: str,
    actor: Actor | str,
    now: datetime,
    agency_id: int | None = None,
    agent_ref: str | None = None,
    team_id: str | None = None,
    scope_buckets: list[str] | tuple[str, ...] = (),
) -> StaffInfo:
    """A new role and scope (agency, buckets, queue, team) for an account; its sessions
    are revoked so the next request reads the new role. Nobody demotes themselves, and
    the last enabled admin stays an admin. Audited as ``staff.role``."""
    who = actor
    name = _actor(actor)
    kind = _role(role)
    if kind is Role.AGENCY_AGENT and agency_id is None:
        raise ValidationError("agency", "an agency agent belongs to an agency (--agency N)")
    if kind is not Role.AGENCY_AGENT and agency_id is not None:
        raise ValidationError("agency", "only agency agents belong to an agency")
    if agency_id is not None and agency_id <= 0:
        raise ValidationError("agency", "a positive agency id")
    buckets = _buckets(scope_buckets)
    ref, team = _ref(agent_ref, "agent_ref"), _ref(team_id, "team_id")
    user = _user(conn, username)
    _guard_admins(conn, user, who, losing_admin=kind is not Role.ADMIN)
    before = info(_user(conn, username))
    conn.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(
            role=kind.value,
            agency_id=agency_id,
            agent_ref=ref,
            team_id=team,
            scope_buckets=json.dumps(buckets),
        )
    )
    conn.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        conn,
        action="staff.role",
        actor=name,
        subject_type="staff_user",
        subject_id=str(user.id),
        payload={
            "from": before.role,
            "role": kind.value,
            "agency_id": agency_id,
            "agent_ref": ref,
            "team_id": team,
            "scope_buckets": buckets,
        },
        at=now,
    )
    return get_staff(conn, user.username)
