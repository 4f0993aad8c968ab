"""Frame builders for the gate's tests: one dict per row, schema from schema.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from forbear.domain.compliance.schema import FLAGS, HISTORY, HOLDS, PLANNED


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def frame(schema: dict[str, pl.DataType], rows: list[dict[str, Any]]) -> pl.LazyFrame:
    cols = {k: [r.get(k) for r in rows] for k in schema}
    return pl.DataFrame(cols, schema=schema).lazy()


def make_contact(**o: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "contact_id": 1,
        "loan_id": 10,
        "borrower_id": 100,
        "contact_point_id": 1000,
        "channel": "call",
        "party": "debtor",
        "provenance": "contract",
        "at": utc(2026, 3, 2, 2),  # 10:00 Asia/Shanghai, a Monday
        "timezone": "Asia/Shanghai",
        "agency_id": None,
        "discloses_debt": True,
        "is_demand": True,
    }
    row.update(o)
    return row


def make_attempt(**o: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "borrower_id": 100,
        "loan_id": 10,
        "contact_point_id": 1000,
        "channel": "call",
        "party": "debtor",
        "at": utc(2026, 3, 2, 1),
        "outcome": "no_answer",
        "agency_id": None,
    }
    row.update(o)
    return row


def make_flags(**o: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "loan_id": 10,
        "borrower_id": 100,
        "agency_id": None,
        "agency_notified_at": None,
        "assigned_at": None,
        "assignment_notified_at": None,
        "last_due_date": date(2025, 12, 1),
        "last_demand_at": None,
        "debtor_unreachable_since": None,
    }
    row.update(o)
    return row


def make_hold(**o: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "borrower_id": 100,
        "loan_id": None,
        "kind": "dispute",
        "channel": None,
        "contact_point_id": None,
        "since": utc(2026, 1, 1),
        "until": None,
    }
    row.update(o)
    return row


def planned(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return frame(PLANNED, rows)


def history(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return frame(HISTORY, rows)


def flags(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return frame(FLAGS, rows)


def holds(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return frame(HOLDS, rows)
