"""The dashboard's intervals: Wilson's score interval and the ratio estimator's interval
(:mod:`forbear.services.dashboard`), against published values and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.services.dashboard import SMALL_N, ratio_interval, wilson


def test_wilson_matches_published_values() -> None:
    # Brown, Cai and DasGupta (2001) / Newcombe (1998): 81 of 263 -> 0.2553 to 0.3662
    low, high = wilson(81, 263)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # none of 10: the interval still has width (a Wald interval would be 0 to 0)
    low, high = wilson(0, 10)  # type: ignore[misc]
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(5, 3)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_rate_and_stays_in_0_1(case: tuple[int, int]) -> None:
    hits, n = case
    low, high = wilson(hits, n)  # type: ignore[misc]
    assert 0 <= low <= hits / n <= high <= 1


def test_the_interval_narrows_with_n_and_small_is_below_30() -> None:
    small = wilson(10, 27)
    large = wilson(1000, 2700)
    assert small is not None and large is not None
    assert (small[1] - small[0]) > 3 * (large[1] - large[0])
    assert SMALL_N == 30


def test_the_ratio_interval_is_around_the_ratio_and_needs_two_accounts() -> None:
    paid = [100, 0, 50, 100, 20]
    owed = [100, 100, 100, 100, 100]
    low, high = ratio_interval(paid, owed)  # type: ignore[misc]
    assert low < sum(paid) / sum(owed) < high and low >= 0 and high <= 1
    assert ratio_interval([5], [10]) is None and ratio_interval([0, 0], [0, 0]) is None
    same = ratio_interval([50, 50, 50], [100, 100, 100])
    assert same == (0.5, 0.5)  # no spread between accounts: no width
