"""Legal cases: open one from the queue, move it forward, its costs and demands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.legal.costs import Cost
from forbear.domain.legal.lifecycle import FINAL, Stage, check_move, cost_kind, stage
from forbear.domain.legal.proof import DeliveryProof, from_evidence_ref
from forbear.domain.money import parse_yuan
from forbear.services.holds import covering, open_at
from forbear.services.legal.common import _actor, _borrower_of, require_permission, stamp
from forbear.services.legal.queue import assess
from forbear.store import audit
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import (
    LegalCase,
    LegalCaseCost,
    LegalCaseEvent,
    LegalQueueEntry,
    QueueStatus,
)
from forbear.store.models import Loan

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


# ----------------------------------------------------------------------- cases


@dataclass(frozen=True)
class CaseView:
    id: int
    loan_id: int
    loan_ref: str
    stage: Stage
    opened_on: date
    stage_on: date
    court: str | None
    case_number: str | None
    closed_reason: str | None
    costs: int  # fen, all costs so far


def get_case(conn: Connection, case_id: int, *, vault: PiiVault | None = None) -> CaseView:
    """One case. Its closing reason is free text encrypted at rest: it is decrypted with
    ``vault``; without one (callers that only need the stage) it is ``None``."""
    c = LegalCase
    row = conn.execute(
        select(
            c.id,
            c.loan_id,
            Loan.external_ref,
            c.stage,
            c.opened_on,
            c.stage_on,
            c.court,
            c.case_number,
            c.closed_reason_enc,
        )
        .join(Loan, Loan.id == c.loan_id)
        .where(c.id == case_id)
    ).one_or_none()
    if row is None:
        raise NotFound("legal case", str(case_id))
    costs = conn.execute(
        select(func.coalesce(func.sum(LegalCaseCost.amount), 0)).where(
            LegalCaseCost.case_id == case_id
        )
    ).scalar_one()
    return CaseView(
        id=int(row[0]),
        loan_id=int(row[1]),
        loan_ref=str(row[2]),
        stage=Stage(row[3]),
        opened_on=row[4],
        stage_on=row[5],
        court=row[6],
        case_number=row[7],
        closed_reason=None
        if vault is None
        else vault.decrypt_optional(row[8], context=Contexts.LEGAL_CLOSED_REASON),
        costs=int(costs),
    )


def list_cases(
    conn: Connection, *, open_only: bool = False, vault: PiiVault | None = None
) -> list[CaseView]:
    c = LegalCase
    stmt = select(c.id).order_by(c.id)
    if open_only:
        stmt = stmt.where(c.stage.not_in([s.value for s in FINAL]))
    return [get_case(conn, int(i), vault=vault) for i in conn.execute(stmt).scalars()]


def open_case(
    conn: Connection,
    loan_id: int,
    *,
    role: str,
    actor: str,
    on: date,
    now: datetime | None = None,
) -> CaseView:
    """Open a case (stage ``review``) for a queued account, after checking again that it
    is eligible on ``on``; refused on a dispute hold or an expired limitation period."""
    require_permission(role)
    _actor(actor)
    q = LegalQueueEntry
    entry = conn.execute(
        select(q.id, q.status).where(q.loan_id == loan_id, q.status.in_(["queued", "case_opened"]))
    ).one_or_none()
    if entry is None:
        _borrower_of(conn, loan_id)  # NotFound for an unknown loan
        raise Conflict(
            f"loan {loan_id} is not in the legal review queue: a case is opened only for a "
            "queued (eligible) account (forbear legal queue)"
        )
    if entry.status == QueueStatus.CASE_OPENED.value:
        existing = conn.execute(
            select(LegalCase.id).where(LegalCase.queue_entry_id == entry.id)
        ).scalar_one()
        raise Conflict(f"loan {loan_id} already has legal case {existing}")
    _refuse_if_disputed(conn, loan_id, on)
    row = assess(conn, on, loan_id=loan_id).row(0, named=True)
    if not row["ok_limitation"]:
        raise Conflict(
            f"loan {loan_id}: the limitation period has run (CN.LIMITATION, limitation date "
            f"{row['limitation_date']}); no case may be opened"
        )
    if not row["eligible"]:
        raise Conflict(
            f"loan {loan_id} is no longer eligible on {on.isoformat()} "
            f"(failed: {', '.join(row['failed'])}); the next queue refresh removes it"
        )
    case_id = conn.execute(
        insert(LegalCase)
        .values(
            loan_id=loan_id,
            queue_entry_id=entry.id,
            stage=Stage.REVIEW.value,
            opened_on=on,
            stage_on=on,
            opened_by=actor,
            **stamp(now),
        )
        .returning(LegalCase.id)
    ).scalar_one()
    conn.execute(
        insert(LegalCaseEvent).values(
            case_id=case_id,
            from_stage=None,
            stage=Stage.REVIEW.value,
            stage_on=on,
            created_by=actor,
            **stamp(now),
        )
    )
    conn.execute(update(q).where(q.id == entry.id).values(status=QueueStatus.CASE_OPENED.value))
    audit.record(
        conn,
        action="legal.case.open",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={
            "loan_id": loan_id,
            "queue_entry_id": int(entry.id),
            "on": on.isoformat(),
            "role": role,
        },
        at=now,
    )
    return get_case(conn, int(case_id))


def parse_costs(items: Sequence[str]) -> list[tuple[str, int]]:
    """``kind=yuan`` items (``court_fee=1250.50``) as ``(kind, fen)``; refused with the item."""
    costs = []
    for item in items:
        kind, sep, amount = item.partition("=")
        if not sep:
            raise ValidationError("cost", f"{item!r}: give kind=yuan, e.g. court_fee=1250.50")
        fen = parse_yuan(amount.strip(), field=f"cost {kind.strip()}")
        if fen <= 0:
            raise ValidationError("cost", f"{item!r}: a cost must be positive")
        costs.append((cost_kind(kind.strip()).value, fen))
    return costs


def advance(
    conn: Connection,
    case_id: int,
    to: str,
    *,
    role: str,
    actor: str,
    on: date,
    court: str | None = None,
    case_number: str | None = None,
    costs: Sequence[tuple[str, int]] = (),
    notes: str | None = None,
    reason: str | None = None,
    evidence_ref: str | None = None,
    proof: DeliveryProof | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    vault: PiiVault | None = None,
    now: datetime | None = None,
) -> CaseView:
    """Move a case forward to ``to`` on ``on`` (refused backwards, with the reason, and
    nothing changes). Moving to ``demand_letter`` ("已发催告函") needs proof of delivery
    of the letter (``proof``, or ``evidence_ref`` as one string:
    :mod:`forbear.domain.legal.proof`): it is refused without one, and the letter is
    logged as a demand with it (the evidence that restarts the limitation period,
    CN.LIMITATION). Demand letters and filing are refused on a disputed or time-barred debt.

    ``notes`` and the closing ``reason`` are free text, stored encrypted with ``vault``
    (required when either is given)."""
    require_permission(role)
    _actor(actor)
    if vault is None and (notes or reason):
        raise TypeError("notes and reasons are encrypted at rest: pass the vault")
    target = stage(to)
    case = get_case(conn, case_id)
    check_move(
        case_id,
        case.stage,
        target,
        on=on,
        last_on=case.stage_on,
        court=court,
        case_number=case_number,
        known_court=case.court,
        known_case_number=case.case_number,
        reason=reason,
    )
    checked_costs = [(cost_kind(kind).value, int(fen)) for kind, fen in costs]
    if any(fen <= 0 for _, fen in checked_costs):
        raise ValidationError("cost", "a cost must be positive")
    if target is Stage.DEMAND_LETTER and proof is None:
        proof = from_evidence_ref(evidence_ref or "", sent_on=on, today=on)
    if target in (Stage.DEMAND_LETTER, Stage.FILED):
        _refuse_if_disputed(conn, case.loan_id, on)
        row = assess(conn, on, loan_id=case.loan_id).row(0, named=True)
        if not row["ok_limitation"]:
            raise Conflict(
                f"case {case_id}: the limitation period has run (CN.LIMITATION, limitation "
                f"date {row['limitation_date']}); close the case instead"
            )
    demand_id = None
    if target is Stage.DEMAND_LETTER:
        from forbear.services.contacts import log_demand

        assert proof is not None  # checked above, before anything was written
        demand_id = log_demand(
            conn,
            loan_id=case.loan_id,
            at=datetime.combine(on, time(12), zone).astimezone(UTC),
            channel="letter",
            evidence_ref=proof.evidence_ref[:200],
            actor=actor,
        )
    values: dict[str, Any] = {"stage": target.value, "stage_on": on}
    if court:
        values["court"] = court.strip()
    if case_number:
        values["case_number"] = case_number.strip()
    if target is Stage.CLOSED and vault is not None:
        values["closed_reason_enc"] = vault.encrypt(
            (reason or "").strip(), context=Contexts.LEGAL_CLOSED_REASON
        )
    note = notes if target is not Stage.CLOSED else (reason or notes)
    conn.execute(update(LegalCase).where(LegalCase.id == case_id).values(**values))
    conn.execute(
        insert(LegalCaseEvent).values(
            case_id=case_id,
            from_stage=case.stage.value,
            stage=target.value,
            stage_on=on,
            court=court,
            case_number=case_number,
            notes_enc=None
            if not note or vault is None
            else vault.encrypt(note, context=Contexts.LEGAL_EVENT_NOTES),
            demand_id=demand_id,
            created_by=actor,
            **stamp(now),
        )
    )
    _insert_costs(conn, case_id, checked_costs, on=on, stage_=target, actor=actor, now=now)
    audit.record(
        conn,
        action="legal.case.advance",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={
            "from": case.stage.value,
            "to": target.value,
            "on": on.isoformat(),
            "court": court,
            "case_number": case_number,
            "costs": [[kind, fen] for kind, fen in checked_costs],
            "demand_id": demand_id,
            "proof": proof.kind.value if proof and target is Stage.DEMAND_LETTER else None,
            "role": role,
        },
        at=now,
    )
    return get_case(conn, case_id, vault=vault)


def add_costs(
    conn: Connection,
    case_id: int,
    costs: Sequence[tuple[str, int] | Cost],
    *,
    role: str,
    actor: str,
    on: date,
    now: datetime | None = None,
) -> CaseView:
    """Record costs of a case at its current stage (audited as ``legal.case.cost``): each
    a ``(kind, fen)`` incurred ``on``, or a checked :class:`Cost` with its own day. Refused
    on a case that has ended."""
    require_permission(role)
    _actor(actor)
    if not costs:
        raise ValidationError("cost", "give at least one kind=yuan")
    case = get_case(conn, case_id)
    if case.stage.is_final:
        raise Conflict(f"case {case_id} has ended ({case.stage.value}): no new costs")
    dated = [
        (c.kind.value, c.amount, c.incurred_on)
        if isinstance(c, Cost)
        else (cost_kind(c[0]).value, int(c[1]), on)
        for c in costs
    ]
    if any(fen <= 0 for _, fen, _ in dated):
        raise ValidationError("cost", "a cost must be positive")
    for day in sorted({d for _, _, d in dated}):
        _insert_costs(
            conn,
            case_id,
            [(k, f) for k, f, d in dated if d == day],
            on=day,
            stage_=case.stage,
            actor=actor,
            now=now,
        )
    audit.record(
        conn,
        action="legal.case.cost",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={"on": on.isoformat(), "costs": [[k, f, d.isoformat()] for k, f, d in dated]},
        at=now,
    )
    return get_case(conn, case_id)


def record_demand(
    conn: Connection,
    case_id: int,
    *,
    role: str,
    actor: str,
    at: datetime,
    evidence_ref: str | None = None,
    proof: DeliveryProof | None = None,
    channel: str = "letter",
    today: date | None = None,
) -> int:
    """Log a further demand on an open case (a second letter, a lawyer's letter served)
    with its proof of delivery (``proof``, or ``evidence_ref`` as one string: a tracking
    number or ``receipt:REF;signed=YYYY-MM-DD``; :mod:`forbear.domain.legal.proof`): only
    then does it restart the limitation period (CN.LIMITATION). Returns its id."""
    from forbear.services.contacts import log_demand

    require_permission(role)
    _actor(actor)
    case = get_case(conn, case_id)
    if case.stage.is_final:
        raise Conflict(f"case {case_id} has ended ({case.stage.value})")
    if proof is None:
        proof = from_evidence_ref(evidence_ref or "", sent_on=at.date(), today=today or at.date())
    _refuse_if_disputed(conn, case.loan_id, at.date())
    demand_id = log_demand(
        conn,
        loan_id=case.loan_id,
        at=at,
        channel=channel,
        evidence_ref=proof.evidence_ref[:200],
        actor=actor,
    )
    audit.record(
        conn,
        action="legal.case.demand",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={"demand_id": demand_id, "channel": channel, "proof": proof.kind.value},
    )
    return demand_id


def _insert_costs(
    conn: Connection,
    case_id: int,
    costs: Sequence[tuple[str, int]],
    *,
    on: date,
    stage_: Stage,
    actor: str,
    now: datetime | None,
) -> None:
    if costs:
        conn.execute(
            insert(LegalCaseCost),
            [
                {
                    "case_id": case_id,
                    "kind": kind,
                    "amount": fen,
                    "incurred_on": on,
                    "stage": stage_.value,
                    "created_by": actor,
                    **stamp(now),
                }
                for kind, fen in costs
            ],
        )


def _refuse_if_disputed(conn: Connection, loan_id: int, on: date) -> None:
    """A dispute stops legal action until it is resolved (the debtor's dispute must be
    verified first; CBA-2026, US.REGF.DISPUTE in spirit)."""
    at = datetime.combine(on, time(23, 59, 59), UTC)
    borrower_id = _borrower_of(conn, loan_id)
    disputed = conn.execute(
        select(Hold.id)
        .where(
            covering(borrower_id, loan_id),
            Hold.kind == HoldKind.DISPUTE.value,
            open_at(at),  # the one SQL form of "a hold is open at t"
        )
        .limit(1)
    ).scalar_one_or_none()
    if disputed is not None:
        raise Conflict(
            f"loan {loan_id} has an open dispute hold (hold {disputed}): no legal action "
            "until the dispute is resolved"
        )
