"""Capacity: fit the day's planned contacts to channel limits and agent teams (daily run, step 5).

Pure Polars and numpy: no I/O, no clock. The caller hands in the day's candidate actions
(after the compliance gate), a :class:`CapacityConfig` and yesterday's loan → agent
assignments; :func:`allocate` answers, for every row, whether it is scheduled today and
by whom, or carried to tomorrow (with its priority; the caller raises ``carried_days``).

Ordering
--------
Within a channel, actions are taken in the order

    priority desc, age class desc, expected_recovery per unit desc, carried_days desc,
    loan_id, action_id

where ``age class = min(carried_days, carry_aging_cap_days)``. With the default cap of 1
an item carried from yesterday comes before today's new items *of the same priority*
(it never jumps a priority level), and among items of the same age the higher value
density wins. Raising the cap makes the order closer to first-in-first-out within a
priority; 0 switches aging off (pure value density). Every action costs one unit of its
channel's (or its agent's) capacity, so value per unit of capacity is
``expected_recovery`` itself.

Why greedy
----------
Assigning actions to agents to maximise recovered value under per-agent capacities,
skills and languages is a transportation problem (an LP, integral because the matrix is
totally unimodular). With unit costs, taking the actions in value-density order inside
each eligibility pool (channel, skill, language) is exactly optimal for one pool; across
pools that share agents, greedy by density is the classic 1/2-approximation for
b-matching and in practice close to optimal because pools are large and agents are
mostly generalists. It runs in O(n log n) with a loop over priority tiers × pools (tens
to hundreds), never over actions, and it is deterministic (identical decisions on the
local and the Spark engine). To keep scarce specialists for the pools that need them,
pools of one tier are served from the most constrained (least eligible remaining
capacity) to the least.

Agent work
----------
``call``, ``visit`` and ``legal_review`` need an agent whose ``skills`` hold the
action's ``skill``, whose ``langs`` hold its ``lang`` and whose ``channels`` hold its
channel. A borrower gets at most one agent contact (``call`` or ``visit``) a day and at
most one ``legal_review`` (a file review, not a contact, so it does not compete with a
call): the first in the order above is kept, the others are carried
(``duplicate_borrower``). For each tier (priority, age
class) and pool, the top ``K`` actions are selected, ``K`` = min(pool size, the
eligible agents' remaining capacity, the channel's remaining limit); then

1. continuity: a selected action whose loan's previous agent is eligible and still has
   capacity goes to that agent (a per-agent cumulative count caps it);
2. the rest go greedily to the eligible agent with the most remaining capacity (ties by
   agent id). This is computed without a loop over actions: the greedy's picks are the
   agents' capacity "slots" ``(agent, remaining value)`` sorted by value desc, agent id.

Continuity is therefore broken only when the previous agent lacks the skill, language or
channel, or is already full (possibly filled by a higher tier or an earlier pool).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from forbear.domain.errors import ConfigurationError, ValidationError

Channel = Literal["sms", "email", "app_push", "ai_call", "call", "letter", "visit", "legal_review"]

CHANNELS: tuple[Channel, ...] = (
    "sms",
    "email",
    "app_push",
    "ai_call",
    "call",
    "letter",
    "visit",
    "legal_review",
)
AGENT_CHANNELS: frozenset[str] = frozenset({"call", "visit", "legal_review"})
CONTACT_CHANNELS: frozenset[str] = frozenset({"call", "visit"})  # one a day per borrower
AUTOMATED_CHANNELS: frozenset[str] = frozenset(CHANNELS) - AGENT_CHANNELS

DEFAULT_RESOURCE = "capacity_default.yaml"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "action_id",
    "loan_id",
    "borrower_id",
    "channel",
    "lang",
    "skill",
    "priority",
    "expected_recovery",
    "carried_days",
)

# carry_reason values (null when scheduled)
CHANNEL_LIMIT = "channel_limit"
AGENT_CAPACITY = "agent_capacity"
NO_ELIGIBLE_AGENT = "no_eligible_agent"
DUPLICATE_BORROWER = "duplicate_borrower"
_REASONS: tuple[str, ...] = (CHANNEL_LIMIT, AGENT_CAPACITY, NO_ELIGIBLE_AGENT, DUPLICATE_BORROWER)
_R_NONE, _R_CHANNEL, _R_AGENT, _R_NOELIG, _R_DUP = -1, 0, 1, 2, 3


# --------------------------------------------------------------------------- config


class Agent(BaseModel):
    """One agent: daily task capacity, skills, languages and the agent channels worked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    calls_per_day: int = Field(ge=0)
    skills: frozenset[str]
    langs: frozenset[str]
    channels: frozenset[Literal["call", "visit", "legal_review"]] = frozenset(
        {"call", "visit", "legal_review"}
    )

    @field_validator("skills", "langs", "channels")
    @classmethod
    def _not_empty(cls, value: frozenset[str]) -> frozenset[str]:
        if not value:
            raise ValueError("must name at least one")
        return value


class Team(BaseModel):
    """A team of agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    agents: tuple[Agent, ...]


class CapacityConfig(BaseModel):
    """Daily limits per channel (a channel not listed has no limit) and agent teams."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[Channel, int] = Field(default_factory=dict)
    teams: tuple[Team, ...] = ()
    carry_aging_cap_days: int = Field(default=1, ge=0)

    @field_validator("channels")
    @classmethod
    def _limits_not_negative(cls, value: dict[Channel, int]) -> dict[Channel, int]:
        for channel, limit in value.items():
            if limit < 0:
                raise ValueError(f"limit for {channel!r} is negative ({limit})")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> CapacityConfig:
        _no_duplicates("team id", (team.id for team in self.teams))
        _no_duplicates("agent id", (agent.id for team in self.teams for agent in team.agents))
        return self

    def limit(self, channel: str) -> int | None:
        """The channel's daily limit, or ``None`` when it has none."""
        return self.channels.get(channel)  # type: ignore[call-overload, no-any-return]


def _no_duplicates(what: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"duplicate {what} {ident!r}")
        seen.add(ident)


def load_capacity(text: str, source: str) -> CapacityConfig:
    """Validate a capacity file; errors name ``source``, the key and (when known) the line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: expected a mapping at the top level")
    try:
        return CapacityConfig.model_validate(data)
    except PydanticError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = _key_path(loc) or "(top level)"
            line = _line_of(text, loc)
            where = f"{source}:{line}" if line is not None else source
            problems.append(f"{where}: {key}: {err['msg']}")
        raise ConfigurationError("; ".join(problems)) from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("[key]",):
            out += f".{part}" if out else str(part)
    return out


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest YAML node on ``loc`` (best effort)."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for part in loc:
        if node is None:
            break
        line = int(node.start_mark.line) + 1
        nxt: Any = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    nxt = value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
        node = nxt
    if node is not None:
        line = int(node.start_mark.line) + 1
    return line


@cache
def default_capacity() -> CapacityConfig:
    """The configuration shipped in ``forbear/domain/capacity_default.yaml``."""
    text = resources.files("forbear.domain").joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return load_capacity(text, DEFAULT_RESOURCE)


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
