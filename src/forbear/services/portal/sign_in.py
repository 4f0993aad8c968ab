"""Sign-in by mobile number and a one-time code, and borrower sessions (the package
docstring: the limits and why they hold under parallel requests)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import NotFound, ValidationError
from forbear.services.portal.common import (
    ABSOLUTE,
    BUSY_CLIENT,
    BUSY_CLIENT_PER_PHONE,
    CODE_TEMPLATE,
    CODE_TTL,
    IDLE,
    MAX_ATTEMPTS,
    OUTBOX_CONTEXT,
    PER_CLIENT,
    PER_PHONE,
    RESEND_AFTER,
    TOUCH_EVERY,
    WINDOW,
    CodeThrottled,
    _utc,
    actor_of,
    sha256_hex,
)
from forbear.store import audit, locks
from forbear.store.crypto import PiiVault, normalise
from forbear.store.locks import LockSpace
from forbear.store.models import Borrower
from forbear.store.portal import (
    PortalCode,
    PortalOutbox,
    PortalSession,
)

# ---------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class CodeSent:
    """The answer to a code request. ``code`` is set only for a known number, for the
    development server's log line (the issue's demo); never shown or logged otherwise."""

    request_id: int
    expires_at: datetime
    code: str | None


def mobile_key(vault: PiiVault, mobile: str) -> str:
    """The blind index of a mainland mobile number; :class:`ValidationError` otherwise."""
    if not isinstance(mobile, str) or len(mobile) > 32:
        raise ValidationError("mobile", "an 11-digit mainland mobile number")
    digits = normalise("phone", mobile)
    if len(digits) != 11 or not digits.startswith("1"):
        raise ValidationError("mobile", "an 11-digit mainland mobile number")
    return vault.blind_index("phone", digits)


def _code_hash(vault: PiiVault, phone_key: str, code: str) -> str:
    return vault.blind_index("portal_code", f"{phone_key}:{code}")


def _recent(conn: Connection, condition: Any, limit: int, now: datetime) -> list[datetime]:
    """When the last ``limit`` requests matching ``condition`` in the window were made,
    oldest first."""
    return sorted(
        conn.execute(
            select(PortalCode.created_at)
            .where(condition, PortalCode.created_at > now - WINDOW)
            .order_by(PortalCode.created_at.desc())
            .limit(limit)
        ).scalars()
    )


def _wait(times: list[datetime], limit: int, now: datetime) -> int | None:
    if len(times) >= limit:
        return max(1, int((times[-limit] + WINDOW - now).total_seconds()) + 1)
    return None


def _borrower_by_key(conn: Connection, phone_key: str) -> int | None:
    found = list(
        conn.execute(
            select(Borrower.id).where(
                Borrower.mobile_bidx == phone_key, Borrower.anonymised_at.is_(None)
            )
        ).scalars()
    )
    # a number shared by two borrower records signs in to neither: a code must never open
    # somebody else's account (staff resolve the records)
    return int(found[0]) if len(found) == 1 else None


def request_code(
    conn: Connection, vault: PiiVault, *, mobile: str, client_key: str, now: datetime
) -> CodeSent:
    """Send a sign-in code to ``mobile`` if it is a borrower's (see the module docstring);
    the same answer otherwise. :class:`CodeThrottled` beyond the limits (nothing written)."""
    moment = _utc(now)
    phone_key = mobile_key(vault, mobile)
    locks.lock(conn, LockSpace.PHONE, phone_key)
    locks.lock(conn, LockSpace.KEY, f"portal-client:{client_key}")
    per_phone = PortalCode.phone_key == phone_key
    per_client = PortalCode.client_key == client_key
    from_client = _recent(conn, per_client, PER_CLIENT, moment)
    found = [_wait(_recent(conn, per_phone, PER_PHONE, moment), PER_PHONE, moment)]
    found.append(_wait(from_client, PER_CLIENT, moment))
    if len(from_client) >= BUSY_CLIENT:
        busy = BUSY_CLIENT_PER_PHONE
        found.append(_wait(_recent(conn, per_phone & per_client, busy, moment), busy, moment))
    waits = [w for w in found if w is not None]
    last = conn.execute(
        select(func.max(PortalCode.created_at)).where(PortalCode.phone_key == phone_key)
    ).scalar_one_or_none()
    if last is not None and moment - last < RESEND_AFTER:
        waits.append(max(1, int((last + RESEND_AFTER - moment).total_seconds()) + 1))
    if waits:
        raise CodeThrottled(max(waits))
    borrower_id = _borrower_by_key(conn, phone_key)
    code = f"{secrets.randbelow(1_000_000):06d}" if borrower_id is not None else None
    expires_at = moment + CODE_TTL
    request_id = int(
        conn.execute(
            insert(PortalCode)
            .values(
                phone_key=phone_key,
                client_key=client_key,
                borrower_id=borrower_id,
                code_hash=None if code is None else _code_hash(vault, phone_key, code),
                created_at=moment,
                expires_at=expires_at,
                attempts=0,
            )
            .returning(PortalCode.id)
        ).scalar_one()
    )
    if borrower_id is not None and code is not None:
        payload = json.dumps({"code": code, "expires_at": expires_at.isoformat()})
        message_id = conn.execute(
            insert(PortalOutbox)
            .values(
                borrower_id=borrower_id,
                channel=Channel.SMS.value,
                template=CODE_TEMPLATE,
                payload_enc=vault.encrypt(payload, context=OUTBOX_CONTEXT),
                status="queued",
                created_at=moment,
            )
            .returning(PortalOutbox.id)
        ).scalar_one()
        audit.record(
            conn,
            action="portal.code_sent",
            actor="portal:anonymous",
            subject_type="borrower",
            subject_id=borrower_id,
            payload={"request_id": request_id, "outbox_id": int(message_id)},
        )
    else:
        audit.record(
            conn,
            action="portal.code_unknown_number",
            actor="portal:anonymous",
            subject_type="portal_code",
            subject_id=request_id,
            payload={},
        )
    return CodeSent(request_id, expires_at, code)


def outbox_code(conn: Connection, vault: PiiVault, message_id: int) -> str:
    """The code of a queued portal SMS, for the SMS sender (and the tests)."""
    blob = conn.execute(
        select(PortalOutbox.payload_enc).where(PortalOutbox.id == message_id)
    ).scalar_one_or_none()
    if blob is None:
        raise NotFound("portal message", str(message_id))
    return str(json.loads(vault.decrypt(blob, context=OUTBOX_CONTEXT))["code"])


@dataclass(frozen=True)
class BorrowerSession:
    borrower_id: int
    session_id: int
    csrf_token: str

    @property
    def actor(self) -> str:
        return actor_of(self.borrower_id)


@dataclass(frozen=True)
class NewBorrowerSession:
    token: str
    session: BorrowerSession


def verify_code(
    conn: Connection, vault: PiiVault, *, mobile: str, code: str, now: datetime
) -> NewBorrowerSession | None:
    """Open a session for the right code of the number's latest live request; ``None``
    otherwise (a wrong guess is counted: the caller commits, then refuses with
    :class:`CodeRefused`). A malformed code is a :class:`ValidationError` (nothing written)."""
    moment = _utc(now)
    phone_key = mobile_key(vault, mobile)
    typed = code.strip() if isinstance(code, str) else ""
    if len(typed) != 6 or not typed.isascii() or not typed.isdigit():
        raise ValidationError("code", "the 6 digits of the text message")
    locks.lock(conn, LockSpace.PHONE, phone_key)
    row = conn.execute(
        select(PortalCode)
        .where(PortalCode.phone_key == phone_key)
        .order_by(PortalCode.created_at.desc(), PortalCode.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None or row.code_hash is None or row.borrower_id is None:
        return None
    live = (
        PortalCode.id == row.id,
        PortalCode.used_at.is_(None),
        PortalCode.expires_at > moment,
    )
    # the try is counted before the code is compared: a guess beyond the limit is none
    attempt = conn.execute(
        update(PortalCode)
        .where(*live, PortalCode.attempts < MAX_ATTEMPTS)
        .values(attempts=PortalCode.attempts + 1)
        .returning(PortalCode.attempts)
    ).scalar_one_or_none()
    if attempt is None:
        return None
    if not secrets.compare_digest(row.code_hash, _code_hash(vault, phone_key, typed)):
        audit.record(
            conn,
            action="portal.sign_in_failed",
            actor="portal:anonymous",
            subject_type="borrower",
            subject_id=int(row.borrower_id),
            payload={"request_id": int(row.id), "attempt": int(attempt)},
        )
        return None
    # single use: of two transactions with the right code, one spends it
    spent = conn.execute(update(PortalCode).where(*live).values(used_at=moment)).rowcount
    if spent != 1:
        return None
    return open_session(conn, int(row.borrower_id), moment)


def open_session(conn: Connection, borrower_id: int, now: datetime) -> NewBorrowerSession:
    """A new borrower session (after a verified code; tests open one directly)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session_id = int(
        conn.execute(
            insert(PortalSession)
            .values(
                token_sha256=sha256_hex(token),
                borrower_id=borrower_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + ABSOLUTE,
            )
            .returning(PortalSession.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="portal.sign_in",
        actor=actor_of(borrower_id),
        subject_type="borrower",
        subject_id=borrower_id,
        payload={"session_id": session_id},
    )
    return NewBorrowerSession(token, BorrowerSession(borrower_id, session_id, csrf))


def from_session(conn: Connection, token: str, now: datetime) -> BorrowerSession | None:
    """The live session of ``token``, or None (unknown, revoked, expired, idle)."""
    row = conn.execute(
        select(PortalSession).where(PortalSession.token_sha256 == sha256_hex(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        conn.execute(
            update(PortalSession).where(PortalSession.id == row.id).values(last_seen_at=now)
        )
    return BorrowerSession(int(row.borrower_id), int(row.id), str(row.csrf_token))


def sign_out(conn: Connection, session: BorrowerSession, now: datetime) -> None:
    conn.execute(
        update(PortalSession)
        .where(PortalSession.id == session.session_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        conn,
        action="portal.sign_out",
        actor=session.actor,
        subject_type="borrower",
        subject_id=session.borrower_id,
        payload={"session_id": session.session_id},
    )
