"""The compiled form the gate reads: rules with their windows, per pack and lender."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forbear.domain.compliance.config.files import EVALUATED_KINDS

# --------------------------------------------------------------------------- compiled form


def _fmt(minutes: int) -> str:
    """Minutes after midnight as ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Window:
    """An allowed contact window in local time, ``start`` <= t < ``end`` (minutes of day)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_fmt(self.start)}-{_fmt(self.end)}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a pack with its effective (possibly tightened) parameters."""

    id: str
    kind: str
    params: dict[str, Any]
    source: str
    confidence: str
    zh: str
    en: str
    enabled: bool

    @property
    def evaluated(self) -> bool:
        return self.enabled and self.kind in EVALUATED_KINDS


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """What the gate needs: a pack's rules with the lender's tightenings applied."""

    pack: str
    timezone_default: str
    rules: tuple[Rule, ...]
    complaint_hold: bool = True
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def active(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.evaluated and r.kind == kind]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)
