"""The daily update of plans (activated, completed, broken, expired), the flags the
strategy reads and survival figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, select

from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.domain.ledger.schedules import add_months
from forbear.domain.plans import (
    PlanStatus,
    PlanType,
)
from forbear.domain.plans.lifecycle import is_broken, is_completed
from forbear.domain.plans.policy import (
    BrokenRule,
    default_policy,
)
from forbear.services import book
from forbear.services.plans.lifecycle import _info, _move, _select, get_plan
from forbear.store import bulk
from forbear.store.models import Loan
from forbear.store.plans import OPEN_STATUSES, Plan

# ---------------------------------------------------------------------------- daily


GOVERNED_SCALAR = 1_000
"""Up to this many plan loans, the plans' update runs the ledger loan by loan (the scalar
path; about 0.2 ms a loan): the compiled walk's first load in a process costs about 0.5 s,
which the daily run pays beside its first reads instead (``warm_compiled``), not in its
plans' write transaction. Both paths give the same integers."""


def _governed_states(conn: Connection, loan_ids: list[int], as_of: date) -> pl.DataFrame:
    if not loan_ids:
        return pl.DataFrame()
    inputs = book.ledger_inputs(conn, as_of, loan_ids)
    return book.run_ledger_on(inputs, as_of, DEFAULT_BUCKETS, small=GOVERNED_SCALAR)


def daily_update(
    conn: Connection,
    as_of: date,
    actor: str = "system:daily-run",
    *,
    loan_ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """The plans' part of the daily run for ``as_of`` (idempotent for a date): offers not
    accepted in time expire; accepted plans whose start date has come become active;
    active plans are completed when everything up to their last instalment is paid,
    broken per the policy's missed-payment rule, and cancelled when the loan is written
    off. Returns the counts of each change and of the plans active afterwards.

    ``loan_ids`` limits it to those loans' plans: a payment posted in real time brings its
    loan's plan up to date at once (the same rules, the same date as the run would)."""
    rules = default_policy().policy
    counts = {"expired": 0, "activated": 0, "completed": 0, "broken": 0, "cancelled": 0}
    query = _select().where(Plan.status.in_([s.value for s in OPEN_STATUSES]))
    if loan_ids is not None:
        query = query.where(Plan.loan_id.in_(list(loan_ids)))
    rows = conn.execute(query.order_by(Plan.id)).all()
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
        st = by_loan.get(plan.loan_id)
        if st is None:
            continue
        if st["status"] == "written_off":
            _move(
                conn,
                get_plan(conn, plan.id),  # as it stands (activated above, maybe)
                PlanStatus.CANCELLED,
                actor=actor,
                as_of=as_of,
                payload={"reason": "loan written off"},
            )
            counts["cancelled"] += 1
        elif is_completed(
            st["status"], st["oldest_unpaid_due_date"], st["next_due_date"], plan.end_date
        ):
            _move(conn, get_plan(conn, plan.id), PlanStatus.COMPLETED, actor=actor, as_of=as_of)
            counts["completed"] += 1
        elif _breaks(plan.terms, st, as_of, rules.broken):
            _move(
                conn,
                get_plan(conn, plan.id),
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


def plan_flags(
    conn: Connection, as_of: date, *, states: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``loan_id, active_plan`` for every loan: the one definition of an active plan
    (:mod:`forbear.domain.plans.flags`: a plan governs the loan on ``as_of``, accepted or
    active and started, and is performing on its own ledger state). The daily run hands
    over the day's ``states`` (the ledger over the book with the governing plans'
    schedules, :func:`forbear.services.book.load_bucket`): the plan-governed loans' states
    are then taken from them instead of running the ledger on those loans again."""
    from forbear.domain.plans.flags import active_plans
    from forbear.services.situation import plan_rules

    everyone = bulk.read_frame(
        conn, select(Loan.id.label("loan_id")).order_by(Loan.id), {"loan_id": pl.Int64()}
    )
    rules = plan_rules(conn, None)
    governed = sorted(set(rules.filter(pl.col("start_date") <= as_of)["loan_id"].to_list()))
    if states is None:
        states = _governed_states(conn, governed, as_of)
    else:
        states = states.filter(pl.col("loan_id").is_in(governed)) if governed else pl.DataFrame()
    flags = (
        active_plans(rules.lazy(), states.lazy(), as_of).collect()
        if states.height
        else pl.DataFrame(schema={"loan_id": pl.Int64, "active_plan": pl.Boolean})
    )
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
