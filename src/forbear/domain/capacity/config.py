"""The capacity file: agents, teams and channel limits (``capacity_default.yaml`` by default),
validated with the line of each problem."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from forbear.domain import yamltext
from forbear.domain.capacity.vocabulary import DEFAULT_RESOURCE, Channel
from forbear.domain.errors import ConfigurationError

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
        data = yamltext.load(text)
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
        node: Any = yamltext.compose(text)
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
