"""A plan's life: which status may follow which, and the missed-payment rule.

::

    offered ──> accepted ──> active ──> completed
       │            │           ├─────> broken
       │            │           └─────> cancelled
       │            └─────────────────> cancelled
       ├──────────────────────────────> cancelled
       └──────────────────────────────> expired      (not accepted in time)

Completed, broken, cancelled and expired are final. A broken or cancelled plan stops
governing the loan on the day it ends: from then the contract schedule applies again, as
if the plan had never been made, with every payment made under the plan counted
(docs/plans.md). A completed plan keeps governing: its concessions are final.
"""

from __future__ import annotations

from datetime import date

from forbear.domain.errors import Conflict
from forbear.domain.plans.model import PlanStatus

S = PlanStatus
TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    S.OFFERED: frozenset({S.ACCEPTED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.ACTIVE, S.CANCELLED}),
    S.ACTIVE: frozenset({S.COMPLETED, S.BROKEN, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.BROKEN: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
OPEN = frozenset({S.OFFERED, S.ACCEPTED, S.ACTIVE})


def check_transition(plan_id: int, current: PlanStatus | str, target: PlanStatus) -> None:
    """Refuse (:class:`Conflict`) a status change the life cycle does not allow."""
    now = PlanStatus(current)
    if target not in TRANSITIONS[now]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[now])) or "none (final)"
        raise Conflict(
            f"plan {plan_id} is {now.value}: it cannot become {target.value} (allowed: {allowed})"
        )


def is_broken(
    as_of: date,
    oldest_unpaid_due_date: date | None,
    overdue_total: int,
    *,
    days_late: int,
    tolerance: int,
) -> bool:
    """The policy's missed-payment rule on the plan's own ledger state: an instalment of
    the plan's schedule still unpaid more than ``days_late`` days after its due date, and
    more than ``tolerance`` fen overdue in all."""
    if oldest_unpaid_due_date is None:
        return False
    return (as_of - oldest_unpaid_due_date).days > days_late and overdue_total > tolerance


def is_completed(
    status: str,
    oldest_unpaid_due_date: date | None,
    next_due_date: date | None,
    end_date: date,
) -> bool:
    """Every instalment due up to the plan's last own instalment is paid (or the loan is)."""
    if status == "paid_off":
        return True
    first_unpaid = min(
        (d for d in (oldest_unpaid_due_date, next_due_date) if d is not None), default=None
    )
    return first_unpaid is None or first_unpaid > end_date
