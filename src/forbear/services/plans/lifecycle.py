"""A plan's life after the offer: read it, list them, accept it, cancel it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select, update

from forbear.domain.access import Actor
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.plans import (
    LineKind,
    PlanLine,
    PlanStatus,
    PlanType,
)
from forbear.domain.plans.lifecycle import check_transition
from forbear.services.plans.offers import MAX_CANCEL_REASON, _blocked, loan_facts
from forbear.store import audit
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import lock_loan
from forbear.store.models import Loan
from forbear.store.plans import Plan
from forbear.store.plans import PlanLine as PlanLineRow

APPROVE = "plan.approve"  # cancelling an accepted or active plan

# ---------------------------------------------------------------------------- life cycle


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: int
    loan_id: int
    loan_ref: str
    plan_type: PlanType
    status: PlanStatus
    base_date: date
    expires_on: date
    start_date: date | None
    ended_on: date | None
    end_date: date
    role: str
    scheduled: int
    waived: int
    discount: int
    terms: dict[str, Any]
    findings: list[dict[str, Any]]


def _info(row: Any) -> PlanInfo:
    return PlanInfo(
        id=int(row.id),
        loan_id=int(row.loan_id),
        loan_ref=str(row.external_ref),
        plan_type=PlanType(row.plan_type),
        status=PlanStatus(row.status),
        base_date=row.base_date,
        expires_on=row.expires_on,
        start_date=row.start_date,
        ended_on=row.ended_on,
        end_date=row.end_date,
        role=str(row.role),
        scheduled=int(row.scheduled),
        waived=int(row.waived),
        discount=int(row.discount),
        terms=dict(row.terms),
        findings=list(row.findings),
    )


def _select() -> Any:
    return select(Plan, Loan.external_ref).join(Loan, Loan.id == Plan.loan_id)


def get_plan(conn: Connection, plan_id: int) -> PlanInfo:
    row = conn.execute(_select().where(Plan.id == plan_id)).one_or_none()
    if row is None:
        raise NotFound("plan", str(plan_id))
    return _info(row)


def plan_lines(conn: Connection, plan_id: int) -> list[PlanLine]:
    rows = conn.execute(
        select(PlanLineRow).where(PlanLineRow.plan_id == plan_id).order_by(PlanLineRow.seq)
    ).all()
    return [
        PlanLine(
            int(r.seq), LineKind(r.kind), r.due_date, r.principal, r.interest, r.fee, r.penalty
        )
        for r in rows
    ]


def list_plans(
    conn: Connection, *, loan_id: int | None = None, status: str | None = None
) -> list[PlanInfo]:
    stmt = _select().order_by(Plan.id)
    if loan_id is not None:
        stmt = stmt.where(Plan.loan_id == loan_id)
    if status is not None:
        try:
            PlanStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in PlanStatus)
            raise ValidationError("--status", f"one of {allowed} (got {status!r})") from None
        stmt = stmt.where(Plan.status == status)
    return [_info(row) for row in conn.execute(stmt).all()]


def _move(
    conn: Connection,
    plan: PlanInfo,
    target: PlanStatus,
    *,
    actor: str,
    as_of: date,
    values: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    check_transition(plan.id, plan.status, target)
    changes = {"status": target.value, **(values or {})}
    if target in (
        PlanStatus.COMPLETED,
        PlanStatus.BROKEN,
        PlanStatus.CANCELLED,
        PlanStatus.EXPIRED,
    ):
        changes.setdefault("ended_on", as_of)
    done = conn.execute(
        update(Plan).where(Plan.id == plan.id, Plan.status == plan.status.value).values(**changes)
    ).rowcount
    if done != 1:  # changed by someone else in the meantime
        raise Conflict(f"plan {plan.id} changed while this request ran: try again")
    audit.record(
        conn,
        action=f"plan.{target.value}",
        actor=actor,
        subject_type="plan",
        subject_id=plan.id,
        payload={"loan_id": plan.loan_id, "from": plan.status.value, "as_of": as_of.isoformat()}
        | (payload or {}),
    )


def accept_plan(conn: Connection, plan_id: int, *, as_of: date, actor: str) -> PlanInfo:
    """The borrower accepted the offer on ``as_of``: the plan governs the loan from that
    day (the daily update makes it active)."""
    lock_loan(conn, get_plan(conn, plan_id).loan_id)  # then read it again, under the lock
    plan = get_plan(conn, plan_id)
    check_transition(plan.id, plan.status, PlanStatus.ACCEPTED)
    if as_of > plan.expires_on:
        raise Conflict(f"plan {plan_id}: the offer expired on {plan.expires_on.isoformat()}")
    if as_of < plan.base_date:
        raise ValidationError("as_of", f"before the offer's date {plan.base_date.isoformat()}")
    first_due = min(ln.due_date for ln in plan_lines(conn, plan_id))
    if as_of >= first_due:
        raise Conflict(
            f"plan {plan_id}: its first instalment fell due on {first_due.isoformat()}; "
            "make a new offer"
        )
    facts = loan_facts(conn, plan.loan_id)
    blocked = _blocked(conn, facts, as_of)
    if blocked is not None:
        raise Conflict(blocked)
    _move(
        conn,
        plan,
        PlanStatus.ACCEPTED,
        actor=actor,
        as_of=as_of,
        values={"accepted_on": as_of, "start_date": as_of},
    )
    return get_plan(conn, plan_id)


def require_approval(actor: Actor) -> None:
    """:class:`PermissionDenied` unless ``actor`` is staff whose role holds ``plan.approve``
    (a role-free actor must name such a person: it holds no approval of its own)."""
    if actor.role is None:
        raise PermissionDenied(
            "(none)",
            f"{APPROVE} (an accepted or active plan is cancelled only with the approval of "
            "a named staff member whose role holds it)",
        )
    actor.require(APPROVE)


def cancel_plan(
    conn: Connection,
    plan_id: int,
    *,
    as_of: date,
    actor: Actor,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> PlanInfo:
    """Cancel an offered, accepted or active plan; an active one stops governing the loan
    on ``as_of`` (the contract schedule applies again from that day).

    An accepted or active plan is an agreement the borrower relies on: cancelling it needs
    ``plan.approve``, whoever asks (web, API, command line). A role-free actor (an
    operator at the command line) holds no such approval: it must act for a named staff
    member whose role holds it (:func:`forbear.services.plans.desk.approver`). Only an
    offer not yet accepted may be withdrawn with ``plan.offer`` alone.

    ``reason`` is what a person typed: stored encrypted with ``vault`` (required with a
    reason) in ``cancel_reason_enc``, never in the audit payload (it says only that a
    reason was given)."""
    typed = (reason or "").strip()
    if typed and vault is None:
        raise TypeError("a typed reason is encrypted at rest: pass the vault")
    if len(typed) > MAX_CANCEL_REASON:
        raise ValidationError("reason", f"at most {MAX_CANCEL_REASON} characters")
    plan = get_plan(conn, plan_id)
    approved = plan.status is not PlanStatus.OFFERED
    if approved:
        require_approval(actor)
    if plan.start_date is not None and as_of < plan.start_date:
        raise ValidationError("as_of", f"before the plan's start {plan.start_date.isoformat()}")
    payload: dict[str, Any] = {"reason_given": True} if typed else {}
    if approved and actor.user_id is not None:
        payload["approved_by_user_id"] = actor.user_id
    _move(
        conn,
        plan,
        PlanStatus.CANCELLED,
        actor=actor.name,
        as_of=as_of,
        values={"cancel_reason_enc": vault.encrypt(typed, context=Contexts.PLAN_CANCEL_REASON)}
        if typed and vault is not None
        else None,
        payload=payload or None,
    )
    return get_plan(conn, plan_id)
