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

"Legally closed": :func:`forbear.services.legal_closure.legal_closure` gives the reason a
loan's legal case forbids a plan of collections' own (settled, judgment, enforcement),
``None`` when it does not. Paid-off and written-off loans are refused by the ledger
position.

The package, by noun: :mod:`.offers` (the policy, the offer), :mod:`.lifecycle` (read,
accept, cancel), :mod:`.daily` (the daily update, flags, survival), :mod:`.desk` (the use
cases the front ends call with an :class:`~forbear.domain.access.Actor`: scope and
permissions, such as ``plan.approve`` to cancel an accepted plan, checked there). The
demo book's plans are made by :mod:`forbear.sim.history`.
"""

from forbear.services.plans.daily import daily_update, plan_flags, survival
from forbear.services.plans.lifecycle import (
    PlanInfo,
    accept_plan,
    cancel_plan,
    get_plan,
    list_plans,
    plan_lines,
)
from forbear.services.plans.offers import (
    LoanFacts,
    OfferResult,
    load_policy,
    loan_facts,
    loan_position,
    offer_plan,
    tier_of,
)

__all__ = [
    "LoanFacts",
    "OfferResult",
    "PlanInfo",
    "accept_plan",
    "cancel_plan",
    "daily_update",
    "get_plan",
    "list_plans",
    "load_policy",
    "loan_facts",
    "loan_position",
    "offer_plan",
    "plan_flags",
    "plan_lines",
    "survival",
    "tier_of",
]
