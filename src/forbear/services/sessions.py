"""Sign-in, sessions and API tokens: who is asking (the use cases; the web app keeps the
cookie and the headers, :mod:`forbear.web.sessions`).

**Sessions.** A successful sign-in stores a session (the sha256 of a random token, a CSRF
token, created / last seen / absolute expiry) and hands the token to the browser in a
signed, HttpOnly, SameSite=Lax cookie (Secure outside development). A session ends at
sign-out (revoked), after :data:`IDLE` without a request, after :data:`ABSOLUTE` in any
case, when the account is disabled or its password changes.

**Rate limits per account first** (stored in ``sign_in_attempts`` and on the account, so
they hold across worker processes and restarts; docs/security.md):

- at most :data:`MAX_FAILURES_PER_USERNAME` failed checks per username within
  :data:`WINDOW`; beyond that every attempt for that username is refused with the time
  to wait, whether the password is right or not and whether the username exists or not
  (the answer never tells which usernames exist);
- :data:`LOCK_AFTER` consecutive failures lock the account for :data:`LOCK_FOR`
  (``forbear staff enable`` lifts it).

**The client address is a soft signal only**, so that staff behind one address (an
office or a carrier NAT) do not lock each other out: from an address with
:data:`BUSY_CLIENT_FAILURES` failures in the window, an account gets
:data:`BUSY_CLIENT_FAILURES_PER_ACCOUNT` failed checks instead of
:data:`MAX_FAILURES_PER_USERNAME` (the other accounts behind it are untouched), and only
far beyond any shared office, at :data:`MAX_FAILURES_PER_CLIENT`, is the address refused
altogether (the guard of the server's CPU: each check is an argon2 hash). The address is
the peer's, or the ``X-Forwarded-For`` client named by a configured trusted proxy
(:func:`forbear.web.security.client_address`, the front end's concern).

**Atomic under parallel requests.** An attempt is a reservation counted the moment it is
taken: the first, short transaction takes the per-account lock
(:func:`forbear.store.locks.lock`, ``LockSpace.ACCOUNT`` on the username's key) and the
address's, checks the limits and records the attempt as a failure; the argon2 check runs
after that transaction has committed, outside any lock; a second short transaction
settles it (a success turns the attempt into one, resets the counter and opens the
session; a failure increments the counter in SQL and may lock the account, once). So
thirty parallel wrong passwords get exactly :data:`MAX_FAILURES_PER_USERNAME` real checks
and the counter counts each of them. Only real checks are rows of ``sign_in_attempts``;
refusals are audited (``reason: throttled``). Attempts older than :data:`KEEP_ATTEMPTS`
are purged now and then by the sign-in itself (:func:`purge_attempts`), and by the
retention run (:func:`forbear.services.retention.purge`, ``forbear retention purge``),
which forgets them after :data:`KEEP_ATTEMPTS` even when nobody signs in.

**API tokens** (``Authorization: Bearer fbr_...``) act as their staff account, with its
role and scope; disabled accounts, revoked or expired tokens are refused.

Audit events: ``staff.sign_in``, ``staff.sign_in_failed`` (with the reason, never the
password or the username typed), ``staff.lock``, ``staff.sign_out``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, or_, select, update

from forbear.domain.access import Actor, Role
from forbear.domain.errors import ForbearError
from forbear.services import credentials
from forbear.store import audit, locks
from forbear.store.locks import LockSpace
from forbear.store.web import ApiToken, SignInAttempt, StaffSession, StaffUser

IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
BUSY_CLIENT_FAILURES = 20  # an address this busy failing is a soft signal ...
BUSY_CLIENT_FAILURES_PER_ACCOUNT = 2  # ... each account gets this many checks from it
MAX_FAILURES_PER_CLIENT = 300  # the hard cap of one address (the CPU's guard)
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=30)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ATTEMPTS = timedelta(days=1)  # sign-in attempts older than this are purged ...
PURGE_EVERY = 100  # ... by every attempt whose id is a multiple of this


class SignInFailed(ForbearError):
    """Wrong username or password, or a disabled account: one message for all three."""

    def __init__(self) -> None:
        super().__init__("wrong username or password, or the account is disabled")


class SignInThrottled(ForbearError):
    """Too many failed attempts for this account (or from this address: module docstring),
    or the account is locked (a 429)."""

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

    def as_actor(self) -> Actor:
        """This person as the :class:`Actor` a use case takes."""
        return Actor(
            name=self.actor,
            role=self.role,
            user_id=self.user_id,
            agency_id=self.agency_id,
            scope_buckets=self.scope_buckets,
        )


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


def _failures(conn: Connection, condition: Any, since: datetime, limit: int) -> list[datetime]:
    """The times of the last ``limit`` failed checks matching ``condition`` after
    ``since``, oldest first (enough to tell whether and until when a limit is reached)."""
    return sorted(
        conn.execute(
            select(SignInAttempt.at)
            .where(condition, SignInAttempt.at > since, SignInAttempt.succeeded.is_(False))
            .order_by(SignInAttempt.at.desc())
            .limit(limit)
        ).scalars()
    )


def _wait(times: list[datetime], limit: int, now: datetime) -> timedelta | None:
    """How long until the oldest of ``limit`` failures leaves the window, or None when
    fewer than ``limit`` count."""
    if len(times) < limit:
        return None
    return times[-limit] + WINDOW - now


def _throttle(conn: Connection, user_key: str, client_key: str, now: datetime) -> int | None:
    """Seconds to wait, or None when an attempt may be made (the module docstring)."""
    since = now - WINDOW
    per_user = SignInAttempt.username_key == user_key
    per_client = SignInAttempt.client_key == client_key
    limit = MAX_FAILURES_PER_USERNAME
    waits = [_wait(_failures(conn, per_user, since, limit), limit, now)]
    from_client = _failures(conn, per_client, since, MAX_FAILURES_PER_CLIENT)
    waits.append(_wait(from_client, MAX_FAILURES_PER_CLIENT, now))
    if len(from_client) >= BUSY_CLIENT_FAILURES:
        busy = BUSY_CLIENT_FAILURES_PER_ACCOUNT
        waits.append(_wait(_failures(conn, per_user & per_client, since, busy), busy, now))
    found = [w for w in waits if w is not None]
    if not found:
        return None
    return max(1, int(max(found).total_seconds()) + 1)


@dataclass(frozen=True)
class _Reserved:
    """An attempt counted by the first transaction, waiting for the password check."""

    attempt_id: int
    user_key: str
    client_key: str
    user_id: int | None
    password_hash: str | None


def sign_in(
    transaction: Callable[[], AbstractContextManager[Connection]],
    key: Callable[[str, str], str],
    *,
    username: str,
    password: str,
    client: str,
    now: datetime,
) -> NewSession | Refused:
    """Check the password and open a session, within the rate limits (module docstring).

    ``transaction`` opens one committed transaction (``Forbear.transaction``): the
    attempt is reserved in one, the password checked outside any, and the result settled
    in another. ``key(kind, value)`` is the keyed hash that names the username and the
    client address in ``sign_in_attempts`` (the web app's
    :meth:`forbear.web.security.CookieSigner.key`), so no username or address is stored
    in clear. A refusal is returned as :class:`Refused` after it is recorded
    (``Refused.error()`` is the error to show).
    """
    name = username.strip().lower()[:64]
    user_key = key("username", name)
    client_key = key("client", client)
    with transaction() as conn:
        reserved = _reserve(conn, name, user_key, client_key, now)
    if isinstance(reserved, Refused):
        return reserved
    good = credentials.verify_password(reserved.password_hash, password)
    new_hash = None
    if good and reserved.password_hash and credentials.needs_rehash(reserved.password_hash):
        new_hash = credentials.hash_password(password)
    with transaction() as conn:
        return _settle(conn, reserved, good=good, new_hash=new_hash, now=now)


def _reserve(
    conn: Connection, name: str, user_key: str, client_key: str, now: datetime
) -> _Reserved | Refused:
    # the account's counts, then the address's (always in this order: two sign-ins never
    # wait on each other crosswise)
    locks.lock(conn, LockSpace.ACCOUNT, user_key)
    locks.lock(conn, LockSpace.KEY, f"sign-in-client:{client_key}")
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
        _audit_failure(conn, subject, "throttled")
        return Refused(retry_after=wait)
    attempt_id = conn.execute(
        insert(SignInAttempt)
        .values(at=now, username_key=user_key, client_key=client_key, succeeded=False)
        .returning(SignInAttempt.id)
    ).scalar_one()
    if int(attempt_id) % PURGE_EVERY == 0:
        purge_attempts(conn, now - KEEP_ATTEMPTS)
    return _Reserved(
        attempt_id=int(attempt_id),
        user_key=user_key,
        client_key=client_key,
        user_id=None if user is None else int(user.id),
        password_hash=None if user is None else user.password_hash,
    )


def _settle(
    conn: Connection, reserved: _Reserved, *, good: bool, new_hash: str | None, now: datetime
) -> NewSession | Refused:
    locks.lock(conn, LockSpace.ACCOUNT, reserved.user_key)  # the account's counter and lock
    user = None
    if reserved.user_id is not None:
        user = conn.execute(select(USERS).where(USERS.c.id == reserved.user_id)).one_or_none()
    subject = str(user.id) if user is not None else "unknown"
    if user is not None and good and user.password_hash != reserved.password_hash:
        good = False  # the password changed while it was being checked
    if user is None or not good or user.disabled:
        reason = "disabled" if (user is not None and user.disabled and good) else "credentials"
        _audit_failure(conn, subject, reason)
        if user is not None and not good:
            _count_failure(conn, int(user.id), now)
        return Refused()
    if user.locked_until is not None and user.locked_until > now:
        # locked by parallel failures while this password was being checked
        _audit_failure(conn, subject, "throttled")
        return Refused(retry_after=int((user.locked_until - now).total_seconds()) + 1)
    conn.execute(
        update(SignInAttempt).where(SignInAttempt.id == reserved.attempt_id).values(succeeded=True)
    )
    values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None, "last_sign_in_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    conn.execute(update(StaffUser).where(StaffUser.id == user.id).values(**values))
    token, csrf = credentials.new_token(), credentials.new_token()
    session_id = conn.execute(
        insert(StaffSession)
        .values(
            token_sha256=credentials.sha256_hex(token),
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


def _count_failure(conn: Connection, user_id: int, now: datetime) -> None:
    """One more consecutive failure, counted in SQL (no lost update); the account locks
    once, by the failure that reaches :data:`LOCK_AFTER`."""
    failures = int(
        conn.execute(
            update(StaffUser)
            .where(StaffUser.id == user_id)
            .values(failed_attempts=StaffUser.failed_attempts + 1)
            .returning(StaffUser.failed_attempts)
        ).scalar_one()
    )
    if failures < LOCK_AFTER:
        return
    until = now + LOCK_FOR
    locked = conn.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user_id,
            or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now),
        )
        .values(locked_until=until)
    ).rowcount
    if locked:
        audit.record(
            conn,
            action="staff.lock",
            actor="web:anonymous",
            subject_type="staff_user",
            subject_id=str(user_id),
            payload={"failed_attempts": failures, "until": until.isoformat()},
        )


def from_session(conn: Connection, token: str, now: datetime) -> Principal | None:
    """The principal of a live session, or None (unknown, revoked, expired, idle too
    long, or the account disabled). Refreshes ``last_seen_at`` now and then."""
    session = conn.execute(
        select(StaffSession).where(StaffSession.token_sha256 == credentials.sha256_hex(token))
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
    if not token.startswith(credentials.API_TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        select(ApiToken).where(ApiToken.token_sha256 == credentials.sha256_hex(token))
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
    """Forget sign-in attempts older than ``before`` (they only matter for :data:`WINDOW`;
    the audit trail keeps every sign-in and failure). The sign-in calls it every
    :data:`PURGE_EVERY` attempts with :data:`KEEP_ATTEMPTS`."""
    return int(conn.execute(delete(SignInAttempt).where(SignInAttempt.at < before)).rowcount)
