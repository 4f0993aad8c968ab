"""The plan life cycle and the missed-payment rule."""

from __future__ import annotations

from datetime import date

import pytest

from forbear.domain.errors import Conflict
from forbear.domain.plans import PlanStatus
from forbear.domain.plans.lifecycle import (
    TRANSITIONS,
    check_transition,
    is_broken,
    is_completed,
)

S = PlanStatus


@pytest.mark.parametrize(
    ("now", "to"),
    [
        (S.OFFERED, S.ACCEPTED),
        (S.OFFERED, S.EXPIRED),
        (S.OFFERED, S.CANCELLED),
        (S.ACCEPTED, S.ACTIVE),
        (S.ACTIVE, S.COMPLETED),
        (S.ACTIVE, S.BROKEN),
        (S.ACTIVE, S.CANCELLED),
    ],
)
def test_allowed_transitions(now: PlanStatus, to: PlanStatus) -> None:
    check_transition(1, now, to)


@pytest.mark.parametrize(
    ("now", "to"),
    [
        (S.OFFERED, S.ACTIVE),
        (S.ACCEPTED, S.COMPLETED),
        (S.COMPLETED, S.BROKEN),
        (S.BROKEN, S.ACTIVE),
        (S.EXPIRED, S.ACCEPTED),
        (S.CANCELLED, S.ACCEPTED),
    ],
)
def test_refused_transitions_say_what_is_allowed(now: PlanStatus, to: PlanStatus) -> None:
    with pytest.raises(Conflict, match=f"plan 7 is {now.value}: it cannot become {to.value}"):
        check_transition(7, now, to)


def test_final_statuses_have_no_way_out() -> None:
    assert {s for s, nxt in TRANSITIONS.items() if not nxt} == {
        S.COMPLETED,
        S.BROKEN,
        S.CANCELLED,
        S.EXPIRED,
    }


def test_a_plan_breaks_after_the_days_late_beyond_the_tolerance() -> None:
    due = date(2026, 5, 15)
    rule = {"days_late": 10, "tolerance": 10_00}
    assert not is_broken(date(2026, 5, 25), due, 500_00, **rule)
    assert is_broken(date(2026, 5, 26), due, 500_00, **rule)
    assert not is_broken(date(2026, 6, 30), due, 10_00, **rule)  # within the tolerance
    assert not is_broken(date(2026, 6, 30), None, 0, **rule)


def test_a_plan_is_completed_when_everything_up_to_its_last_instalment_is_paid() -> None:
    end = date(2026, 9, 15)
    assert is_completed("paid_off", None, None, end)
    assert is_completed("active", None, date(2026, 10, 15), end)
    assert not is_completed("active", None, date(2026, 9, 15), end)
    assert not is_completed("active", date(2026, 8, 15), date(2026, 10, 15), end)
