"""Validation of payments-file rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from factories import make_payment_row
from forbear.domain.intake import validate_payments


def check(*rows: dict[str, str | None]):  # type: ignore[no-untyped-def]
    frame = pl.DataFrame(list(rows), schema={k: pl.String for k in rows[0]})
    frame = frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))
    return validate_payments(frame, "Asia/Shanghai")


def test_a_local_date_time_is_stored_in_utc_with_its_local_business_date() -> None:
    result = check(make_payment_row(paid_at="2026-02-15 00:30:00"))
    row = result.valid.row(0, named=True)
    assert row["paid_on"] == date(2026, 2, 15)  # Shanghai date, although UTC is the 14th
    assert row["paid_at"] == datetime(2026, 2, 14, 16, 30, tzinfo=UTC)
    assert row["amount"] == 110016


def test_a_date_alone_and_a_time_with_offset_are_accepted() -> None:
    result = check(
        make_payment_row(paid_at="2026/02/15"),
        make_payment_row(txn_ref="T2", paid_at="2026-02-15T23:30:00+00:00"),
    )
    assert result.errors == []
    assert result.valid["paid_on"].to_list() == [date(2026, 2, 15), date(2026, 2, 16)]
    assert result.valid["paid_at"][0] is None


@pytest.mark.parametrize(
    ("overrides", "column", "reason"),
    [
        ({"amount": "0"}, "amount", "amount must be greater than zero"),
        ({"amount": "-1"}, "amount", "amount must not be negative"),
        ({"paid_at": "15/02/2026"}, "paid_at", "not a date or date-time (use YYYY-MM-DD HH:MM:SS)"),
        (
            {"channel": "cash-in-envelope"},
            "channel",
            "must be one of withhold, transfer, app, counter, other",
        ),
        ({"txn_ref": ""}, "txn_ref", "is required"),
    ],
)
def test_bad_payment_values_are_reported(
    overrides: dict[str, str], column: str, reason: str
) -> None:
    result = check(make_payment_row(**overrides))
    assert [(e.line, e.column, e.reason) for e in result.errors] == [(2, column, reason)]
    assert result.valid.height == 0
