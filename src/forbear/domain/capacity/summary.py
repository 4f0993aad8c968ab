"""What the allocation did, per channel and agent."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from forbear.domain.capacity.config import CapacityConfig
from forbear.domain.capacity.vocabulary import CHANNELS

# --------------------------------------------------------------------------- summary


def summary(allocated: pl.DataFrame, config: CapacityConfig | None = None) -> pl.DataFrame:
    """Per channel, and per team within the agent channels: planned, scheduled, carried, use.

    Columns ``channel, team_id, planned, scheduled, carried, capacity, used_pct``. Rows with
    a null ``team_id`` are channel totals; ``capacity`` is the channel limit there and the
    team's total ``calls_per_day`` on team rows (shared across the agent channels the team
    works), null without ``config`` or when unlimited. ``used_pct`` = scheduled / capacity.
    """
    counts = [
        pl.len().cast(pl.Int64).alias("planned"),
        pl.col("scheduled").sum().cast(pl.Int64).alias("scheduled"),
        pl.col("carried").sum().cast(pl.Int64).alias("carried"),
    ]
    channel_key = pl.col("channel").cast(pl.String)
    by_channel = (
        allocated.group_by(channel_key)
        .agg(counts)
        .with_columns(pl.lit(None, dtype=pl.String).alias("team_id"))
    )
    by_team = (
        allocated.filter(pl.col("team_id").is_not_null())
        .group_by(channel_key, pl.col("team_id").cast(pl.String))
        .agg(counts)
    )
    limits: Mapping[str, int | None] = {}
    team_caps: Mapping[str, int] = {}
    if config is not None:
        limits = {c: config.limit(c) for c in CHANNELS}
        team_caps = {t.id: sum(a.calls_per_day for a in t.agents) for t in config.teams}
    frame = pl.concat([by_channel.select(by_team.columns), by_team]).with_columns(
        pl.when(pl.col("team_id").is_null())
        .then(pl.col("channel").replace_strict(limits, default=None, return_dtype=pl.Int64))
        .otherwise(pl.col("team_id").replace_strict(team_caps, default=None, return_dtype=pl.Int64))
        .alias("capacity")
    )
    return (
        frame.with_columns(
            pl.when(pl.col("capacity") > 0)
            .then((100.0 * pl.col("scheduled") / pl.col("capacity")).round(1))
            .otherwise(None)
            .alias("used_pct")
        )
        .select("channel", "team_id", "planned", "scheduled", "carried", "capacity", "used_pct")
        .sort("channel", "team_id", nulls_last=False)
    )
