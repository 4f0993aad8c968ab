"""Plans beyond an agent's authority: submitted with a reason, decided by a supervisor
(issue 15, item 2).

- :func:`submit`: an agent (``plan.offer``) whose role may not offer a plan submits it with
  a reason. It must be beyond that role's limits (else the agent offers it), and the plan
  must pass every other check under the approving role's limits (loan status, dispute
  hold, contract, affordability), so a supervisor decides on a plan that can be offered.
  A newer submission on the loan supersedes a pending one; the very same request again is
  a conflict (a second click).
- :func:`decide`: a supervisor (``plan.approve``) approves it as submitted, adjusts its
  terms (offered within the supervisor's own limits), or refuses it with a reason. Approved
  and adjusted submissions become a plan offered under the supervisor's authority, which
  the borrower sees on the portal's loan page and accepts there (or tells an agent); the
  borrower's "my requests" page shows the submission's status. The decision is a
  conditional update under the loan's lock: of two supervisors deciding the same
  submission, one wins and the other gets a :class:`Conflict` naming the decision.
- A newer offer on the loan (the agent's, the supervisor's or the borrower's own from the
  portal) supersedes a pending submission (:func:`.offers.supersede_offers`).

Reasons are what a person typed: encrypted with the vault, never in the audit payload.
Every write is audited (``plan_approval.submitted`` / ``approved`` / ``adjusted`` /
``refused`` / ``superseded``). Nothing is written when a check refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from forbear.domain import access
from forbear.domain.access import Actor
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.plans import PlanRequest, PlanType
from forbear.domain.plans.offers import check_authority
from forbear.domain.plans.policy import BeyondAuthority, LoadedPolicy, default_policy
from forbear.services.loan_scope import require_loan_day, seen_loans
from forbear.services.plans.lifecycle import require_approval
from forbear.services.plans.offers import loan_facts, offer_plan, tier_of
from forbear.store import audit
from forbear.store.crypto import PiiVault
from forbear.store.locks import lock_loan
from forbear.store.models import Loan
from forbear.store.plans import DECISION_CONTEXT, REASON_CONTEXT, PlanApproval

OFFER = "plan.offer"
APPROVE = "plan.approve"
MAX_REASON = 1000
DECISIONS = ("approve", "adjust", "refuse")
REQUEST_FIELDS = ("months", "instalments", "waive_penalty_pct", "discount_pct", "payment_share_pct")


@dataclass(frozen=True, slots=True)
class ApprovalInfo:
    id: int
    loan_id: int
    loan_ref: str
    status: str
    plan_type: PlanType
    terms: dict[str, int]  # the request's fields (and income / expenses in fen, if stated)
    role: str
    reason: str | None  # decrypted for staff who may decide; None elsewhere
    submitted_by: str
    submitted_on: date
    decided_by: str | None
    decided_on: date | None
    decision_reason: str | None
    plan_id: int | None

    @property
    def request(self) -> PlanRequest:
        return request_of(self.plan_type.value, self.terms)


def request_of(plan_type: str, terms: dict[str, Any]) -> PlanRequest:
    return PlanRequest(PlanType(plan_type), **{k: int(terms.get(k) or 0) for k in REQUEST_FIELDS})


def _typed(text: str | None, field: str, *, required: bool) -> str:
    value = (text or "").strip()
    if required and not value:
        raise ValidationError(field, "a reason is required")
    if len(value) > MAX_REASON:
        raise ValidationError(field, f"at most {MAX_REASON} characters")
    return value


def _info(row: Any, vault: PiiVault | None) -> ApprovalInfo:
    def reveal(blob: bytes | None, context: str) -> str | None:
        return None if vault is None or blob is None else vault.decrypt(blob, context=context)

    return ApprovalInfo(
        id=int(row.id),
        loan_id=int(row.loan_id),
        loan_ref=str(row.external_ref),
        status=str(row.status),
        plan_type=PlanType(row.plan_type),
        terms={str(k): int(v) for k, v in dict(row.terms).items() if v is not None},
        role=str(row.role),
        reason=reveal(row.reason_enc, REASON_CONTEXT),
        submitted_by=str(row.submitted_by),
        submitted_on=row.submitted_on,
        decided_by=row.decided_by,
        decided_on=row.decided_on,
        decision_reason=reveal(row.decision_reason_enc, DECISION_CONTEXT),
        plan_id=None if row.plan_id is None else int(row.plan_id),
    )


def _select() -> Any:
    return select(PlanApproval, Loan.external_ref).join(Loan, Loan.id == PlanApproval.loan_id)


def _row(conn: Connection, approval_id: int) -> Any:
    row = conn.execute(_select().where(PlanApproval.id == approval_id)).one_or_none()
    if row is None:
        raise NotFound("plan approval", str(approval_id))
    return row


def approving_role(loaded: LoadedPolicy) -> str | None:
    """The first role of the policy that may approve plans (the supervisor)."""
    return next((r for r in loaded.policy.roles if access.can(r, APPROVE)), None)


# ---------------------------------------------------------------------------- submit


def submit(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    request: PlanRequest,
    *,
    reason: str,
    vault: PiiVault,
    now: datetime,
    today: date,
    income: int | None = None,
    expenses: int | None = None,
    policy: LoadedPolicy | None = None,
) -> ApprovalInfo:
    """Submit ``request`` on ``loan_id`` for a supervisor's decision (see the module)."""
    actor.require(OFFER)
    if actor.role is None:
        raise PermissionDenied("(none)", OFFER)
    typed = _typed(reason, "reason", required=True)
    request.validate()
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    loaded = policy or default_policy()
    facts = loan_facts(conn, loan_id)
    tier = tier_of(conn, loan_id, day)
    own = loaded.policy.limits_for(actor.role.value, facts.product_code, tier)
    try:
        check_authority(request, own)
    except BeyondAuthority:
        pass
    else:
        raise ValidationError("plan", "within your own authority: offer it yourself")
    approver = approving_role(loaded)
    if approver is None:
        raise Conflict("no role of the plan policy may approve plans")
    # the plan as the supervisor would offer it: every other check, nothing stored
    preview = offer_plan(
        conn,
        loan_id=loan_id,
        request=request,
        role=approver,
        as_of=day,
        actor=actor.name,
        income=income,
        expenses=expenses,
        policy=loaded,
        save=False,
    )
    afford = preview.affordability
    if request.plan_type in loaded.policy.affordability.required_for and not afford.assessed:
        raise ValidationError(
            "income", f"a {request.plan_type.value} plan needs the borrower's stated income"
        )
    if afford.assessed and not afford.affordable:
        raise Conflict(f"plan refused: {afford.reason_en}")
    lock_loan(conn, loan_id)
    terms: dict[str, int] = request.terms()
    if income is not None and expenses is not None:
        terms |= {"income": income, "expenses": expenses}
    for row in conn.execute(
        select(PlanApproval.id, PlanApproval.plan_type, PlanApproval.terms).where(
            PlanApproval.loan_id == loan_id, PlanApproval.status == "pending"
        )
    ).all():
        asked = request.terms()
        if (
            row.plan_type == request.plan_type.value
            and {k: row.terms.get(k) for k in asked} == asked
        ):
            raise Conflict(
                f"loan {facts.external_ref} already has submission {row.id} with the same "
                "terms waiting for a supervisor"
            )
        conn.execute(
            update(PlanApproval)
            .where(PlanApproval.id == row.id, PlanApproval.status == "pending")
            .values(status="superseded", decided_by=actor.name, decided_on=day)
        )
        audit.record(
            conn,
            action="plan_approval.superseded",
            actor=actor.name,
            subject_type="plan_approval",
            subject_id=int(row.id),
            payload={"loan_id": loan_id, "as_of": day.isoformat()},
        )
    approval_id = conn.execute(
        insert(PlanApproval)
        .values(
            loan_id=loan_id,
            status="pending",
            plan_type=request.plan_type.value,
            terms=terms,
            role=actor.role.value,
            reason_enc=vault.encrypt(typed, context=REASON_CONTEXT),
            submitted_by=actor.name,
            submitted_on=day,
        )
        .returning(PlanApproval.id)
    ).scalar_one()
    audit.record(
        conn,
        action="plan_approval.submitted",
        actor=actor.name,
        subject_type="plan_approval",
        subject_id=int(approval_id),
        payload={
            "loan_id": loan_id,
            "type": request.plan_type.value,
            "terms": request.terms(),
            "role": actor.role.value,
            "reason_given": True,
        },
    )
    return _info(_row(conn, int(approval_id)), vault)


# ---------------------------------------------------------------------------- decide


def decide(
    conn: Connection,
    actor: Actor,
    approval_id: int,
    decision: str,
    *,
    vault: PiiVault,
    now: datetime,
    today: date,
    reason: str = "",
    adjusted: PlanRequest | None = None,
    income: int | None = None,
    expenses: int | None = None,
    policy: LoadedPolicy | None = None,
) -> ApprovalInfo:
    """Approve, adjust (``adjusted``: the terms the supervisor offers instead) or refuse
    (``reason`` required) a pending submission (see the module)."""
    require_approval(actor)
    assert actor.role is not None
    if decision not in DECISIONS:
        raise ValidationError("decision", f"one of {', '.join(DECISIONS)}")
    typed = _typed(reason, "reason", required=decision == "refuse")
    if decision == "adjust":
        if adjusted is None:
            raise ValidationError("plan", "the adjusted terms are required")
        adjusted.validate()
    row = _row(conn, approval_id)
    day = require_loan_day(
        conn, actor, int(row.loan_id), now=now, today=today, thing=("plan approval", approval_id)
    )
    lock_loan(conn, int(row.loan_id))
    row = _row(conn, approval_id)  # again, under the lock
    if row.status != "pending":
        raise Conflict(
            f"submission {approval_id} is already {row.status}"
            + (f" (by {row.decided_by} on {row.decided_on.isoformat()})" if row.decided_by else "")
        )
    stated = dict(row.terms)
    request = request_of(row.plan_type, stated)
    status = "refused"
    if decision != "refuse":
        request = adjusted if decision == "adjust" and adjusted is not None else request
        same = request.plan_type.value == row.plan_type and request.terms() == {
            k: int(stated.get(k) or 0) for k in request.terms()
        }
        status = "approved" if same else "adjusted"
    if income is None and expenses is None:
        income, expenses = stated.get("income"), stated.get("expenses")
    plan_id: int | None = None
    if status != "refused":  # the offer first: a refusal of it leaves the submission pending
        result = offer_plan(
            conn,
            loan_id=int(row.loan_id),
            request=request,
            role=actor.role.value,
            as_of=day,
            actor=actor.name,
            income=income,
            expenses=expenses,
            policy=policy,
            save=True,
            keep_approval=approval_id,
        )
        plan_id = result.plan_id
    done = conn.execute(
        update(PlanApproval)
        .where(PlanApproval.id == approval_id, PlanApproval.status == "pending")
        .values(
            status=status,
            decided_by=actor.name,
            decided_on=day,
            decision_reason_enc=vault.encrypt(typed, context=DECISION_CONTEXT) if typed else None,
            plan_id=plan_id,
        )
    ).rowcount
    if done != 1:  # decided by someone else in the meantime (the caller rolls back)
        raise Conflict(f"submission {approval_id} was decided while this request ran")
    payload: dict[str, Any] = {"loan_id": int(row.loan_id), "as_of": day.isoformat()}
    if plan_id is not None:
        payload |= {"plan_id": plan_id, "type": request.plan_type.value, "terms": request.terms()}
    if typed:
        payload["reason_given"] = True
    if actor.user_id is not None:
        payload["decided_by_user_id"] = actor.user_id
    audit.record(
        conn,
        action=f"plan_approval.{status}",
        actor=actor.name,
        subject_type="plan_approval",
        subject_id=approval_id,
        payload=payload,
    )
    return _info(_row(conn, approval_id), vault)


# ---------------------------------------------------------------------------- read


def queue(
    conn: Connection,
    actor: Actor,
    *,
    vault: PiiVault | None,
    now: datetime,
    today: date,
    pending: bool = True,
    limit: int = 200,
) -> list[ApprovalInfo]:
    """The submissions a supervisor decides (``pending``, oldest first) or the latest
    decided ones (newest first), of the loans in ``actor``'s scope."""
    require_approval(actor)
    stmt = _select()
    if pending:
        stmt = stmt.where(PlanApproval.status == "pending").order_by(PlanApproval.id)
    else:
        stmt = stmt.where(PlanApproval.status != "pending").order_by(PlanApproval.id.desc())
    seen = seen_loans(conn, actor, now=now, today=today)
    if seen is not None:
        stmt = stmt.where(PlanApproval.loan_id.in_(sorted(seen)))
    return [_info(r, vault) for r in conn.execute(stmt.limit(limit)).all()]


def of_loan(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    vault: PiiVault | None,
    now: datetime,
    today: date,
    limit: int = 10,
) -> list[ApprovalInfo]:
    """A loan's submissions, newest first, if in scope (reasons for staff who may offer)."""
    actor.require("account.view")
    require_loan_day(conn, actor, loan_id, now=now, today=today)
    shown = vault if actor.may(OFFER) else None
    rows = conn.execute(
        _select()
        .where(PlanApproval.loan_id == loan_id)
        .order_by(PlanApproval.id.desc())
        .limit(limit)
    ).all()
    return [_info(r, shown) for r in rows]


def of_loans(conn: Connection, loan_ids: list[int]) -> list[ApprovalInfo]:
    """The submissions on ``loan_ids`` (the borrower's own, checked by the caller), newest
    first, without the staff's reasons."""
    if not loan_ids:
        return []
    rows = conn.execute(
        _select().where(PlanApproval.loan_id.in_(loan_ids)).order_by(PlanApproval.id.desc())
    ).all()
    return [_info(r, None) for r in rows]
