"""Allocating the day's actions to channels and agents within their capacity (the rules in
the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from forbear.domain.capacity.config import CapacityConfig
from forbear.domain.capacity.vocabulary import (
    _R_AGENT,
    _R_CHANNEL,
    _R_DUP,
    _R_NOELIG,
    _R_NONE,
    _REASONS,
    AGENT_CHANNELS,
    AUTOMATED_CHANNELS,
    CHANNELS,
    CONTACT_CHANNELS,
    REQUIRED_COLUMNS,
)
from forbear.domain.errors import ValidationError

# --------------------------------------------------------------------------- allocation


class _Agents:
    """The agents flattened into arrays, in agent id order (the greedy's tie-break)."""

    def __init__(self, config: CapacityConfig) -> None:
        pairs = sorted(
            ((agent, team.id) for team in config.teams for agent in team.agents),
            key=lambda pair: pair[0].id,
        )
        self.agents = [agent for agent, _ in pairs]
        self.ids = [agent.id for agent in self.agents]
        self.teams = [team for _, team in pairs]
        self.remaining = np.array([a.calls_per_day for a in self.agents], dtype=np.int64)
        self._eligible: dict[tuple[str, str, str], np.ndarray] = {}

    def eligible(self, channel: str, skill: str, lang: str) -> np.ndarray:
        """Boolean mask over agents for one pool."""
        key = (channel, skill, lang)
        mask = self._eligible.get(key)
        if mask is None:
            mask = np.array(
                [
                    channel in a.channels and skill in a.skills and lang in a.langs
                    for a in self.agents
                ],
                dtype=bool,
            )
            self._eligible[key] = mask
        return mask


def _check_input(actions: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in actions.columns]
    if missing:
        raise ValidationError("actions", f"missing columns: {', '.join(missing)}")
    unknown = (
        actions.select(pl.col("channel").cast(pl.String))
        .filter(~pl.col("channel").is_in(list(CHANNELS)) | pl.col("channel").is_null())
        .get_column("channel")
        .unique()
        .to_list()
    )
    if unknown:
        raise ValidationError("channel", f"unknown channels: {sorted(map(str, unknown))}")
    if actions.get_column("action_id").n_unique() != actions.height:
        raise ValidationError("action_id", "action ids must be unique")


def allocate(
    actions: pl.DataFrame,
    config: CapacityConfig,
    previous: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Fit the day's actions to capacity.

    Returns ``actions`` (same rows, same order) plus ``scheduled`` (bool), ``agent_id``
    and ``team_id`` (agent work only), ``carried`` (bool, ``not scheduled``), ``rank``
    (1-based position in the agent's queue for scheduled agent work, otherwise the
    position in the channel's order) and ``carry_reason`` (null when scheduled; one of
    ``channel_limit``, ``agent_capacity``, ``no_eligible_agent``, ``duplicate_borrower``).
    ``previous`` holds ``loan_id, agent_id`` (yesterday's assignments) for continuity.
    """
    _check_input(actions)
    cap = config.carry_aging_cap_days
    base = actions.with_row_index("_row").with_columns(
        pl.col("channel").cast(pl.String).alias("_channel"),
        pl.col("priority").fill_null(0).cast(pl.Int64).alias("_priority"),
        pl.min_horizontal(pl.col("carried_days").fill_null(0).cast(pl.Int64), pl.lit(cap))
        .clip(lower_bound=0)
        .alias("_age"),
        pl.col("expected_recovery").fill_null(0).cast(pl.Int64).alias("_density"),
        pl.col("carried_days").fill_null(0).cast(pl.Int64).alias("_carried_days"),
    )
    order = base.select(
        "_row",
        "_channel",
        "_priority",
        "_age",
        "_density",
        "_carried_days",
        pl.col("loan_id"),
        pl.col("action_id"),
        pl.col("borrower_id"),
        pl.col("skill").cast(pl.String).fill_null("").alias("_skill"),
        pl.col("lang").cast(pl.String).fill_null("").alias("_lang"),
    ).sort(
        ["_priority", "_age", "_density", "_carried_days", "loan_id", "action_id"],
        descending=[True, True, True, True, False, False],
        nulls_last=True,
        maintain_order=True,
    )
    order = order.with_row_index("_gord").with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_channel").alias("_chrank")
    )

    n = base.height
    agent_idx = np.full(n, -1, dtype=np.int64)
    reason = np.full(n, _R_NONE, dtype=np.int8)

    # automated channels: top N by the order, N the channel limit
    auto = order.filter(pl.col("_channel").is_in(list(AUTOMATED_CHANNELS)))
    if auto.height:
        limits = pl.DataFrame(
            {
                "_channel": list(AUTOMATED_CHANNELS),
                "_limit": [config.limit(c) for c in AUTOMATED_CHANNELS],
            },
            schema={"_channel": pl.String, "_limit": pl.Int64},
        )
        over = (
            auto.join(limits, on="_channel", how="left")
            .filter(pl.col("_limit").is_not_null() & (pl.col("_chrank") > pl.col("_limit")))
            .get_column("_row")
            .to_numpy()
        )
        reason[over] = _R_CHANNEL

    work = order.filter(pl.col("_channel").is_in(list(AGENT_CHANNELS)))
    agents = _Agents(config)
    if work.height:
        _allocate_agent_work(work, config, previous, agents, agent_idx, reason)

    return _finish(actions.columns, base, order, agents, agent_idx, reason)


def _allocate_agent_work(
    work: pl.DataFrame,
    config: CapacityConfig,
    previous: pl.DataFrame | None,
    agents: _Agents,
    agent_idx: np.ndarray,
    reason: np.ndarray,
) -> None:
    # one agent contact (call/visit) and one legal review per borrower per day: first wins
    group = pl.col("_channel").is_in(list(CONTACT_CHANNELS))
    first = pl.col("_gord") == pl.col("_gord").min().over("borrower_id", group)
    dup_rows = work.filter(~first).get_column("_row").to_numpy()
    reason[dup_rows] = _R_DUP
    work = work.filter(first)

    index = {agent_id: i for i, agent_id in enumerate(agents.ids)}
    if previous is not None and previous.height and agents.ids:
        prev = (
            previous.select(
                pl.col("loan_id").cast(work.schema["loan_id"]),
                pl.col("agent_id")
                .cast(pl.String)
                .replace_strict(index, default=None, return_dtype=pl.Int64)
                .alias("_prev"),
            )
            .drop_nulls()
            .unique(subset="loan_id", keep="last", maintain_order=True)
        )
        work = work.join(prev, on="loan_id", how="left", maintain_order="left")
    else:
        work = work.with_columns(pl.lit(None, dtype=pl.Int64).alias("_prev"))

    channel_left: dict[str, float] = {
        c: float(lim) if (lim := config.limit(c)) is not None else float("inf")
        for c in AGENT_CHANNELS
    }
    parts = work.partition_by(
        ["_priority", "_age", "_channel", "_skill", "_lang"], as_dict=True, maintain_order=True
    )
    tiers: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
    for key in parts:
        priority, age, channel, skill, lang = key
        tiers.setdefault((int(priority), int(age)), []).append(
            (str(channel), str(skill), str(lang))
        )
    for tier in sorted(tiers, reverse=True):
        # most constrained pool first (least eligible remaining capacity), then by name
        pools = sorted(
            tiers[tier],
            key=lambda pool: (int(agents.remaining[agents.eligible(*pool)].sum()), pool),
        )
        # continuity demand of this tier per agent, so that one pool's greedy fill does not
        # take the capacity an agent's own returning borrowers in a later pool need
        demand = {pool: _continuity_demand(parts[(*tier, *pool)], pool, agents) for pool in pools}
        reserved = np.sum([*demand.values(), np.zeros(len(agents.ids), np.int64)], axis=0)
        for pool in pools:
            reserved = reserved - demand[pool]
            part = parts[(tier[0], tier[1], *pool)]
            _fill_pool(part, pool, agents, channel_left, agent_idx, reason, reserved)


def _continuity_demand(part: pl.DataFrame, pool: tuple[str, str, str], agents: _Agents) -> Any:
    """Per agent: rows of this pool whose previous agent is that (eligible) agent."""
    prev = part.get_column("_prev").drop_nulls().to_numpy().astype(np.int64)
    prev = prev[agents.eligible(*pool)[prev]]
    return np.bincount(prev, minlength=len(agents.ids)).astype(np.int64)


def _greedy_slots(mask: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Agents in the order the greedy "most remaining capacity first" would pick them.

    An agent with ``c`` slots left offers slots valued c, c-1, ..., 1; the greedy picks
    slots by value desc, then agent index (agent id order).
    """
    idx = np.flatnonzero(mask & (caps > 0))
    counts = caps[idx]
    slot_agent = np.repeat(idx, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    slot_value = np.repeat(counts, counts) - (np.arange(slot_agent.size) - starts)
    picked: np.ndarray = slot_agent[np.lexsort((slot_agent, -slot_value))]
    return picked


def _fill_pool(
    part: pl.DataFrame,
    pool: tuple[str, str, str],
    agents: _Agents,
    channel_left: dict[str, float],
    agent_idx: np.ndarray,
    reason: np.ndarray,
    reserved: np.ndarray,
) -> None:
    """Schedule one pool (rows already in the order) onto its eligible agents."""
    rows = part.get_column("_row").to_numpy()
    mask = agents.eligible(*pool)
    if not mask.any():
        reason[rows] = _R_NOELIG
        return
    remaining = agents.remaining
    supply = int(remaining[mask].sum())
    left = channel_left[pool[0]]
    k = int(min(len(rows), supply, left))
    if k < len(rows):
        reason[rows[k:]] = _R_CHANNEL if left < min(len(rows), supply) else _R_AGENT
    if k == 0:
        return
    channel_left[pool[0]] = left - k
    chosen = rows[:k]
    assigned = np.full(k, -1, dtype=np.int64)

    # 1. continuity: the previous agent when eligible and not full, in order, capped
    prev = part.get_column("_prev").head(k).fill_null(-1).to_numpy().astype(np.int64)
    cont = prev >= 0
    cont[cont] = mask[prev[cont]]
    if cont.any():
        positions = np.flatnonzero(cont)
        owners = prev[positions]
        occurrence = (
            pl.DataFrame({"o": owners})
            .select(pl.int_range(pl.len(), dtype=pl.Int64).over("o"))
            .to_series()
            .to_numpy()
        )
        keep = occurrence < remaining[owners]
        assigned[positions[keep]] = owners[keep]
        np.subtract.at(remaining, owners[keep], 1)

    # 2. the rest: greedily to the eligible agent with the most remaining capacity, first
    # leaving alone what later pools of the tier need for continuity, then using it too
    rest = np.flatnonzero(assigned < 0)
    if rest.size:
        free = np.maximum(remaining - reserved, 0)
        order = np.concatenate([_greedy_slots(mask, free), _greedy_slots(mask, remaining - free)])
        taken = order[: rest.size]
        assigned[rest] = taken
        np.subtract.at(remaining, taken, 1)
    agent_idx[chosen] = assigned


def _finish(
    columns: list[str],
    base: pl.DataFrame,
    order: pl.DataFrame,
    agents: _Agents,
    agent_idx: np.ndarray,
    reason: np.ndarray,
) -> pl.DataFrame:
    ids = pl.Series("_ids", [*agents.ids, None], dtype=pl.String)
    teams = pl.Series("_teams", [*agents.teams, None], dtype=pl.String)
    lookup = np.where(agent_idx < 0, len(agents.ids), agent_idx)
    reasons = pl.Series("_reasons", [*_REASONS, None], dtype=pl.String)
    reason_lookup = np.where(reason < 0, len(_REASONS), reason)
    extra = pl.DataFrame(
        {
            "_row": base.get_column("_row"),
            "agent_id": ids.gather(lookup),
            "team_id": teams.gather(lookup),
            "carry_reason": reasons.gather(reason_lookup),
        }
    )
    ranks = order.select("_row", "_gord", "_chrank")
    out = (
        base.join(extra, on="_row", how="left", maintain_order="left")
        .join(ranks, on="_row", how="left", maintain_order="left")
        .with_columns(
            pl.col("carry_reason").is_null().alias("scheduled"),
            pl.col("carry_reason").is_not_null().alias("carried"),
        )
        .with_columns(
            pl.when(pl.col("agent_id").is_not_null())
            .then(pl.col("_gord").rank("ordinal").over("agent_id").cast(pl.Int64))
            .otherwise(pl.col("_chrank"))
            .alias("rank")
        )
    )
    return out.select(
        *columns,
        "scheduled",
        "agent_id",
        "team_id",
        "carried",
        "rank",
        "carry_reason",
    )
