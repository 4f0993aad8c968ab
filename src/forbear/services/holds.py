"""Holds: the one SQL form of "a hold is open at ``at``"
(:func:`forbear.domain.holds.hold_open`; tests check the two agree), the open holds of
one loan as the account page lists them, and the holds-and-disputes desk (below).

Errors: :class:`PermissionDenied` (no ``hold.release``), :class:`NotFound` (an unknown
hold or evidence, or one outside the actor's scope, or another borrower's dispute),
:class:`ValidationError` (a value outside its vocabulary, an empty or long text, a file
of the wrong type or size), :class:`Conflict` (a hold already released, already taken by
someone else, a lifecycle move not allowed, a closed dispute, too many files).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, or_, select, true, update

from forbear.domain import holds as holds_domain
from forbear.domain.access import Actor, can
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.holds import DisputeStatus, HoldKind, Resolution
from forbear.services.contacts.common import _utc, _vocabulary
from forbear.services.contacts.holds import ensure_case, release_hold
from forbear.services.scope import require_loan, visible_loans
from forbear.store import audit
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.hold_cases import (
    DISPUTE_ANSWER,
    EVIDENCE_CONTENT,
    EVIDENCE_NAME,
    RELEASE_REASON,
    DisputeEvidence,
    HoldCase,
)
from forbear.store.locks import lock_debtor
from forbear.store.models import Loan
from forbear.store.private_files import write_private
from forbear.store.web import StaffUser


def open_at(at: datetime) -> ColumnElement[bool]:
    """``holds`` rows open at ``at``: begun by then and not yet ended."""
    return and_(Hold.since <= at, or_(Hold.until.is_(None), Hold.until > at))


def covering(borrower_id: int, loan_id: int) -> ColumnElement[bool]:
    """``holds`` rows that cover ``loan_id`` of ``borrower_id`` (a null loan covers all)."""
    return and_(
        Hold.borrower_id == borrower_id, or_(Hold.loan_id.is_(None), Hold.loan_id == loan_id)
    )


def open_holds(
    conn: Connection, borrower_id: int, loan_id: int, at: datetime
) -> list[dict[str, Any]]:
    """Every hold covering ``loan_id`` open at ``at`` (``id, kind, channel, since,
    loan_id``), by id; no reasons (a typed reason stays encrypted)."""
    return [
        {"id": h.id, "kind": h.kind, "channel": h.channel, "since": h.since, "loan_id": h.loan_id}
        for h in conn.execute(
            select(Hold.id, Hold.kind, Hold.channel, Hold.since, Hold.loan_id)
            .where(covering(borrower_id, loan_id), open_at(at))
            .order_by(Hold.id)
        )
    ]


# =========================================================================== the desk
#
# Holds and disputes on the collection floor (issue 15, item 1): the queue, owners, the
# dispute lifecycle (open -> verifying -> answered -> closed), release with a reason, and
# the evidence a borrower attaches from the portal. Every use case checks ``hold.release``
# (supervisors and compliance officers) and the actor's scope itself, audits its write in
# the caller's transaction, and refuses bad input before writing anything. Typed text (a
# release reason, an answer) and evidence files are sealed with the PII vault: never in an
# audit payload, a log or an error message.

RELEASE = holds_domain.RELEASE
PER_PAGE = 25
MAX_PAGE = 10_000
MAX_TEXT = 2000
# under the web guard's 1 MiB body limit (Settings.max_body_bytes) with room for the form
MAX_EVIDENCE_BYTES = 900 * 1024
MAX_EVIDENCE_FILES = 10
# What a borrower may attach: pictures of receipts and letters, PDFs. The type is judged
# from the file's first bytes, not from what the browser claims.
EVIDENCE_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
EVIDENCE_DIR = "evidence"


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Evidence:
    id: int
    name: str
    content_type: str
    size: int
    uploaded_at: datetime


@dataclass(frozen=True)
class HoldView:
    """One hold as the desk shows it."""

    id: int
    kind: str
    channel: str | None
    loan_id: int | None
    loan_ref: str | None
    borrower_id: int
    since: datetime
    until: datetime | None
    source: str
    detail: str | None
    typed_reason: str | None
    status: DisputeStatus
    owner: str | None
    due_at: datetime | None
    overdue: bool
    answer: str | None
    answered_at: datetime | None
    resolution: str | None
    release_reason: str | None
    closed_by: str | None
    evidence: list[Evidence] = field(default_factory=list)
    yours: bool = False  # the viewer owns it

    @property
    def is_dispute(self) -> bool:
        return self.kind == HoldKind.DISPUTE.value

    @property
    def is_open(self) -> bool:
        return self.until is None


def answer_days() -> int:
    """The dispute clock in calendar days (``hold_policy.yaml``, ``disputes.answer_days``)."""
    return holds_domain.default_hold_policy().disputes.answer_days


_answer_days = answer_days


def _visible(conn: Connection, actor: Actor, now: datetime, today: date) -> ColumnElement[bool]:
    """The holds of loans ``actor`` may see (a hold on every loan: any of the borrower's)."""
    seen = visible_loans(conn, actor, now, today)
    if seen is None:
        return true()
    ids = sorted(seen)
    return or_(
        Hold.loan_id.in_(ids),
        and_(
            Hold.loan_id.is_(None),
            Hold.borrower_id.in_(select(Loan.borrower_id).where(Loan.id.in_(ids))),
        ),
    )


def queue(
    conn: Connection,
    actor: Actor,
    *,
    now: datetime,
    today: date,
    kind: str | None = None,
    overdue_only: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> QueuePage:
    """The open holds and disputes ``actor`` may see, oldest first (a dispute's clock runs
    from its start), ``per_page`` a page. A contact person's refusal (CN.3P.REFUSAL, on one
    contact point) is not work: it never ends, so it is not listed. ``overdue_only``: the
    disputes past their answer date and not answered yet."""
    actor.require(RELEASE)
    if kind is not None:
        kind = _vocabulary(HoldKind, kind, "kind").value
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError("page", f"a page from 1 to {MAX_PAGE}")
    moment = _utc(now, "now")
    days = _answer_days()
    status = func.coalesce(HoldCase.status, DisputeStatus.OPEN.value)
    late = and_(
        Hold.kind == HoldKind.DISPUTE.value,
        status.in_([DisputeStatus.OPEN.value, DisputeStatus.VERIFYING.value]),
        Hold.since <= moment - timedelta(days=days),
    )
    where = [open_at(moment), Hold.contact_point_id.is_(None), _visible(conn, actor, now, today)]
    if kind is not None:
        where.append(Hold.kind == kind)
    if overdue_only:
        where.append(late)
    base = select(Hold.id).outerjoin(HoldCase, HoldCase.hold_id == Hold.id).where(*where)
    total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    rows = _rows(conn, where, moment, limit=per_page, offset=(page - 1) * per_page)
    pages = max(1, -(-total // per_page))
    return QueuePage(rows=rows, total=total, page=page, pages=pages)


def of_loan(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> list[dict[str, Any]]:
    """The open holds covering one loan in ``actor``'s scope, as the queue lists them
    (for the account page: what stops work on it, who has it, a dispute's clock)."""
    require_loan(conn, actor, loan_id, now, today)
    borrower = int(conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one())
    moment = _utc(now, "now")
    where = [open_at(moment), covering(borrower, loan_id), Hold.contact_point_id.is_(None)]
    return _rows(conn, where, moment, limit=100, offset=0)


def _rows(
    conn: Connection,
    where: list[ColumnElement[bool]],
    moment: datetime,
    *,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    days = _answer_days()
    found = conn.execute(
        select(
            Hold.id,
            Hold.kind,
            Hold.channel,
            Hold.loan_id,
            Hold.borrower_id,
            Hold.since,
            Hold.reason,
            Loan.external_ref,
            HoldCase.status,
            HoldCase.owner,
            HoldCase.due_at,
        )
        .outerjoin(HoldCase, HoldCase.hold_id == Hold.id)
        .outerjoin(Loan, Loan.id == Hold.loan_id)
        .where(*where)
        .order_by(Hold.since, Hold.id)
        .limit(limit)
        .offset(offset)
    ).all()
    rows = []
    for h in found:
        state = DisputeStatus(h.status or DisputeStatus.OPEN.value)
        dispute = h.kind == HoldKind.DISPUTE.value
        due = h.due_at
        if due is None and dispute:
            due = holds_domain.dispute_due(h.since, days)
        source, detail_code = holds_domain.reason_source(h.reason)
        rows.append(
            {
                "id": int(h.id),
                "kind": str(h.kind),
                "channel": h.channel,
                "loan_id": h.loan_id,
                "loan_ref": h.external_ref,
                "borrower_id": int(h.borrower_id),
                "since": h.since,
                "age_days": max(0, (moment - h.since).days),
                "source": source,
                "detail": detail_code,
                "status": state.value,
                "owner": h.owner,
                "due_at": due,
                "overdue": dispute and holds_domain.overdue(due, state, moment),
            }
        )
    return rows


def _hold_row(conn: Connection, hold_id: int) -> Any:
    found = conn.execute(
        select(
            Hold.id,
            Hold.kind,
            Hold.channel,
            Hold.loan_id,
            Hold.borrower_id,
            Hold.contact_point_id,
            Hold.since,
            Hold.until,
            Hold.reason,
            Hold.reason_enc,
        ).where(Hold.id == hold_id)
    ).one_or_none()
    if found is None:
        raise NotFound("hold", str(hold_id))
    return found


def _require_hold(
    conn: Connection, actor: Actor, hold_id: int, *, now: datetime, today: date
) -> Any:
    """The hold, after the permission and scope checks (one out of scope is not found)."""
    actor.require(RELEASE)
    hold = _hold_row(conn, hold_id)
    loan = hold.loan_id
    if loan is None:
        loan = conn.execute(
            select(func.min(Loan.id)).where(Loan.borrower_id == hold.borrower_id)
        ).scalar_one_or_none()
    try:
        if loan is None:
            raise NotFound("loan", "-")
        require_loan(conn, actor, int(loan), now, today)
    except NotFound:
        raise NotFound("hold", str(hold_id)) from None
    return hold


def detail(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    hold_id: int,
    *,
    now: datetime,
    today: date,
) -> HoldView:
    """One hold with its case, its typed reason and, for a dispute, the evidence list."""
    hold = _require_hold(conn, actor, hold_id, now=now, today=today)
    view = _view(conn, vault, hold, _utc(now, "now"))
    return replace(view, yours=view.owner is not None and view.owner == owner_name(conn, actor))


def owner_name(conn: Connection, actor: Actor) -> str:
    """How an owner is named: the staff member's username (an operator: the audit name)."""
    if actor.user_id is not None:
        found = conn.execute(
            select(StaffUser.username).where(StaffUser.id == actor.user_id)
        ).scalar()
        if found is not None:
            return str(found)
    return actor.name


def _view(conn: Connection, vault: PiiVault, hold: Any, moment: datetime) -> HoldView:
    case = conn.execute(select(HoldCase).where(HoldCase.hold_id == hold.id)).one_or_none()
    c = case
    state = DisputeStatus(c.status) if c is not None else DisputeStatus.OPEN
    due = c.due_at if c is not None else None
    if due is None and hold.kind == HoldKind.DISPUTE.value:
        due = holds_domain.dispute_due(hold.since, _answer_days())
    source, detail_code = holds_domain.reason_source(hold.reason)
    ref = (
        None
        if hold.loan_id is None
        else conn.execute(select(Loan.external_ref).where(Loan.id == hold.loan_id)).scalar()
    )
    evidence = [
        Evidence(
            id=int(e.id),
            name=vault.decrypt(e.name_enc, context=EVIDENCE_NAME),
            content_type=str(e.content_type),
            size=int(e.size),
            uploaded_at=e.uploaded_at,
        )
        for e in conn.execute(
            select(DisputeEvidence)
            .where(DisputeEvidence.hold_id == hold.id)
            .order_by(DisputeEvidence.id)
        ).all()
    ]
    return HoldView(
        id=int(hold.id),
        kind=str(hold.kind),
        channel=hold.channel,
        loan_id=hold.loan_id,
        loan_ref=ref,
        borrower_id=int(hold.borrower_id),
        since=hold.since,
        until=hold.until,
        source=source,
        detail=detail_code,
        typed_reason=vault.decrypt_optional(hold.reason_enc, context=Contexts.HOLD_REASON),
        status=state,
        owner=c.owner if c is not None else None,
        due_at=due,
        overdue=hold.kind == HoldKind.DISPUTE.value
        and hold.until is None
        and holds_domain.overdue(due, state, moment),
        answer=vault.decrypt_optional(c.answer_enc, context=DISPUTE_ANSWER) if c else None,
        answered_at=c.answered_at if c is not None else None,
        resolution=c.resolution if c is not None else None,
        release_reason=vault.decrypt_optional(c.reason_enc, context=RELEASE_REASON)
        if c is not None
        else None,
        closed_by=c.closed_by if c is not None else None,
        evidence=evidence,
    )


def _open_case(conn: Connection, hold: Any) -> Any:
    if hold.until is not None:
        raise Conflict(f"hold {hold.id} is already released")
    ensure_case(conn, int(hold.id), str(hold.kind), hold.since)
    return conn.execute(select(HoldCase).where(HoldCase.hold_id == hold.id)).one()


class TakeResult(StrEnum):
    TAKEN = "taken"
    UNCHANGED = "unchanged"  # already the actor's


def take(conn: Connection, actor: Actor, hold_id: int, *, now: datetime, today: date) -> TakeResult:
    """``actor`` takes an unowned open hold. One conditional ``UPDATE ... WHERE owner IS
    NULL``: of two people taking it at once one wins, the other gets a :class:`Conflict`
    naming no one (and nothing changes). Taking one's own again changes nothing."""
    hold = _require_hold(conn, actor, hold_id, now=now, today=today)
    _open_case(conn, hold)
    moment = _utc(now, "now")
    me = owner_name(conn, actor)
    won = conn.execute(
        update(HoldCase)
        .where(HoldCase.hold_id == hold_id, HoldCase.owner.is_(None))
        .values(owner=me, taken_at=moment)
    ).rowcount
    if won != 1:
        owner = conn.execute(select(HoldCase.owner).where(HoldCase.hold_id == hold_id)).scalar()
        if owner == me:
            return TakeResult.UNCHANGED
        raise Conflict(f"hold {hold_id} is already taken by someone else")
    audit.record(
        conn, action="hold.take", actor=actor.name, subject_type="hold", subject_id=hold_id
    )
    return TakeResult.TAKEN


def assign(
    conn: Connection,
    actor: Actor,
    hold_id: int,
    *,
    to: str,
    now: datetime,
    today: date,
) -> None:
    """Give an open hold to staff member ``to`` (an active account whose role may release
    holds), whoever had it."""
    hold = _require_hold(conn, actor, hold_id, now=now, today=today)
    name = to.strip()
    role = conn.execute(
        select(StaffUser.role).where(StaffUser.username == name, StaffUser.disabled.is_(False))
    ).scalar()
    if role is None or not can(str(role), RELEASE):
        raise ValidationError("owner", "not an active supervisor or compliance officer")
    _open_case(conn, hold)
    conn.execute(
        update(HoldCase)
        .where(HoldCase.hold_id == hold_id)
        .values(owner=name, taken_at=_utc(now, "now"))
    )
    audit.record(
        conn,
        action="hold.assign",
        actor=actor.name,
        subject_type="hold",
        subject_id=hold_id,
        payload={"owner": name},
    )


def _text(value: str | None, field_name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(field_name, "required")
    if len(text) > MAX_TEXT:
        raise ValidationError(field_name, f"at most {MAX_TEXT} characters")
    return text


def move_dispute(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    hold_id: int,
    *,
    to: str,
    now: datetime,
    today: date,
    answer: str | None = None,
) -> DisputeStatus:
    """A dispute moves one step: ``open -> verifying`` (someone checks it; they become its
    owner if it had none), ``verifying -> answered`` (with the answer given to the
    borrower, sealed). A move the lifecycle does not allow is a :class:`Conflict`; the
    same move twice at once: one wins, the other is refused (conditional update)."""
    target = _vocabulary(DisputeStatus, to, "status")
    hold = _require_hold(conn, actor, hold_id, now=now, today=today)
    if hold.kind != HoldKind.DISPUTE.value:
        raise ValidationError("hold", "only a dispute is verified and answered")
    if target is DisputeStatus.CLOSED:
        raise ValidationError("status", "a dispute is closed by releasing its hold")
    text = _text(answer, "answer") if target is DisputeStatus.ANSWERED else None
    case = _open_case(conn, hold)
    current = DisputeStatus(case.status)
    if not holds_domain.may_move(current, target):
        raise Conflict(f"a dispute that is {current.value} cannot become {target.value}")
    moment = _utc(now, "now")
    values: dict[str, Any] = {"status": target.value}
    if target is DisputeStatus.VERIFYING and case.owner is None:
        values.update(owner=owner_name(conn, actor), taken_at=moment)
    if text is not None:
        values.update(answer_enc=vault.encrypt(text, context=DISPUTE_ANSWER), answered_at=moment)
    won = conn.execute(
        update(HoldCase)
        .where(HoldCase.hold_id == hold_id, HoldCase.status == current.value)
        .values(**values)
    ).rowcount
    if won != 1:
        raise Conflict(f"dispute {hold_id} changed meanwhile: reload it")
    audit.record(
        conn,
        action=f"dispute.{target.value}",
        actor=actor.name,
        subject_type="hold",
        subject_id=hold_id,
        payload={"from": current.value, "to": target.value},
    )
    return target


def release(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    hold_id: int,
    *,
    reason: str,
    now: datetime,
    today: date,
    resolution: str | None = None,
) -> None:
    """Release an open hold now, with a reason (sealed), as ``actor`` (``hold.release``;
    the hold's loan in its scope). Closing a dispute says how it ended (``upheld`` or
    ``rejected``; ``released`` lifts it without a finding); other holds are ``released``.
    A contact person's refusal (CN.3P.REFUSAL) is never lifted. Releasing a hold that is
    already released is a :class:`Conflict` and changes nothing (also when two people
    release it at once)."""
    hold = _require_hold(conn, actor, hold_id, now=now, today=today)
    if hold.contact_point_id is not None:
        raise ValidationError("hold", "a contact person's refusal is permanent (CN.3P.REFUSAL)")
    ended = Resolution.RELEASED
    if resolution is not None and resolution != "":
        ended = _vocabulary(Resolution, resolution, "resolution")
    if ended is not Resolution.RELEASED and hold.kind != HoldKind.DISPUTE.value:
        raise ValidationError("resolution", "only a dispute is upheld or rejected")
    text = _text(reason, "reason")
    if hold.until is not None:
        raise Conflict(f"hold {hold_id} is already released")
    release_hold(
        conn,
        hold_id,
        actor=actor.name,
        at=_utc(now, "now"),
        resolution=ended,
        reason_enc=vault.encrypt(text, context=RELEASE_REASON),
    )


# ------------------------------------------------------------------------- evidence


def _sniff(data: bytes) -> str | None:
    for kind, magics in EVIDENCE_TYPES.items():
        if any(data.startswith(m) for m in magics):
            return kind
    return None


def borrower_dispute(conn: Connection, borrower_id: int, hold_id: int) -> Any:
    """The borrower's own dispute hold ``hold_id`` (:class:`NotFound` for anyone else's,
    or for a hold that is not a dispute)."""
    hold = conn.execute(
        select(Hold.id, Hold.kind, Hold.since, Hold.until, Hold.loan_id, Hold.borrower_id).where(
            Hold.id == hold_id
        )
    ).one_or_none()
    if hold is None or hold.borrower_id != borrower_id or hold.kind != HoldKind.DISPUTE.value:
        raise NotFound("dispute", str(hold_id))
    return hold


def borrower_evidence(
    conn: Connection, vault: PiiVault, *, borrower_id: int, hold_id: int
) -> tuple[Any, list[Evidence]]:
    """The borrower's dispute and the files they attached to it."""
    hold = borrower_dispute(conn, borrower_id, hold_id)
    files = [
        Evidence(
            id=int(e.id),
            name=vault.decrypt(e.name_enc, context=EVIDENCE_NAME),
            content_type=str(e.content_type),
            size=int(e.size),
            uploaded_at=e.uploaded_at,
        )
        for e in conn.execute(
            select(DisputeEvidence)
            .where(DisputeEvidence.hold_id == hold_id)
            .order_by(DisputeEvidence.id)
        ).all()
    ]
    return hold, files


def dispute_status(conn: Connection, hold_id: int) -> DisputeStatus:
    """Where a dispute stands (open until someone works it; closed once released)."""
    found = conn.execute(
        select(Hold.until, HoldCase.status)
        .outerjoin(HoldCase, HoldCase.hold_id == Hold.id)
        .where(Hold.id == hold_id)
    ).one_or_none()
    if found is None:
        raise NotFound("dispute", str(hold_id))
    if found.until is not None:
        return DisputeStatus.CLOSED
    return DisputeStatus(found.status or DisputeStatus.OPEN.value)


def add_evidence(
    conn: Connection,
    vault: PiiVault,
    data_dir: Path,
    *,
    borrower_id: int,
    hold_id: int,
    filename: str,
    data: bytes,
    now: datetime,
) -> int:
    """A borrower attaches a file to their open dispute: a PDF, JPEG or PNG (judged from
    its bytes) of at most 900 KB, at most 10 files a dispute. The file is sealed with the
    vault and written 0600 under ``data_dir/evidence``; its name is sealed too. Audited
    as ``dispute.evidence`` (ids, type and size only)."""
    hold = borrower_dispute(conn, borrower_id, hold_id)
    if hold.until is not None:
        raise Conflict("this dispute is closed")
    name = Path((filename or "").replace("\\", "/")).name.strip()[:120] or "evidence"
    if not data:
        raise ValidationError("file", "the file is empty")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ValidationError("file", f"at most {MAX_EVIDENCE_BYTES // 1024} KB")
    kind = _sniff(data)
    if kind is None:
        raise ValidationError("file", "a PDF, JPEG or PNG file")
    lock_debtor(conn, borrower_id)  # the count below and the insert are one step
    count = conn.execute(
        select(func.count()).where(DisputeEvidence.hold_id == hold_id)
    ).scalar_one()
    if count >= MAX_EVIDENCE_FILES:
        raise Conflict(f"at most {MAX_EVIDENCE_FILES} files a dispute")
    moment = _utc(now, "now")
    relative = f"{EVIDENCE_DIR}/{hold_id}/{secrets.token_hex(16)}.sealed"
    sealed = vault.encrypt(base64.b64encode(data).decode("ascii"), context=EVIDENCE_CONTENT)
    evidence_id = int(
        conn.execute(
            insert(DisputeEvidence)
            .values(
                hold_id=hold_id,
                name_enc=vault.encrypt(name, context=EVIDENCE_NAME),
                content_type=kind,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                path=relative,
                uploaded_by=f"portal:borrower:{borrower_id}",
                uploaded_at=moment,
            )
            .returning(DisputeEvidence.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="dispute.evidence",
        actor=f"portal:borrower:{borrower_id}",
        subject_type="hold",
        subject_id=hold_id,
        payload={"evidence_id": evidence_id, "type": kind, "size": len(data)},
    )
    # written last: a refusal above leaves no file; a failed commit leaves an orphan
    # sealed file that no row names (unreadable without the vault)
    (data_dir / relative).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(data_dir / relative, sealed)
    return evidence_id


def evidence_file(
    conn: Connection,
    vault: PiiVault,
    data_dir: Path,
    actor: Actor,
    evidence_id: int,
    *,
    now: datetime,
    today: date,
) -> tuple[str, str, bytes]:
    """A file a borrower attached (name, type, content) for staff who may work the hold;
    audited as ``dispute.evidence_read``."""
    row = conn.execute(
        select(DisputeEvidence).where(DisputeEvidence.id == evidence_id)
    ).one_or_none()
    if row is None:
        raise NotFound("evidence", str(evidence_id))
    try:
        _require_hold(conn, actor, int(row.hold_id), now=now, today=today)
    except NotFound:
        raise NotFound("evidence", str(evidence_id)) from None
    sealed = (data_dir / row.path).read_bytes()
    data = base64.b64decode(vault.decrypt(sealed, context=EVIDENCE_CONTENT))
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise Conflict(f"evidence {evidence_id} does not match its digest")
    audit.record(
        conn,
        action="dispute.evidence_read",
        actor=actor.name,
        subject_type="hold",
        subject_id=int(row.hold_id),
        payload={"evidence_id": evidence_id},
    )
    return vault.decrypt(row.name_enc, context=EVIDENCE_NAME), str(row.content_type), data


def release_from_cli(
    conn: Connection,
    vault: PiiVault,
    hold_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    today: date,
    resolution: str | None = None,
) -> None:
    """The command line's release: an operator (every permission, whole book) through
    :func:`release`."""
    release(
        conn,
        vault,
        Actor(name=actor),
        hold_id,
        reason=reason,
        now=now,
        today=today,
        resolution=resolution,
    )
