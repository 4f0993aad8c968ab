"""Offering a plan: the plan policy, what the offer reads of a loan, the checks, and the
offer saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from forbear.domain import access
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.contracts import Claim, ClaimFinding, Severity
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.ledger import Instalment, LoanTerms, Payment
from forbear.domain.plans import (
    Affordability,
    PlanOffer,
    PlanRequest,
    PlanStatus,
    Position,
    affordability,
    build_offer,
    check_authority,
    position_of,
)
from forbear.domain.plans.policy import (
    Limits,
    LoadedPolicy,
    default_policy,
    parse_policy,
)
from forbear.domain.products import ProductTerms
from forbear.services import book
from forbear.services.contracts import check_loan_claim
from forbear.services.holds import covering, open_at
from forbear.services.legal_closure import legal_closure
from forbear.store import audit
from forbear.store.contacts import Hold
from forbear.store.contracts import ContractVersion
from forbear.store.locks import lock_loan
from forbear.store.models import AccountScore, Loan, Product
from forbear.store.plans import OPEN_STATUSES, Plan
from forbear.store.plans import PlanLine as PlanLineRow

BEHAVIOUR = "behaviour"
MAX_CANCEL_REASON = 2000  # a cancel reason typed by a person


def load_policy(path: Path | None = None) -> LoadedPolicy:
    """The lender's plan policy file, or the shipped default."""
    if path is None:
        return default_policy()
    if not path.is_file():
        raise ValidationError("--policy", f"no such file: {path.name}")
    return parse_policy(path.read_text(encoding="utf-8"), source=path.name)


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class LoanFacts:
    loan_id: int
    external_ref: str
    borrower_id: int
    product_code: str
    product: ProductTerms


def loan_facts(conn: Connection, loan_id: int) -> LoanFacts:
    row = conn.execute(
        select(
            Loan.id,
            Loan.external_ref,
            Loan.borrower_id,
            Product.code,
            Product.terms,
            ContractVersion.product_terms,
        )
        .join(Product, Product.id == Loan.product_id)
        .outerjoin(ContractVersion, ContractVersion.id == Loan.contract_version_id)
        .where(Loan.id == loan_id)
    ).one_or_none()
    if row is None:
        raise NotFound("loan", str(loan_id))
    terms = row[5] if row[5] is not None else row[4]
    return LoanFacts(
        int(row[0]), str(row[1]), int(row[2]), str(row[3]), ProductTerms.model_validate(terms)
    )


def loan_position(conn: Connection, loan_id: int, as_of: date) -> Position:
    """``loan_id``'s ledger position at the end of ``as_of``, on the schedule in force then
    (the contract's, or the plan's that governs the loan on that date)."""
    facts = loan_facts(conn, loan_id)
    inputs = book.ledger_inputs(conn, as_of, [loan_id])
    if inputs.loans.is_empty():
        raise NotFound("loan", str(loan_id))
    terms = LoanTerms(**inputs.loans.row(0, named=True))
    if terms.start_date > as_of:
        raise ValidationError("as_of", f"loan {facts.external_ref} starts after {as_of}")
    instalments = [Instalment(**r) for r in inputs.instalments.iter_rows(named=True)]
    payments = [Payment(**r) for r in inputs.payments.iter_rows(named=True)]
    return position_of(terms, facts.product, instalments, payments, as_of)


def tier_of(conn: Connection, loan_id: int, as_of: date) -> str | None:
    """The loan's latest behaviour-score tier on or before ``as_of`` (None if unscored)."""
    found = conn.execute(
        select(AccountScore.tier)
        .where(
            AccountScore.loan_id == loan_id,
            AccountScore.kind == BEHAVIOUR,
            AccountScore.as_of <= as_of,
        )
        .order_by(AccountScore.as_of.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def _open_plan(conn: Connection, facts: LoanFacts, request: PlanRequest) -> str | None:
    """Why the loan may not get another plan: it has an accepted or active one, or the
    very same offer is already waiting for the borrower (a second click, a retry). An
    offer of other terms is no blocker: saving the new one supersedes it
    (:func:`supersede_offers`)."""
    rows = conn.execute(
        select(Plan.id, Plan.status, Plan.plan_type, Plan.terms).where(
            Plan.loan_id == facts.loan_id, Plan.status.in_([s.value for s in OPEN_STATUSES])
        )
    ).all()
    for plan_id, status, plan_type, terms in rows:
        if status != PlanStatus.OFFERED.value:
            return (
                f"loan {facts.external_ref} already has plan {plan_id} ({status}): "
                "one open plan per loan"
            )
        asked = request.terms()
        if plan_type == request.plan_type.value and {k: terms.get(k) for k in asked} == asked:
            return (
                f"loan {facts.external_ref} already has plan {plan_id} (offered) "
                "with the same terms"
            )
    return None


def supersede_offers(
    conn: Connection, loan_id: int, *, as_of: date, actor: str, keep_approval: int | None = None
) -> list[int]:
    """A newer offer on ``loan_id`` supersedes the offer still waiting for the borrower
    (cancelled, audited ``plan.cancelled`` with ``superseded``) and any submission still
    pending a supervisor's decision (``superseded``, audited ``plan_approval.superseded``),
    but ``keep_approval``. Called under the loan's lock. Returns the plans cancelled."""
    from forbear.store.plans import PlanApproval

    waiting = [
        int(i)
        for i in conn.execute(
            select(Plan.id).where(Plan.loan_id == loan_id, Plan.status == PlanStatus.OFFERED.value)
        ).scalars()
    ]
    for plan_id in waiting:
        conn.execute(
            update(Plan)
            .where(Plan.id == plan_id, Plan.status == PlanStatus.OFFERED.value)
            .values(status=PlanStatus.CANCELLED.value, ended_on=as_of)
        )
        audit.record(
            conn,
            action="plan.cancelled",
            actor=actor,
            subject_type="plan",
            subject_id=plan_id,
            payload={
                "loan_id": loan_id,
                "from": PlanStatus.OFFERED.value,
                "as_of": as_of.isoformat(),
                "superseded": True,
            },
        )
    pending = select(PlanApproval.id).where(
        PlanApproval.loan_id == loan_id, PlanApproval.status == "pending"
    )
    if keep_approval is not None:
        pending = pending.where(PlanApproval.id != keep_approval)
    for approval_id in [int(i) for i in conn.execute(pending).scalars()]:
        conn.execute(
            update(PlanApproval)
            .where(PlanApproval.id == approval_id, PlanApproval.status == "pending")
            .values(status="superseded", decided_by=actor, decided_on=as_of)
        )
        audit.record(
            conn,
            action="plan_approval.superseded",
            actor=actor,
            subject_type="plan_approval",
            subject_id=approval_id,
            payload={"loan_id": loan_id, "as_of": as_of.isoformat()},
        )
    return waiting


def _blocked(conn: Connection, facts: LoanFacts, as_of: date) -> str | None:
    """Why the loan may not get a plan on ``as_of``: a dispute hold, a legal closure."""
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    hold = conn.execute(
        select(Hold.id).where(
            Hold.kind == HoldKind.DISPUTE.value,
            covering(facts.borrower_id, facts.loan_id),
            open_at(at),
        )
    ).first()
    if hold is not None:
        return (
            f"loan {facts.external_ref} is under a dispute hold ({hold[0]}): "
            "no plan until it is resolved"
        )
    reason = legal_closure(conn, facts.loan_id, as_of)
    if reason:
        return f"loan {facts.external_ref} is legally closed: {reason}"
    return None


# ---------------------------------------------------------------------------- offering


@dataclass(frozen=True)
class OfferResult:
    offer: PlanOffer
    loan_ref: str
    role: str
    tier: str | None
    limits: Limits
    affordability: Affordability
    findings: list[ClaimFinding]
    position: Position
    plan_id: int | None = None
    expires_on: date | None = None
    notes: list[str] = field(default_factory=list)


def _authority(role: str) -> None:
    if role not in access.default_policy().roles:
        raise ValidationError("role", f"unknown role {role!r}")
    if not access.can(role, "plan.offer"):
        raise PermissionDenied(role, "plan.offer")


def _claim(offer: PlanOffer, annual_rate_bp: int) -> tuple[Claim, Claim]:
    scheduled = offer.scheduled
    claim = Claim(
        principal=scheduled.principal,
        interest=scheduled.interest,
        penalty=scheduled.penalty,
        fees=scheduled.fee,
        interest_rate_bp=annual_rate_bp if offer.added_interest else None,
    )
    covered = offer.covered
    owed = Claim(
        principal=covered.principal,
        interest=covered.interest + offer.added_interest,
        penalty=covered.penalty,
        fees=covered.fee,
    )
    return claim, owed


def offer_plan(
    conn: Connection,
    *,
    loan_id: int,
    request: PlanRequest,
    role: str,
    as_of: date,
    actor: str,
    income: int | None = None,
    expenses: int | None = None,
    policy: LoadedPolicy | None = None,
    save: bool = True,
    keep_approval: int | None = None,
) -> OfferResult:
    """Compute the plan ``request`` asks for on ``loan_id`` as of ``as_of``, check it
    (authority, contract, affordability) and, with ``save``, store it as offered."""
    loaded = policy or default_policy()
    rules = loaded.policy
    _authority(role)
    request.validate()
    facts = loan_facts(conn, loan_id)
    if save:  # one open plan per loan: serialise the check and the insert per loan
        lock_loan(conn, loan_id)
    reason = _open_plan(conn, facts, request) or _blocked(conn, facts, as_of)
    if reason is not None:
        raise Conflict(reason)
    position = loan_position(conn, loan_id, as_of)
    if position.status != "active":
        raise Conflict(f"loan {facts.external_ref} is {position.status.replace('_', ' ')}: no plan")
    tier = tier_of(conn, loan_id, as_of)
    limits = rules.limits_for(role, facts.product_code, tier)
    higher = next(
        (
            rules.limits_for(other, facts.product_code, tier)
            for other in rules.roles
            if other != role and access.can(other, "plan.approve")
        ),
        None,
    )
    check_authority(request, limits, higher if higher and higher.role != role else None)
    offer = build_offer(position, request, rules, rules.treatment_for(facts.product_code))
    afford = affordability(offer, income, expenses, rules.affordability.max_share_of_disposable_pct)
    claim, owed = _claim(offer, position.annual_rate_bp)
    findings = check_loan_claim(conn, loan_id, claim, owed=owed)
    refused = [f for f in findings if f.severity is Severity.REFUSE]
    if refused:
        raise Conflict(
            "the plan claims what the contract does not allow: "
            + "; ".join(f"{f.code} {f.message_en}" for f in refused)
        )
    expires_on = as_of + timedelta(days=rules.offer_valid_days)
    result = OfferResult(
        offer,
        facts.external_ref,
        role,
        tier,
        limits,
        afford,
        findings,
        position,
        expires_on=expires_on,
    )
    if not save:
        return result
    if request.plan_type in rules.affordability.required_for and not afford.assessed:
        raise ValidationError(
            "income",
            f"a {request.plan_type.value} plan needs the borrower's stated income "
            "and expenses (--income, --expenses)",
        )
    if not afford.affordable:
        raise Conflict(f"plan refused: {afford.reason_en}")
    supersede_offers(conn, loan_id, as_of=as_of, actor=actor, keep_approval=keep_approval)
    plan_id = _insert(conn, offer, result, loaded, actor, income, expenses)
    return OfferResult(
        offer,
        facts.external_ref,
        role,
        tier,
        limits,
        afford,
        findings,
        position,
        plan_id=plan_id,
        expires_on=expires_on,
    )


def _insert(
    conn: Connection,
    offer: PlanOffer,
    result: OfferResult,
    loaded: LoadedPolicy,
    actor: str,
    income: int | None,
    expenses: int | None,
) -> int:
    terms: dict[str, Any] = dict(offer.terms)
    if income is not None and expenses is not None:
        terms |= {"income": income, "expenses": expenses}
    terms["affordable"] = result.affordability.affordable if result.affordability.assessed else None
    # the missed-payment rule the borrower agreed to stays with the plan
    terms["broken"] = loaded.policy.broken.model_dump()
    findings = [
        {"code": f.code, "severity": f.severity.value, "rule_id": f.rule_id}
        for f in result.findings
    ]
    plan_id = conn.execute(
        insert(Plan)
        .values(
            loan_id=offer.loan_id,
            plan_type=offer.plan_type.value,
            status=PlanStatus.OFFERED.value,
            base_date=offer.base_date,
            expires_on=result.expires_on,
            end_date=offer.end_date,
            role=result.role,
            tier=result.tier,
            terms=terms,
            covered=offer.covered.total,
            added_interest=offer.added_interest,
            waived=offer.waived.total,
            discount=offer.discount.total,
            released=offer.released.total,
            scheduled=offer.scheduled.total,
            findings=findings,
            policy_sha256=loaded.sha256,
            created_by=actor,
        )
        .returning(Plan.id)
    ).scalar_one()
    conn.execute(
        insert(PlanLineRow),
        [
            {
                "plan_id": plan_id,
                "seq": ln.seq,
                "kind": ln.kind.value,
                "due_date": ln.due_date,
                "principal": ln.principal,
                "interest": ln.interest,
                "fee": ln.fee,
                "penalty": ln.penalty,
            }
            for ln in offer.lines
        ],
    )
    audit.record(
        conn,
        action="plan.offer",
        actor=actor,
        subject_type="plan",
        subject_id=int(plan_id),
        payload={
            "loan_id": offer.loan_id,
            "type": offer.plan_type.value,
            "role": result.role,
            "terms": dict(offer.terms),
            "scheduled": offer.scheduled.total,
            "waived": offer.waived.total,
            "discount": offer.discount.total,
            "legal_review": [f["code"] for f in findings],
        },
    )
    return int(plan_id)
