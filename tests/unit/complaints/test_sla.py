"""The complaint SLA clock (CN.COMPLAINT.SLA): 15 calendar days from the day of receipt,
30 once extended, 60 once the further 30 days are approved; escalation when due soon or
overdue; the lifecycle's allowed moves."""

from __future__ import annotations

from datetime import date

import pytest

from forbear.domain.complaints import (
    ComplaintStatus,
    Urgency,
    can_move,
    clock,
    due_date,
)

RECEIVED = date(2026, 4, 1)


@pytest.mark.parametrize(
    ("status", "due"),
    [
        (ComplaintStatus.OPEN, date(2026, 4, 16)),
        (ComplaintStatus.IN_PROGRESS, date(2026, 4, 16)),
        (ComplaintStatus.EXTENDED, date(2026, 5, 1)),
        (ComplaintStatus.EXTENDED_APPROVED, date(2026, 5, 31)),
    ],
)
def test_the_deadline_follows_the_extensions(status: ComplaintStatus, due: date) -> None:
    assert due_date(RECEIVED, status) == due


def test_days_are_calendar_days_across_a_holiday_week() -> None:
    # 2026-10-01..07 is the National Day holiday: the clock does not stop for it.
    assert due_date(date(2026, 9, 28), "open") == date(2026, 10, 13)


@pytest.mark.parametrize(
    ("as_of", "left", "urgency"),
    [
        (date(2026, 4, 1), 15, Urgency.ON_TRACK),
        (date(2026, 4, 12), 4, Urgency.ON_TRACK),
        (date(2026, 4, 13), 3, Urgency.DUE_SOON),
        (date(2026, 4, 16), 0, Urgency.DUE_SOON),
        (date(2026, 4, 17), -1, Urgency.OVERDUE),
    ],
)
def test_the_clock_counts_down_and_escalates(as_of: date, left: int, urgency: Urgency) -> None:
    sla = clock(RECEIVED, date(2026, 4, 16), as_of)
    assert (sla.days_left, sla.urgency) == (left, urgency)
    assert sla.escalate is (urgency in (Urgency.DUE_SOON, Urgency.OVERDUE))


def test_a_clock_seen_before_receipt_shows_the_full_time() -> None:
    assert clock(RECEIVED, date(2026, 4, 16), date(2026, 3, 30)).days_left == 15


def test_an_answered_complaint_stops_the_clock_and_shows_lateness() -> None:
    on_time = clock(RECEIVED, date(2026, 4, 16), date(2026, 6, 1), resolved_on=date(2026, 4, 10))
    late = clock(RECEIVED, date(2026, 4, 16), date(2026, 6, 1), resolved_on=date(2026, 4, 18))
    assert (on_time.urgency, on_time.days_left, on_time.escalate) == (Urgency.ANSWERED, 6, False)
    assert late.days_left == -2


def test_the_lifecycle_allows_only_forward_moves() -> None:
    S = ComplaintStatus
    assert can_move(S.OPEN, S.EXTENDED)
    assert can_move(S.EXTENDED, S.EXTENDED_APPROVED)
    assert not can_move(S.OPEN, S.EXTENDED_APPROVED)  # approval needs an extension first
    assert not can_move(S.EXTENDED_APPROVED, S.EXTENDED)
    assert not can_move(S.RESOLVED, S.OPEN)
    assert can_move(S.RESOLVED, S.CLOSED)
    assert not any(can_move(S.CLOSED, to) for to in S)
