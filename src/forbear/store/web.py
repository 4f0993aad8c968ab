"""Tables of the web app (issue 7); imported by :mod:`forbear.store.area_models`.

- ``staff_users``: the lender's staff who sign in (and service accounts for API tokens):
  username, display name, role (:class:`forbear.domain.access.Role`), the agency of an
  agency agent (CN.AGENCY.SCOPE), the capacity agent id whose work queue the user works
  (``agent_ref``, e.g. ``zh-001`` of the capacity file), a team (a supervisor's scope),
  optional bucket scope, the argon2 password hash, the disabled flag and the
  failed-attempt counter with its lock.
- ``staff_sessions``: server-side sign-in sessions. The cookie carries a random token,
  signed; the table keeps only the token's sha256, so a copy of the table cannot be
  replayed. Sessions expire (idle and absolute) and are revoked at sign-out.
- ``api_tokens``: bearer tokens for the lender's systems, one staff or service account
  each; only the sha256 of the token is stored, and its first characters to name it.
- ``sign_in_attempts``: every real sign-in check (a password verified) with hashed keys of
  the username and the client address, so the rate limits hold across processes and
  restarts; purged after a day (the audit trail keeps the sign-ins).
- ``unmask_events``: which borrower each staff member unmasked when, for the unmask
  throttle (:mod:`forbear.services.unmasking`): ids only (the field, purpose and the rest are
  in the audit trail's ``pii.unmask``); no foreign key to ``borrowers``, so the retention
  purge never meets it; purged after two days.

Use cases live in :mod:`forbear.services.staff`, :mod:`forbear.services.sessions` and
:mod:`forbear.services.unmasking`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain.access import Role
from forbear.store.models import Base, UTCDateTime, _created_at, _one_of


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(_one_of("role", Role), name="role"),
        # an agency agent belongs to exactly one agency; nobody else belongs to one
        CheckConstraint(
            "(role = 'agency_agent') = (agency_id IS NOT NULL)", name="agency_for_agency_agent"
        ),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(Integer)
    agent_ref: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(64))
    scope_buckets: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON
    password_hash: Mapped[str | None] = mapped_column(String(255))  # none: API tokens only
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class StaffSession(Base):
    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInAttempt(Base):
    """One sign-in attempt. Keys are keyed hashes (no username or address in clear)."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username_key_at", "username_key", "at"),
        Index("ix_sign_in_attempts_client_key_at", "client_key", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    username_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)


class UnmaskEvent(Base):
    """One successful unmasking by a staff member: who, which borrower (an id), when."""

    __tablename__ = "unmask_events"
    __table_args__ = (Index("ix_unmask_events_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    borrower_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = ["ApiToken", "SignInAttempt", "StaffSession", "StaffUser", "UnmaskEvent"]
