"""The borrower portal: sign-in by mobile number and a one-time code, and what a signed-in
borrower may see and do about their own loans.

**Sign-in.** :func:`request_code` looks the number up by its blind index (the same keyed
hash as ``borrowers.mobile_bidx``: no number is stored or compared in clear), and for a
borrower's mobile stores a 6-digit code's keyed hash (never the code) that expires after
:data:`CODE_TTL` and takes at most :data:`MAX_ATTEMPTS` guesses, and queues an SMS with
the code (encrypted) in ``portal_outbox``. An unknown number gets the same answer and the
same request row, without a code (no account enumeration). Requests are limited per
number first (:data:`PER_PHONE` within :data:`WINDOW`, one per :data:`RESEND_AFTER`); the
client address is a soft signal only, so that borrowers behind one carrier NAT do not lock
each other out: from an address with :data:`BUSY_CLIENT` requests in the window, a number
gets :data:`BUSY_CLIENT_PER_PHONE` requests from it, and only :data:`PER_CLIENT`, far beyond
any shared address, refuses the address. A refused request writes nothing.
:func:`verify_code` opens a borrower session (the sha256 of a random token, a CSRF token,
idle and absolute expiry), separate from the staff's sessions.

**Atomic under parallel requests.** Both take the per-number lock
(:func:`forbear.store.locks.lock`, ``LockSpace.PHONE``) before they read what the limits
count (a code request the address's too), so the limits are exact. A guess is counted
before it is compared (``attempts = attempts + 1`` in SQL, only while fewer than
:data:`MAX_ATTEMPTS` were made), so forty parallel guesses make exactly
:data:`MAX_ATTEMPTS` tries; a right code is spent by a conditional update that only one
transaction can win, so a code opens exactly one session.

**Own loans only.** Every use case takes the signed-in ``borrower_id`` and a loan id and
answers :class:`NotFound` for a loan that is not that borrower's, exactly as for a loan
that does not exist, before anything is written.

Use cases: what is owed and when (:func:`owed`, the ledger position today), a payment
intent (:func:`record_payment_intent`: not a payment), a promise to pay
(:func:`make_promise`, source ``portal``), a repayment plan from the offers the policy
allows an agent, the most conservative authority (:func:`plan_options`,
:func:`choose_plan`: offered and accepted at once), a dispute (:func:`dispute`: a
``dispute`` hold with a reason code), an opt-out of one channel (:func:`opt_out`), the
borrower's own contact history (:func:`contact_history`: channel, time, outcome; never who)
and their rights (:func:`rights`). Every change is audited with the actor
``portal:borrower:<id>``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import Channel, HoldKind
from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.domain.plans import PlanRequest, PlanType
from forbear.domain.plans.policy import LoadedPolicy, default_policy
from forbear.services import contacts, plans, promises, situation
from forbear.services.holds import covering, open_at
from forbear.store import audit, locks
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import PiiVault, normalise
from forbear.store.locks import LockSpace, lock_loan
from forbear.store.models import Borrower, Loan
from forbear.store.portal import (
    PAYMENT_METHODS,
    PaymentIntent,
    PortalCode,
    PortalOutbox,
    PortalSession,
)

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
WINDOW = timedelta(hours=1)
PER_PHONE = 5
BUSY_CLIENT = 20  # code requests from one address in the window: a soft signal ...
BUSY_CLIENT_PER_PHONE = 2  # ... after which a number gets this many requests from it
PER_CLIENT = 200  # the hard cap of one address (SMS cost)
RESEND_AFTER = timedelta(seconds=60)
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=4)
TOUCH_EVERY = timedelta(minutes=1)
CODE_TEMPLATE = "portal.sign_in_code"
OUTBOX_CONTEXT = "portal_outbox.payload"
MAX_INTENT = 100_000_000_00  # fen: a hundred million yuan, far beyond any consumer loan

# what a borrower may dispute (a code, never free text: holds.reason holds no personal data)
DISPUTE_REASONS = ("amount_wrong", "already_paid", "not_my_loan", "other")
# the channels a borrower may stop from the portal (letters and visits have their own rules)
OPT_OUT_CHANNELS = (Channel.CALL, Channel.AI_CALL, Channel.SMS, Channel.IM, Channel.EMAIL)


class CodeThrottled(ForbearError):
    """Too many code requests for this number or from this client (a 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many code requests: try again in {retry_after} seconds")
        self.retry_after = retry_after


class CodeRefused(ForbearError):
    """A wrong, expired or used code, or a number without a code: one answer for all."""

    def __init__(self) -> None:
        super().__init__("the code is wrong or has expired: ask for a new one")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def actor_of(borrower_id: int) -> str:
    return f"portal:borrower:{borrower_id}"


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


def _utc(moment: datetime, name: str = "now") -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(name, "must carry a time zone")
    return moment


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


# ---------------------------------------------------------------------------- own loans


@dataclass(frozen=True)
class LoanSummary:
    loan_id: int
    loan_ref: str
    principal: int
    start_date: date


def loans_of(conn: Connection, borrower_id: int) -> list[LoanSummary]:
    rows = conn.execute(
        select(Loan.id, Loan.external_ref, Loan.principal, Loan.start_date)
        .where(Loan.borrower_id == borrower_id)
        .order_by(Loan.start_date, Loan.id)
    ).all()
    return [LoanSummary(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]


def own_loan(conn: Connection, borrower_id: int, loan_id: int) -> LoanSummary:
    """The borrower's loan ``loan_id``; :class:`NotFound` for anybody else's or none."""
    if isinstance(loan_id, bool) or not isinstance(loan_id, int):
        raise ValidationError("loan_id", "a loan number")
    row = conn.execute(
        select(Loan.id, Loan.external_ref, Loan.principal, Loan.start_date).where(
            Loan.id == loan_id, Loan.borrower_id == borrower_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("loan", str(loan_id))
    return LoanSummary(int(row[0]), str(row[1]), int(row[2]), row[3])


@dataclass(frozen=True)
class Owed:
    loan: LoanSummary
    as_of: date
    status: str
    dpd: int
    overdue_principal: int
    overdue_interest: int
    overdue_fee: int
    overdue_penalty: int
    overdue_total: int
    oldest_due_date: date | None
    next_due_date: date | None
    next_due_amount: int | None
    outstanding_total: int
    active_plan_id: int | None


def owed(
    conn: Connection, borrower_id: int, loan_id: int, as_of: date, at: datetime | None = None
) -> Owed:
    """What the borrower owes on their loan at the end of ``as_of``, and when: the borrower
    situation (:mod:`forbear.services.situation`, the ledger on the schedule in force:
    the plan's while a plan governs the loan), the same figures the agent's page shows.
    ``at`` is the moment the holds are judged at (default: the end of ``as_of``)."""
    loan = own_loan(conn, borrower_id, loan_id)
    if as_of < loan.start_date:
        return Owed(loan, as_of, "active", 0, 0, 0, 0, 0, 0, None, None, None, 0, None)
    moment = at if at is not None else datetime.combine(as_of, time(23, 59, 59), UTC)
    _, row = situation.of_loan(conn, loan_id, as_of, moment)
    if row is None:  # pragma: no cover - a started loan always has a row
        raise NotFound("loan", str(loan_id))
    position = plans.loan_position(conn, loan_id, as_of)
    open_plans = [
        p
        for p in plans.list_plans(conn, loan_id=loan_id)
        if p.status.value in ("accepted", "active")
    ]
    return Owed(
        loan=loan,
        as_of=as_of,
        status=str(row["status"]),
        dpd=int(row["dpd"]),
        overdue_principal=int(row["overdue_principal"]),
        overdue_interest=int(row["overdue_interest"]),
        overdue_fee=int(row["overdue_fee"]),
        overdue_penalty=int(row["overdue_penalty"]),
        overdue_total=int(row["overdue_total"]),
        oldest_due_date=row["oldest_unpaid_due_date"],
        next_due_date=row["next_due_date"],
        next_due_amount=row["next_due_amount"],
        # everything still to pay, future interest included (the position's lines)
        outstanding_total=position.total.total,
        active_plan_id=open_plans[-1].id if open_plans else None,
    )


def _amount(value: Any, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "an integer number of fen")
    if not 0 < value <= high:
        raise ValidationError(field, f"between 1 and {high} fen (got {value})")
    return value


def record_payment_intent(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    amount: int,
    method: str,
    as_of: date,
    now: datetime,
) -> int:
    """The borrower says they will pay ``amount`` fen by ``method`` (not a payment: the
    ledger learns of payments from the lender's books). At most what the loan still owes."""
    moment = _utc(now)
    if method not in PAYMENT_METHODS:
        raise ValidationError("method", f"one of {', '.join(PAYMENT_METHODS)}")
    position = owed(conn, borrower_id, loan_id, as_of)
    if position.status != "active" or position.outstanding_total <= 0:
        raise Conflict("the loan is not active: nothing to pay")
    value = _amount(amount, "amount", min(MAX_INTENT, position.outstanding_total))
    intent_id = int(
        conn.execute(
            insert(PaymentIntent)
            .values(
                borrower_id=borrower_id,
                loan_id=loan_id,
                amount=value,
                method=method,
                created_by=actor_of(borrower_id),
                created_at=moment,
            )
            .returning(PaymentIntent.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="portal.payment_intent",
        actor=actor_of(borrower_id),
        subject_type="loan",
        subject_id=loan_id,
        payload={"intent_id": intent_id, "amount": value, "method": method},
    )
    return intent_id


def make_promise(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    amount: int,
    promised_on: date,
    as_of: date,
    now: datetime,
) -> int:
    """A promise to pay, taken through the portal (``services.promises.add_promise``)."""
    own_loan(conn, borrower_id, loan_id)
    lock_loan(conn, loan_id)  # one open promise per loan (held to the transaction's end)
    _amount(amount, "amount", MAX_INTENT)
    return promises.add_promise(
        conn,
        loan_id=loan_id,
        amount=amount,
        promised_on=promised_on,
        source="portal",
        actor=actor_of(borrower_id),
        as_of=as_of,
        taken_at=_utc(now),
    )


# ---------------------------------------------------------------------------- plans

PORTAL_ROLE = "agent"  # the most conservative authority of the policy


@dataclass(frozen=True)
class PlanOption:
    key: str  # e.g. "deferral-2", "restructure-6"
    plan_type: str
    months: int
    instalments: int
    first_due_date: date
    first_amount: int
    largest_amount: int
    total: int
    lines: int


def _requests(policy: LoadedPolicy, product_code: str, tier: str | None) -> list[PlanRequest]:
    limits = policy.policy.limits_for(PORTAL_ROLE, product_code, tier)
    found = [
        PlanRequest(PlanType.DEFERRAL, months=m)
        for m in range(1, min(limits.max_deferral_months, 3) + 1)
    ]
    for n in (3, 6, 12):
        if n <= limits.max_restructure_instalments:
            found.append(PlanRequest(PlanType.RESTRUCTURE, instalments=n))
    return found


def _key(request: PlanRequest) -> str:
    count = request.months if request.plan_type is PlanType.DEFERRAL else request.instalments
    return f"{request.plan_type.value}-{count}"


def plan_options(
    conn: Connection,
    borrower_id: int,
    loan_id: int,
    as_of: date,
    *,
    policy: LoadedPolicy | None = None,
) -> tuple[list[PlanOption], str | None]:
    """The plans the borrower may choose on their loan today (deferrals and instalment
    plans within an agent's limits, no waiver or discount), or no options and the reason
    (an open plan, a dispute, a loan that is not overdue or not active)."""
    own_loan(conn, borrower_id, loan_id)
    loaded = policy or default_policy()
    facts = plans.loan_facts(conn, loan_id)
    tier = plans.tier_of(conn, loan_id, as_of)
    options: list[PlanOption] = []
    reason: str | None = None
    for request in _requests(loaded, facts.product_code, tier):
        try:
            result = plans.offer_plan(
                conn,
                loan_id=loan_id,
                request=request,
                role=PORTAL_ROLE,
                as_of=as_of,
                actor=actor_of(borrower_id),
                policy=loaded,
                save=False,
            )
        except (Conflict, ValidationError) as refused:
            reason = reason or str(refused)
            continue
        lines = [ln for ln in result.offer.lines if ln.due_date > as_of]
        if not lines:
            continue
        totals = [ln.principal + ln.interest + ln.fee + ln.penalty for ln in lines]
        options.append(
            PlanOption(
                key=_key(request),
                plan_type=request.plan_type.value,
                months=request.months,
                instalments=request.instalments,
                first_due_date=lines[0].due_date,
                first_amount=totals[0],
                largest_amount=max(totals),
                total=sum(totals),
                lines=len(lines),
            )
        )
    return options, (None if options else reason)


def choose_plan(
    conn: Connection,
    *,
    borrower_id: int,
    loan_id: int,
    option: str,
    as_of: date,
    policy: LoadedPolicy | None = None,
) -> plans.PlanInfo:
    """The borrower chooses one of :func:`plan_options`: the plan is offered and accepted
    at once (audited ``plan.offer`` / ``plan.accepted`` by the borrower)."""
    own_loan(conn, borrower_id, loan_id)
    lock_loan(conn, loan_id)  # one open plan per loan (held to the transaction's end)
    loaded = policy or default_policy()
    facts = plans.loan_facts(conn, loan_id)
    tier = plans.tier_of(conn, loan_id, as_of)
    chosen = next(
        (r for r in _requests(loaded, facts.product_code, tier) if _key(r) == option), None
    )
    if chosen is None:
        raise ValidationError("option", "not one of the plans offered for this loan")
    result = plans.offer_plan(
        conn,
        loan_id=loan_id,
        request=chosen,
        role=PORTAL_ROLE,
        as_of=as_of,
        actor=actor_of(borrower_id),
        policy=loaded,
        save=True,
    )
    assert result.plan_id is not None
    return plans.accept_plan(conn, result.plan_id, as_of=as_of, actor=actor_of(borrower_id))


# ---------------------------------------------------------------------------- contact


def dispute(conn: Connection, *, borrower_id: int, loan_id: int, reason: str, now: datetime) -> int:
    """The borrower disputes the debt: a ``dispute`` hold on the loan (collection of the
    loan stops until staff resolve it). ``reason`` is a code of :data:`DISPUTE_REASONS`."""
    own_loan(conn, borrower_id, loan_id)
    if reason not in DISPUTE_REASONS:
        raise ValidationError("reason", f"one of {', '.join(DISPUTE_REASONS)}")
    open_dispute = conn.execute(
        select(Hold.id).where(
            Hold.kind == HoldKind.DISPUTE.value,
            covering(borrower_id, loan_id),
            open_at(_utc(now)),
        )
    ).first()
    if open_dispute is not None:
        raise Conflict("this loan is already disputed: staff are checking it")
    return contacts.add_hold(
        conn,
        loan_id=loan_id,
        kind=HoldKind.DISPUTE.value,
        actor=actor_of(borrower_id),
        since=_utc(now),
        reason=f"portal dispute: {reason}",
    )


def opt_out(conn: Connection, *, borrower_id: int, channel: str, now: datetime) -> int:
    """Stop one channel for every loan of the borrower (an ``opt_out`` hold)."""
    allowed = [c.value for c in OPT_OUT_CHANNELS]
    if channel not in allowed:
        raise ValidationError("channel", f"one of {', '.join(allowed)}")
    loans = loans_of(conn, borrower_id)
    if not loans:
        raise NotFound("borrower", str(borrower_id))
    if channel in opted_out(conn, borrower_id, at=_utc(now)):
        raise Conflict(f"the {channel} channel is already stopped")
    return contacts.add_hold(
        conn,
        loan_id=loans[0].loan_id,
        kind=HoldKind.OPT_OUT.value,
        actor=actor_of(borrower_id),
        since=_utc(now),
        channel=channel,
        all_loans=True,
        reason="portal opt-out",
    )


def opted_out(conn: Connection, borrower_id: int, *, at: datetime | None = None) -> list[str]:
    """The channels the borrower has stopped (opt-out holds open at ``at``; without
    ``at``, every opt-out not yet lifted, a future one included)."""
    still = open_at(at) if at is not None else Hold.until.is_(None)
    rows = conn.execute(
        select(Hold.channel)
        .where(
            Hold.borrower_id == borrower_id,
            Hold.kind == HoldKind.OPT_OUT.value,
            still,
            Hold.channel.is_not(None),
        )
        .distinct()
    ).scalars()
    return sorted(str(c) for c in rows)


@dataclass(frozen=True)
class ContactEntry:
    at: datetime
    loan_ref: str
    channel: str
    outcome: str | None


def contact_history(conn: Connection, borrower_id: int, *, limit: int = 100) -> list[ContactEntry]:
    """The contacts the borrower received (allowed attempts only; a blocked one never
    reached them), newest first; never who made them."""
    rows = conn.execute(
        select(ContactAttempt.at, Loan.external_ref, ContactAttempt.channel, ContactAttempt.outcome)
        .join(Loan, Loan.id == ContactAttempt.loan_id)
        .where(ContactAttempt.borrower_id == borrower_id, ContactAttempt.allowed.is_(True))
        .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
        .limit(limit)
    ).all()
    return [ContactEntry(r[0], str(r[1]), str(r[2]), r[3]) for r in rows]


@dataclass(frozen=True)
class Rights:
    hotline: str
    contact_windows: list[str]
    complaint_days: int


def rights(rules: CompiledRules) -> Rights:
    """The borrower's rights from the rules in force: the lender's contact hours."""
    windows = [
        str(w)
        for r in rules.rules
        if r.enabled and r.id.endswith("HOURS.QUIET")
        for w in r.params.get("windows", [])
    ]
    return Rights(hotline="12378", contact_windows=windows, complaint_days=15)
