"""Which queued account no longer needs the day's work (forbear.services.queue), row by
row: the run's segment and overdue amount against the live borrower situation."""

from __future__ import annotations

from typing import Any

import pytest

from forbear.domain.strategy.schema import PLAN_SEGMENT
from forbear.services.queue import Settled, settled_reason


def live(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "status": "active",
        "overdue_total": 5_000,
        "hold_any": False,
        "disputed": False,
        "active_plan": False,
        "active_promise": False,
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("segment", "queued_overdue", "row", "expected"),
    [
        ("m1", 5_000, live(), None),  # nothing changed: still due
        ("m1", 5_000, None, None),  # no situation row (not started): left as the run said
        ("m1", 5_000, live(status="paid_off", overdue_total=0), Settled.CLOSED),
        ("m1", 5_000, live(hold_any=True, disputed=True), Settled.DISPUTE),
        ("m1", 5_000, live(hold_any=True), Settled.HOLD),
        ("m1", 5_000, live(active_plan=True, overdue_total=0), Settled.PLAN),
        ("m1", 5_000, live(active_promise=True), Settled.PROMISE),
        ("m1", 5_000, live(overdue_total=0), Settled.PAID),
        # work the run gave because of the plan or promise (reminders) stays
        (PLAN_SEGMENT, 0, live(active_plan=True, overdue_total=0), None),
        (PLAN_SEGMENT, 0, live(active_promise=True), None),
        # a reminder before the due date: nothing was overdue, nothing is
        ("pre_due", 0, live(overdue_total=0), None),
        # a hold stops every kind of work, the plan segment's too
        (PLAN_SEGMENT, 0, live(active_plan=True, hold_any=True), Settled.HOLD),
    ],
)
def test_settled_reason(
    segment: str, queued_overdue: int, row: dict[str, Any] | None, expected: Settled | None
) -> None:
    assert settled_reason(segment, queued_overdue, row) == expected
