"""How many consecutive days an action has been carried (capacity's age class)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from forbear.batch.daily import carried_streaks

YESTERDAY = date(2026, 11, 29)
SCHEMA = {"as_of": pl.Date(), "loan_id": pl.Int64(), "action_index": pl.Int64()}


def frame(rows: list[tuple[date, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def days_back(*backs: int, loan: int = 1, action: int = 0) -> list[tuple[date, int, int]]:
    return [(YESTERDAY - timedelta(days=b), loan, action) for b in backs]


def streak_of(rows: list[tuple[date, int, int]], loan: int = 1, action: int = 0) -> int | None:
    out = carried_streaks(frame(rows), YESTERDAY).filter(
        (pl.col("loan_id") == loan) & (pl.col("action_index") == action)
    )
    return None if out.height == 0 else int(out["carried_days"][0])


def test_carried_only_yesterday_is_one_day() -> None:
    assert streak_of(days_back(0)) == 1


def test_consecutive_days_count_until_the_first_gap() -> None:
    assert streak_of(days_back(0, 1, 2)) == 3
    assert streak_of(days_back(0, 1, 3, 4)) == 2  # a day scheduled in between resets it


def test_not_carried_yesterday_has_no_streak() -> None:
    assert streak_of(days_back(1, 2)) is None


def test_actions_are_counted_apart() -> None:
    rows = days_back(0, 1, loan=1, action=0) + days_back(0, loan=1, action=1)
    rows += days_back(0, 1, 2, 3, loan=2, action=0)
    assert streak_of(rows, 1, 0) == 2
    assert streak_of(rows, 1, 1) == 1
    assert streak_of(rows, 2, 0) == 4


@given(st.sets(st.integers(min_value=0, max_value=29), max_size=30))
def test_streak_is_the_run_of_days_ending_yesterday(backs: set[int]) -> None:
    expected = 0
    while expected in backs:
        expected += 1
    got = streak_of(days_back(*sorted(backs, reverse=True)))
    assert (got or 0) == expected
