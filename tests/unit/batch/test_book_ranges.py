"""The daily run's ranges of loans: a quarter-size first range, then ranges that grow with
the book between two bounds."""

from __future__ import annotations

import polars as pl
import pytest

from forbear.services.book import (
    LOANS_PER_BUCKET,
    MAX_LOANS_PER_BUCKET,
    RANGES,
    BookHead,
    loans_per_range,
)


@pytest.mark.parametrize("loans", [0, 1, 500, 124_016, 640_000, 1_232_600, 10_000_000])
def test_the_range_size_grows_with_the_book_within_its_bounds(loans: int) -> None:
    size = loans_per_range(loans)
    assert LOANS_PER_BUCKET <= size <= MAX_LOANS_PER_BUCKET
    if LOANS_PER_BUCKET < size < MAX_LOANS_PER_BUCKET:
        assert -(-loans // size) == RANGES


def _head(ids: list[int]) -> BookHead:
    head = BookHead.__new__(BookHead)
    object.__setattr__(head, "loans", pl.DataFrame({"loan_id": ids}))
    return head


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 23, 100])
def test_ranges_cover_every_loan_once_the_first_a_quarter(n: int) -> None:
    ids = [10 * i + 3 for i in range(n)]  # ids need not be dense
    ranges = _head(ids).buckets(8)
    covered = [i for first, last in ranges for i in ids if first <= i <= last]
    assert covered == ids
    assert all(first <= last for first, last in ranges)
    sizes = [sum(first <= i <= last for i in ids) for first, last in ranges]
    if n > 2:
        assert sizes[0] == 2 and all(s <= 8 for s in sizes)
