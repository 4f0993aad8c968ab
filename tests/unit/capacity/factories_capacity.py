"""Small builders for capacity tests: actions frames and configs."""

from __future__ import annotations

from typing import Any

import polars as pl

from forbear.domain.capacity import CapacityConfig

SCHEMA = {
    "action_id": pl.String,
    "loan_id": pl.String,
    "borrower_id": pl.String,
    "channel": pl.String,
    "lang": pl.String,
    "skill": pl.String,
    "priority": pl.Int64,
    "expected_recovery": pl.Int64,
    "carried_days": pl.Int64,
}


def action(i: int | str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "action_id": f"A{i}",
        "loan_id": f"L{i}",
        "borrower_id": f"B{i}",
        "channel": "call",
        "lang": "zh",
        "skill": "collections",
        "priority": 1,
        "expected_recovery": 100,
        "carried_days": 0,
    }
    row.update(kw)
    return row


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


def agent(
    ident: str,
    calls: int,
    skills: tuple[str, ...] = ("collections",),
    langs: tuple[str, ...] = ("zh",),
    channels: tuple[str, ...] = ("call", "visit", "legal_review"),
) -> dict[str, Any]:
    return {
        "id": ident,
        "calls_per_day": calls,
        "skills": list(skills),
        "langs": list(langs),
        "channels": list(channels),
    }


def config(
    channels: dict[str, int] | None = None,
    agents: list[dict[str, Any]] | None = None,
    team: str = "T1",
    aging: int = 1,
) -> CapacityConfig:
    return CapacityConfig.model_validate(
        {
            "channels": channels or {},
            "teams": [{"id": team, "agents": agents or []}],
            "carry_aging_cap_days": aging,
        }
    )
