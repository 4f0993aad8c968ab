"""Repayment plans: offer, accept, cancel; the daily update; flags and survival figures.

One function per use case, each in the caller's transaction (``conn``), never committing:
a plan, its lines and its audit event land together or not at all. Every refusal is
checked before anything is written, so a refused request leaves no trace.

Refusals: :class:`PermissionDenied` (a role without ``plan.offer``; an offer beyond the
role's limits, :class:`~forbear.domain.plans.policy.BeyondAuthority`, naming the limit),
:class:`Conflict` (a second open plan on the loan, a dispute hold, a paid-off, written-off
or legally closed loan, an expired offer, a transition the life cycle does not allow,
an amount the contract does not allow, an unaffordable plan), :class:`ValidationError`
(a bad parameter, missing income for a hardship plan), :class:`NotFound`.

"Legally closed": :func:`forbear.services.legal.legal_closure` gives the reason a loan's
legal case forbids a plan of collections' own (settled, judgment, enforcement), ``None``
when it does not. Paid-off and written-off loans are refused by the ledger position.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from forbear.domain import access
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.contracts import Claim, ClaimFinding, Severity
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS, Instalment, LoanTerms, Payment
from forbear.domain.ledger.schedules import add_months
from forbear.domain.plans import (
    Affordability,
    LineKind,
    PlanLine,
    PlanOffer,
    PlanRequest,
    PlanStatus,
    PlanType,
    Position,
    affordability,
    build_offer,
    check_authority,
    position_of,
)
from forbear.domain.plans.lifecycle import check_transition, is_broken, is_completed
from forbear.domain.plans.policy import (
    BrokenRule,
    Limits,
    LoadedPolicy,
    default_policy,
    parse_policy,
)
from forbear.domain.products import ProductTerms
from forbear.services import book
from forbear.services.contracts import check_loan_claim
from forbear.services.holds import covering, open_at
from forbear.store import audit
from forbear.store.contacts import Hold
from forbear.store.contracts import ContractVersion
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import lock_loan
from forbear.store.models import AccountScore, Loan, Product
from forbear.store.models import Payment as PaymentRow
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


def _open_plan(conn: Connection, facts: LoanFacts) -> str | None:
    """Why the loan may not get another plan: it has an open one."""
    open_plan = conn.execute(
        select(Plan.id, Plan.status).where(
            Plan.loan_id == facts.loan_id, Plan.status.in_([s.value for s in OPEN_STATUSES])
        )
    ).first()
    if open_plan is None:
        return None
    return (
        f"loan {facts.external_ref} already has plan {open_plan[0]} ({open_plan[1]}): "
        "one open plan per loan"
    )


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
    from forbear.services.legal import legal_closure  # legal imports plans

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
    reason = _open_plan(conn, facts) or _blocked(conn, facts, as_of)
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


def cancel_plan(
    conn: Connection,
    plan_id: int,
    *,
    as_of: date,
    actor: str,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> PlanInfo:
    """Cancel an offered, accepted or active plan; an active one stops governing the loan
    on ``as_of`` (the contract schedule applies again from that day).

    ``reason`` is what a person typed: stored encrypted with ``vault`` (required with a
    reason) in ``cancel_reason_enc``, never in the audit payload (it says only that a
    reason was given)."""
    typed = (reason or "").strip()
    if typed and vault is None:
        raise TypeError("a typed reason is encrypted at rest: pass the vault")
    if len(typed) > MAX_CANCEL_REASON:
        raise ValidationError("reason", f"at most {MAX_CANCEL_REASON} characters")
    plan = get_plan(conn, plan_id)
    if plan.start_date is not None and as_of < plan.start_date:
        raise ValidationError("as_of", f"before the plan's start {plan.start_date.isoformat()}")
    _move(
        conn,
        plan,
        PlanStatus.CANCELLED,
        actor=actor,
        as_of=as_of,
        values={"cancel_reason_enc": vault.encrypt(typed, context=Contexts.PLAN_CANCEL_REASON)}
        if typed and vault is not None
        else None,
        payload={"reason_given": True} if typed else None,
    )
    return get_plan(conn, plan_id)


# ---------------------------------------------------------------------------- daily


def _governed_states(conn: Connection, loan_ids: list[int], as_of: date) -> pl.DataFrame:
    if not loan_ids:
        return pl.DataFrame()
    return book.run_ledger_on(book.ledger_inputs(conn, as_of, loan_ids), as_of, DEFAULT_BUCKETS)


def daily_update(conn: Connection, as_of: date, actor: str = "system:daily-run") -> dict[str, int]:
    """The plans' part of the daily run for ``as_of`` (idempotent for a date): offers not
    accepted in time expire; accepted plans whose start date has come become active;
    active plans are completed when everything up to their last instalment is paid,
    broken per the policy's missed-payment rule, and cancelled when the loan is written
    off. Returns the counts of each change and of the plans active afterwards."""
    rules = default_policy().policy
    counts = {"expired": 0, "activated": 0, "completed": 0, "broken": 0, "cancelled": 0}
    rows = conn.execute(
        _select().where(Plan.status.in_([s.value for s in OPEN_STATUSES])).order_by(Plan.id)
    ).all()
    plans = [_info(r) for r in rows]
    for plan in plans:
        if plan.status is PlanStatus.OFFERED and plan.expires_on < as_of:
            _move(conn, plan, PlanStatus.EXPIRED, actor=actor, as_of=as_of)
            counts["expired"] += 1
    started = [
        p
        for p in plans
        if p.status in (PlanStatus.ACCEPTED, PlanStatus.ACTIVE)
        and p.start_date is not None
        and p.start_date <= as_of
    ]
    for plan in started:
        if plan.status is PlanStatus.ACCEPTED:
            _move(conn, plan, PlanStatus.ACTIVE, actor=actor, as_of=as_of)
            counts["activated"] += 1
    states = _governed_states(conn, [p.loan_id for p in started], as_of)
    by_loan = {row["loan_id"]: row for row in states.iter_rows(named=True)} if states.height else {}
    for plan in started:
        current = get_plan(conn, plan.id)
        st = by_loan.get(plan.loan_id)
        if st is None:
            continue
        if st["status"] == "written_off":
            _move(
                conn,
                current,
                PlanStatus.CANCELLED,
                actor=actor,
                as_of=as_of,
                payload={"reason": "loan written off"},
            )
            counts["cancelled"] += 1
        elif is_completed(
            st["status"], st["oldest_unpaid_due_date"], st["next_due_date"], plan.end_date
        ):
            _move(conn, current, PlanStatus.COMPLETED, actor=actor, as_of=as_of)
            counts["completed"] += 1
        elif _breaks(plan.terms, st, as_of, rules.broken):
            _move(
                conn,
                current,
                PlanStatus.BROKEN,
                actor=actor,
                as_of=as_of,
                payload={
                    "oldest_unpaid_due_date": st["oldest_unpaid_due_date"].isoformat(),
                    "overdue_total": int(st["overdue_total"]),
                },
            )
            counts["broken"] += 1
    counts["active"] = int(
        conn.execute(
            select(func.count()).select_from(Plan).where(Plan.status == PlanStatus.ACTIVE.value)
        ).scalar_one()
    )
    return counts


def _breaks(terms: dict[str, Any], state: dict[str, Any], as_of: date, default: BrokenRule) -> bool:
    """The plan's own missed-payment rule (recorded at offer) on its ledger state."""
    rule = BrokenRule.model_validate(terms["broken"]) if "broken" in terms else default
    return is_broken(
        as_of,
        state["oldest_unpaid_due_date"],
        int(state["overdue_total"]),
        days_late=rule.days_late,
        tolerance=rule.tolerance,
    )


def plan_flags(conn: Connection, as_of: date) -> pl.DataFrame:
    """``loan_id, active_plan`` for every loan: the one definition of an active plan
    (:mod:`forbear.domain.plans.flags`: a plan governs the loan on ``as_of``, accepted or
    active and started, and is performing on its own ledger state)."""
    from forbear.domain.plans.flags import active_plans
    from forbear.services.situation import plan_rules

    loans = conn.execute(select(Loan.id).order_by(Loan.id)).scalars().all()
    rules = plan_rules(conn, None)
    governed = sorted(set(rules.filter(pl.col("start_date") <= as_of)["loan_id"].to_list()))
    states = _governed_states(conn, governed, as_of)
    flags = (
        active_plans(rules.lazy(), states.lazy(), as_of).collect()
        if states.height
        else pl.DataFrame(schema={"loan_id": pl.Int64, "active_plan": pl.Boolean})
    )
    everyone = pl.DataFrame({"loan_id": [int(i) for i in loans]}, schema={"loan_id": pl.Int64})
    return everyone.join(flags, on="loan_id", how="left").select(
        "loan_id", pl.col("active_plan").fill_null(False)
    )


def survival(conn: Connection, as_of: date) -> pl.DataFrame:
    """By plan type: plans started on or before ``as_of``, and for 3 and 6 months the plans
    old enough (started at least that long before ``as_of``) and the share of them still
    performing or completed at that age. Broken and cancelled plans stop performing on
    the day they ended."""
    rows = conn.execute(
        select(Plan.plan_type, Plan.status, Plan.start_date, Plan.ended_on).where(
            Plan.start_date.is_not(None), Plan.start_date <= as_of
        )
    ).all()
    out: dict[str, list[Any]] = {
        "plan_type": [],
        "started": [],
        "eligible_3m": [],
        "performing_3m": [],
        "share_3m": [],
        "eligible_6m": [],
        "performing_6m": [],
        "share_6m": [],
    }
    for kind in PlanType:
        mine = [r for r in rows if r.plan_type == kind.value]
        out["plan_type"].append(kind.value)
        out["started"].append(len(mine))
        for months in (3, 6):
            eligible = [r for r in mine if add_months(r.start_date, months) <= as_of]
            alive = [
                r
                for r in eligible
                if r.status == PlanStatus.COMPLETED.value
                or r.ended_on is None
                or r.ended_on > add_months(r.start_date, months)
            ]
            out[f"eligible_{months}m"].append(len(eligible))
            out[f"performing_{months}m"].append(len(alive))
            out[f"share_{months}m"].append(len(alive) / len(eligible) if eligible else None)
    return pl.DataFrame(
        out,
        schema={
            "plan_type": pl.String,
            "started": pl.Int64,
            "eligible_3m": pl.Int64,
            "performing_3m": pl.Int64,
            "share_3m": pl.Float64,
            "eligible_6m": pl.Int64,
            "performing_6m": pl.Int64,
            "share_6m": pl.Float64,
        },
    )


# ---------------------------------------------------------------------------- demo


def seed_demo(conn: Connection, as_of: date, *, seed: int, actor: str = "system:demo") -> int:
    """A realistic handful of plans on the demo book's overdue loans, within the default
    policy's agent limits: offered and accepted in the past few months, some kept
    (their borrowers pay the plan's instalments on time, as demo payments), some broken
    (payments stop after a few), the newest still active. Returns the number of plans."""
    rng = random.Random(seed)
    made = 0
    bases = [as_of - timedelta(days=d) for d in (210, 150, 90, 45)]
    for base in bases:
        inputs = book.ledger_inputs(conn, base)
        if inputs.loans.is_empty():
            continue
        states = book.run_ledger_on(inputs, base, DEFAULT_BUCKETS)
        late = (
            states.filter((pl.col("status") == "active") & pl.col("dpd").is_between(10, 75))[
                "loan_id"
            ]
            .sort()
            .to_list()
        )
        rng.shuffle(late)
        want = max(3, min(12, len(late) // 40))
        for loan_id in late[: want * 3]:
            if made >= 48 or want == 0:
                break
            try:
                made += _seed_one(conn, int(loan_id), base, as_of, rng, actor)
                want -= 1
            except (Conflict, ValidationError, PermissionDenied):
                continue
    _replay_daily(conn, min(bases), as_of)
    return made


def _seed_one(
    conn: Connection, loan_id: int, base: date, as_of: date, rng: random.Random, actor: str
) -> int:
    kind = rng.choice(
        [
            PlanType.RESTRUCTURE,
            PlanType.RESTRUCTURE,
            PlanType.DEFERRAL,
            PlanType.SETTLEMENT,
            PlanType.HARDSHIP,
        ]
    )
    request = {
        PlanType.RESTRUCTURE: PlanRequest(
            kind, instalments=rng.choice([3, 4, 6]), waive_penalty_pct=rng.choice([0, 30, 50])
        ),
        PlanType.DEFERRAL: PlanRequest(kind, months=2),
        PlanType.SETTLEMENT: PlanRequest(kind, discount_pct=rng.choice([5, 10])),
        PlanType.HARDSHIP: PlanRequest(kind, months=3, payment_share_pct=50),
    }[kind]
    result = offer_plan(
        conn,
        loan_id=loan_id,
        request=request,
        role="agent",
        as_of=base,
        actor=actor,
        income=12_000_00,
        expenses=5_000_00,
    )
    assert result.plan_id is not None
    accepted = base + timedelta(days=rng.randint(0, 3))
    accept_plan(conn, result.plan_id, as_of=accepted, actor=actor)
    keeps = rng.random() < 0.65
    stop_after = None if keeps else rng.randint(0, 2)
    by_day: dict[date, int] = {}
    for line in result.offer.lines:
        by_day[line.due_date] = by_day.get(line.due_date, 0) + line.total
    paid = []
    for k, (day, amount) in enumerate(sorted(by_day.items())):
        if day > as_of or (stop_after is not None and k >= stop_after):
            break
        paid.append(
            {
                "external_ref": f"PLANDEMO-{result.plan_id}-{k + 1}",
                "loan_id": loan_id,
                "paid_on": day - timedelta(days=rng.randint(0, 2)),
                "paid_at": datetime.combine(day, time(4, 0), UTC),
                "amount": amount,
                "channel": "app",
            }
        )
    if paid:
        conn.execute(insert(PaymentRow), paid)
    return 1


def _replay_daily(conn: Connection, start: date, end: date) -> None:
    """The daily update week by week from ``start`` to ``end``, as the daily run would
    have done, so plans end on the day their break was found."""
    day = start
    while day < end:
        daily_update(conn, day, actor="system:demo")
        day += timedelta(days=7)
    daily_update(conn, end, actor="system:demo")


__all__ = [
    "OfferResult",
    "PlanInfo",
    "accept_plan",
    "cancel_plan",
    "daily_update",
    "get_plan",
    "list_plans",
    "load_policy",
    "loan_position",
    "offer_plan",
    "plan_flags",
    "plan_lines",
    "seed_demo",
    "survival",
    "tier_of",
]
