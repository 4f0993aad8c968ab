"""A repayment plan from the portal: the offers the policy allows an agent, chosen by the
borrower (offered and accepted at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.plans import PlanRequest, PlanType
from forbear.domain.plans.policy import LoadedPolicy, default_policy
from forbear.services import plans
from forbear.services.portal.common import (
    actor_of,
)
from forbear.services.portal.loans import (
    own_loan,
)
from forbear.store.locks import lock_loan
from forbear.store.plans import Plan

# ---------------------------------------------------------------------------- plans

PORTAL_ROLE = "agent"  # the most conservative authority of the policy


@dataclass(frozen=True)
class PlanDay:
    """What falls due on one day under a plan option: the plan's instalment and any contract
    instalment the plan keeps on that day are paid together (``parts``: kind ``plan`` or
    ``contract`` and its amount in fen)."""

    due_date: date
    parts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(fen for _, fen in self.parts)


@dataclass(frozen=True)
class PlanOption:
    """One plan the borrower may choose, told by the day as the borrower pays: ``lines``
    days, the first day's amount, the largest day's, and the total (``days`` in full)."""

    key: str  # e.g. "deferral-2", "restructure-6"
    plan_type: str
    months: int
    instalments: int
    first_due_date: date
    first_amount: int
    largest_amount: int
    total: int
    lines: int
    days: tuple[PlanDay, ...] = ()
    added_interest: int = 0  # interest the plan adds (a deferral's months), fen
    owed_now: int = 0  # what the loan owes today without the plan (overdue and to come)


def plan_days(lines: list[Any], as_of: date) -> tuple[PlanDay, ...]:
    """The offer's lines still to come, grouped by the day they fall due."""
    due: dict[date, list[tuple[str, int]]] = {}
    for ln in lines:
        if ln.due_date > as_of:
            total = ln.principal + ln.interest + ln.fee + ln.penalty
            due.setdefault(ln.due_date, []).append((str(ln.kind.value), int(total)))
    return tuple(PlanDay(day, tuple(parts)) for day, parts in sorted(due.items()))


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
        days = plan_days(list(result.offer.lines), as_of)
        if not days:
            continue
        totals = [d.total for d in days]
        options.append(
            PlanOption(
                key=_key(request),
                plan_type=request.plan_type.value,
                months=request.months,
                instalments=request.instalments,
                first_due_date=days[0].due_date,
                first_amount=totals[0],
                largest_amount=max(totals),
                total=sum(totals),
                lines=len(days),
                days=days,
                added_interest=result.offer.added_interest,
                owed_now=result.position.total.total,
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


def plan_option(
    conn: Connection,
    borrower_id: int,
    loan_id: int,
    option: str,
    as_of: date,
    *,
    policy: LoadedPolicy | None = None,
) -> PlanOption:
    """One of :func:`plan_options` by its key, for the confirm step (its schedule and total
    cost before the borrower agrees); :class:`ValidationError` for any other key, and the
    reason none is available as :class:`Conflict`."""
    options, reason = plan_options(conn, borrower_id, loan_id, as_of, policy=policy)
    found = next((o for o in options if o.key == option), None)
    if found is None:
        if reason is not None and not options:
            raise Conflict(reason)
        raise ValidationError("option", "not one of the plans offered for this loan")
    return found


@dataclass(frozen=True)
class CurrentPlan:
    """The loan's latest open plan as the borrower sees it: offered (waiting for their yes,
    e.g. approved by a supervisor), accepted or active, with every instalment day."""

    plan_id: int
    plan_type: str
    status: str
    expires_on: date
    terms: dict[str, Any]
    days: tuple[PlanDay, ...]
    added_interest: int
    waived: int
    discount: int

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)


def current_plan(conn: Connection, borrower_id: int, loan_id: int) -> CurrentPlan | None:
    """The open plan of the borrower's loan, if any (:class:`NotFound` for another's)."""
    own_loan(conn, borrower_id, loan_id)
    open_plans = [
        p
        for p in plans.list_plans(conn, loan_id=loan_id)
        if p.status.value in ("offered", "accepted", "active")
    ]
    if not open_plans:
        return None
    info = open_plans[-1]
    row = conn.execute(select(Plan.added_interest).where(Plan.id == info.id)).scalar_one()
    lines = plans.plan_lines(conn, info.id)
    return CurrentPlan(
        plan_id=info.id,
        plan_type=info.plan_type.value,
        status=info.status.value,
        expires_on=info.expires_on,
        terms=dict(info.terms),
        days=plan_days(lines, date.min),
        added_interest=int(row),
        waived=info.waived,
        discount=info.discount,
    )


def accept_offer(
    conn: Connection, *, borrower_id: int, loan_id: int, plan_id: int, as_of: date
) -> plans.PlanInfo:
    """The borrower accepts a plan offered to them (by an agent, or approved by a
    supervisor) after seeing its schedule (audited ``plan.accepted`` by the borrower)."""
    own_loan(conn, borrower_id, loan_id)
    info = plans.get_plan(conn, plan_id)
    if info.loan_id != loan_id:
        raise NotFound("plan", str(plan_id))
    if info.status.value != "offered":
        raise Conflict(f"plan {plan_id} is {info.status.value}: nothing to accept")
    return plans.accept_plan(conn, plan_id, as_of=as_of, actor=actor_of(borrower_id))
