"""Sign-in, sessions and API tokens: who is asking.

**Sessions.** A successful sign-in stores a session (the sha256 of a random token, a CSRF
token, created / last seen / absolute expiry) and hands the token to the browser in a
signed, HttpOnly, SameSite=Lax cookie (Secure outside development). A session ends at
sign-out (revoked), after :data:`IDLE` without a request, after :data:`ABSOLUTE` in any
case, when the account is disabled or its password changes.

**Rate limits** (stored in ``sign_in_attempts``, so they hold across worker processes and
restarts): at most :data:`MAX_FAILURES_PER_USERNAME` failed attempts per username and
:data:`MAX_FAILURES_PER_CLIENT` per client address within :data:`WINDOW`; beyond that
every attempt is refused with the time to wait, whether the password is right or not,
and whether the username exists or not (the answer never tells which usernames exist).
Independently, :data:`LOCK_AFTER` consecutive failures lock the account for
:data:`LOCK_FOR` (``forbear staff enable`` lifts it). A refused attempt is recorded too:
the attempts table is the evidence the limits stand on.

**API tokens** (``Authorization: Bearer fbr_...``) act as their staff account, with its
role and scope; disabled accounts, revoked or expired tokens are refused.

Audit events: ``staff.sign_in``, ``staff.sign_in_failed`` (with the reason, never the
password or the username typed), ``staff.lock``, ``staff.sign_out``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update

from forbear.domain.access import Role
from forbear.domain.errors import ForbearError
from forbear.store import audit
from forbear.store.web import ApiToken, SignInAttempt, StaffSession, StaffUser
from forbear.web import security

IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_CLIENT = 20
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=30)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


class SignInFailed(ForbearError):
    """Wrong username or password, or a disabled account: one message for all three."""

    def __init__(self) -> None:
        super().__init__("wrong username or password, or the account is disabled")


class SignInThrottled(ForbearError):
    """Too many failed attempts for this username or from this client (a 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts: try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """The signed-in staff member (or the owner of an API token) of one request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    agency_id: int | None
    agent_ref: str | None
    team_id: str | None
    scope_buckets: tuple[str, ...]
    via: str  # "session" or "token"
    session_id: int | None = None
    csrf_token: str | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this person (the CLI uses ``cli:<login>``)."""
        return f"{'web' if self.via == 'session' else 'api'}:{self.username}"


@dataclass(frozen=True)
class Refused:
    """A refused sign-in; ``retry_after`` (seconds) when throttled or locked. Returned,
    not raised, so the caller commits the recorded attempt before it answers."""

    retry_after: int | None = None

    def error(self) -> ForbearError:
        return SignInFailed() if self.retry_after is None else SignInThrottled(self.retry_after)


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    principal: Principal


USERS = cast(Table, StaffUser.__table__)


def _principal(user: Any, *, via: str, session: Any = None) -> Principal:
    return Principal(
        user_id=int(user.id),
        username=str(user.username),
        display_name=str(user.display_name),
        role=Role(user.role),
        agency_id=user.agency_id,
        agent_ref=user.agent_ref,
        team_id=user.team_id,
        scope_buckets=tuple(json.loads(user.scope_buckets or "[]")),
        via=via,
        session_id=None if session is None else int(session.id),
        csrf_token=None if session is None else str(session.csrf_token),
    )


def _failures_since(conn: Connection, column: Any, key: str, since: datetime) -> list[datetime]:
    return [
        at
        for at in conn.execute(
            select(SignInAttempt.at)
            .where(column == key, SignInAttempt.at > since, SignInAttempt.succeeded.is_(False))
            .order_by(SignInAttempt.at)
        ).scalars()
    ]


def _throttle(conn: Connection, user_key: str, client_key: str, now: datetime) -> int | None:
    """Seconds to wait, or None when an attempt may be made."""
    since = now - WINDOW
    waits = []
    for column, key, limit in (
        (SignInAttempt.username_key, user_key, MAX_FAILURES_PER_USERNAME),
        (SignInAttempt.client_key, client_key, MAX_FAILURES_PER_CLIENT),
    ):
        failures = _failures_since(conn, column, key, since)
        if len(failures) >= limit:
            # free again when the oldest failure that counts leaves the window
            waits.append(failures[-limit] + WINDOW - now)
    if not waits:
        return None
    return max(1, int(max(waits).total_seconds()) + 1)


def _attempt(conn: Connection, user_key: str, client_key: str, now: datetime, ok: bool) -> None:
    conn.execute(
        insert(SignInAttempt).values(
            at=now, username_key=user_key, client_key=client_key, succeeded=ok
        )
    )


def sign_in(
    conn: Connection,
    signer: security.CookieSigner,
    *,
    username: str,
    password: str,
    client: str,
    now: datetime,
) -> NewSession | Refused:
    """Check the password and open a session, within the rate limits (module docstring).

    A refusal is returned as :class:`Refused` after the attempt is recorded: the caller
    commits either way, then answers (``Refused.error()`` is the error to show).
    """
    name = username.strip().lower()[:64]
    user_key = signer.key("username", name)
    client_key = signer.key("client", client)
    wait = _throttle(conn, user_key, client_key, now)
    user = conn.execute(select(USERS).where(USERS.c.username == name)).one_or_none()
    subject = str(user.id) if user is not None else "unknown"
    if (
        wait is None
        and user is not None
        and user.locked_until is not None
        and user.locked_until > now
    ):
        wait = int((user.locked_until - now).total_seconds()) + 1
    if wait is not None:
        _attempt(conn, user_key, client_key, now, ok=False)
        _audit_failure(conn, subject, "throttled")
        return Refused(retry_after=wait)
    good = security.verify_password(None if user is None else user.password_hash, password)
    if user is None or not good or user.disabled:
        _attempt(conn, user_key, client_key, now, ok=False)
        reason = "disabled" if (user is not None and user.disabled and good) else "credentials"
        _audit_failure(conn, subject, reason)
        if user is not None and not good:
            _count_failure(conn, user, now)
        return Refused()
    _attempt(conn, user_key, client_key, now, ok=True)
    values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None, "last_sign_in_at": now}
    if security.needs_rehash(user.password_hash):
        values["password_hash"] = security.hash_password(password)
    conn.execute(update(StaffUser).where(StaffUser.id == user.id).values(**values))
    token, csrf = security.new_token(), security.new_token()
    session_id = conn.execute(
        insert(StaffSession)
        .values(
            token_sha256=security.sha256_hex(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
        )
        .returning(StaffSession.id)
    ).scalar_one()
    audit.record(
        conn,
        action="staff.sign_in",
        actor=f"web:{user.username}",
        subject_type="staff_user",
        subject_id=str(user.id),
        payload={"session_id": int(session_id)},
    )
    session = conn.execute(select(StaffSession).where(StaffSession.id == session_id)).one()
    return NewSession(token, csrf, _principal(user, via="session", session=session))


def _audit_failure(conn: Connection, subject: str, reason: str) -> None:
    audit.record(
        conn,
        action="staff.sign_in_failed",
        actor="web:anonymous",
        subject_type="staff_user",
        subject_id=subject,
        payload={"reason": reason},
    )


def _count_failure(conn: Connection, user: Any, now: datetime) -> None:
    failures = int(user.failed_attempts) + 1
    values: dict[str, Any] = {"failed_attempts": failures}
    if failures >= LOCK_AFTER:
        values["locked_until"] = now + LOCK_FOR
        audit.record(
            conn,
            action="staff.lock",
            actor="web:anonymous",
            subject_type="staff_user",
            subject_id=str(user.id),
            payload={"failed_attempts": failures, "until": (now + LOCK_FOR).isoformat()},
        )
    conn.execute(update(StaffUser).where(StaffUser.id == user.id).values(**values))


def from_session(conn: Connection, token: str, now: datetime) -> Principal | None:
    """The principal of a live session, or None (unknown, revoked, expired, idle too
    long, or the account disabled). Refreshes ``last_seen_at`` now and then."""
    session = conn.execute(
        select(StaffSession).where(StaffSession.token_sha256 == security.sha256_hex(token))
    ).one_or_none()
    if session is None or session.revoked_at is not None:
        return None
    if now >= session.expires_at or now - session.last_seen_at >= IDLE:
        return None
    user = conn.execute(select(USERS).where(USERS.c.id == session.user_id)).one()
    if user.disabled:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        conn.execute(
            update(StaffSession).where(StaffSession.id == session.id).values(last_seen_at=now)
        )
    return _principal(user, via="session", session=session)


def sign_out(conn: Connection, principal: Principal, now: datetime) -> None:
    if principal.session_id is None:
        return
    conn.execute(
        update(StaffSession)
        .where(StaffSession.id == principal.session_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        conn,
        action="staff.sign_out",
        actor=principal.actor,
        subject_type="staff_user",
        subject_id=str(principal.user_id),
        payload={"session_id": principal.session_id},
    )


def from_api_token(conn: Connection, token: str, now: datetime) -> Principal | None:
    if not token.startswith(security.API_TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        select(ApiToken).where(ApiToken.token_sha256 == security.sha256_hex(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return None
    user = conn.execute(select(USERS).where(USERS.c.id == row.user_id)).one()
    if user.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        conn.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return _principal(user, via="token")


def purge_attempts(conn: Connection, before: datetime) -> int:
    """Forget sign-in attempts older than ``before`` (they only matter for :data:`WINDOW`)."""
    from sqlalchemy import delete

    count = conn.execute(
        select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at < before)
    ).scalar_one()
    conn.execute(delete(SignInAttempt).where(SignInAttempt.at < before))
    return int(count)
