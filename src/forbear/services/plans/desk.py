"""Plan use cases as the front ends start them, with the :class:`Actor` who asks.

Each checks the permission (``plan.offer`` to quote, offer, accept or withdraw an offer;
``plan.approve`` to cancel an accepted or active plan, checked in
:func:`.lifecycle.cancel_plan` itself; ``account.view`` to read) and the actor's scope (a
plan on a loan out of scope answers like an unknown plan), then calls :mod:`.offers` /
:mod:`.lifecycle`, which validate, write and audit. :func:`approver` turns a named staff
member into the Actor a command-line operator acts for."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Connection, select

from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.domain.plans import PlanLine, PlanRequest
from forbear.domain.plans.policy import Limits
from forbear.services.loan_scope import require_loan_day
from forbear.services.plans.lifecycle import (
    APPROVE,
    PlanInfo,
    accept_plan,
    cancel_plan,
    get_plan,
    list_plans,
    plan_lines,
)
from forbear.services.plans.offers import (
    OfferResult,
    load_policy,
    loan_facts,
    offer_plan,
    tier_of,
)
from forbear.store.crypto import PiiVault
from forbear.store.web import StaffUser

OFFER = "plan.offer"
VIEW = "account.view"


def _role(actor: Actor) -> str:
    """The role whose plan limits apply: a role-free actor has none to offer within."""
    actor.require(OFFER)
    if actor.role is None:
        raise PermissionDenied("(none)", OFFER)
    return actor.role.value


def limits(conn: Connection, actor: Actor, loan_id: int, as_of: date) -> Limits | None:
    """The plan limits of ``actor``'s role for this loan (its product and risk tier), or
    None for a role that may not offer plans (or a loan the policy does not cover).
    For a page already showing the loan (its scope checked)."""
    if actor.role is None or not actor.may(OFFER):
        return None
    try:
        facts = loan_facts(conn, loan_id)
        tier = tier_of(conn, loan_id, as_of)
        return load_policy().policy.limits_for(actor.role.value, facts.product_code, tier)
    except (NotFound, ValidationError):
        return None


def offer(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    request: PlanRequest,
    *,
    now: datetime,
    today: date,
    income: int | None = None,
    expenses: int | None = None,
    save: bool,
) -> OfferResult:
    """Quote (``save=False``) or offer a plan within ``actor``'s role's authority."""
    role = _role(actor)
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    return offer_plan(
        conn,
        loan_id=loan_id,
        request=request,
        role=role,
        as_of=day,
        actor=actor.name,
        income=income,
        expenses=expenses,
        save=save,
    )


def plan_in_scope(
    conn: Connection, actor: Actor, plan_id: int, *, now: datetime, today: date
) -> tuple[PlanInfo, date]:
    """The plan and the business day, if its loan is in ``actor``'s scope (else
    :class:`NotFound` "plan", as for an unknown plan)."""
    info = get_plan(conn, plan_id)
    day = require_loan_day(conn, actor, info.loan_id, now=now, today=today, thing=("plan", plan_id))
    return info, day


def of_loan(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> list[PlanInfo]:
    """A loan's plans, newest first, if in scope."""
    actor.require(VIEW)
    require_loan_day(conn, actor, loan_id, now=now, today=today)
    return list(reversed(list_plans(conn, loan_id=loan_id)))


def detail(
    conn: Connection, actor: Actor, plan_id: int, *, now: datetime, today: date
) -> tuple[PlanInfo, list[PlanLine]]:
    """One plan with its schedule, if in scope."""
    actor.require(VIEW)
    info, _ = plan_in_scope(conn, actor, plan_id, now=now, today=today)
    return info, plan_lines(conn, plan_id)


def accept(conn: Connection, actor: Actor, plan_id: int, *, now: datetime, today: date) -> PlanInfo:
    """Record the borrower's yes to an offered plan (told to ``actor``)."""
    actor.require(OFFER)
    _, day = plan_in_scope(conn, actor, plan_id, now=now, today=today)
    return accept_plan(conn, plan_id, as_of=day, actor=actor.name)


def cancel(
    conn: Connection,
    actor: Actor,
    plan_id: int,
    *,
    now: datetime,
    today: date,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> PlanInfo:
    """Cancel a plan on a loan in scope (``plan.approve`` for an accepted or active one,
    checked by :func:`.lifecycle.cancel_plan`)."""
    actor.require(OFFER)
    _, day = plan_in_scope(conn, actor, plan_id, now=now, today=today)
    return cancel_plan(conn, plan_id, as_of=day, actor=actor, reason=reason, vault=vault)


def approver(conn: Connection, username: str, *, acting: str) -> Actor:
    """The Actor for an operator (``acting``, e.g. ``cli:root``) who acts on the approval
    of staff member ``username``: that person's role, id and scope. Refuses an unknown or
    disabled user (:class:`NotFound` "staff user") and a role without ``plan.approve``
    (:class:`PermissionDenied`)."""
    row = conn.execute(
        select(
            StaffUser.id,
            StaffUser.role,
            StaffUser.agency_id,
            StaffUser.scope_buckets,
            StaffUser.disabled,
        ).where(StaffUser.username == username.strip())
    ).one_or_none()
    if row is None or row.disabled:
        raise NotFound("staff user", username.strip())
    buckets = json.loads(row.scope_buckets or "[]")
    found = Actor(
        name=acting,
        role=Role(row.role),
        user_id=int(row.id),
        agency_id=row.agency_id,
        scope_buckets=tuple(str(b) for b in buckets),
    )
    found.require(APPROVE)
    return found
