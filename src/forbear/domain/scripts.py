"""Suggested script lines (话术建议) for the account a collector is working.

The lines live in ``scripts_CN.yaml`` (Chinese first, with English): short, friendly,
lawful sentences chosen by the account's situation (bucket, the daily run's segment, a
hardship hold, promises broken in the last 90 days, an open promise or plan). Pure: the
caller gathers the :class:`Situation`; :func:`suggest` picks the lines in file order.
Every line passes the compliance content filter (a test checks each one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from forbear.domain.errors import ConfigurationError

SCRIPTS_RESOURCE = "scripts_CN.yaml"
PURPOSES = ("opening", "reminder", "negotiate", "promise", "plan", "hardship", "closing", "locate")
# Lines said to a third party in a location contact (issue 17, CN.3P.NO_DISCLOSE): never
# suggested for the debtor's own calls; :func:`locate_script` gives them.
LOCATE = "locate"
_WHEN_KEYS = frozenset(
    {"buckets", "segments", "hardship", "broken_promises_min", "open_promise", "open_plan"}
)


@dataclass(frozen=True, slots=True)
class Situation:
    """What the lines are chosen by; every field is optional knowledge."""

    bucket: str | None = None
    segment: str | None = None
    hardship: bool = False
    broken_promises_90d: int = 0
    open_promise: bool = False
    open_plan: bool = False


@dataclass(frozen=True, slots=True)
class ScriptLine:
    id: str
    purpose: str
    zh: str
    en: str
    when: dict[str, Any]

    def matches(self, s: Situation) -> bool:
        w = self.when
        if "buckets" in w and s.bucket not in w["buckets"]:
            return False
        if "segments" in w and s.segment not in w["segments"]:
            return False
        if "hardship" in w and bool(w["hardship"]) != s.hardship:
            return False
        if "broken_promises_min" in w and s.broken_promises_90d < int(w["broken_promises_min"]):
            return False
        if "open_promise" in w and bool(w["open_promise"]) != s.open_promise:
            return False
        return not ("open_plan" in w and bool(w["open_plan"]) != s.open_plan)

    def text(self, lang: str, lender: str) -> str:
        return (self.en if lang == "en" else self.zh).replace("{lender}", lender)


def parse_scripts(text: str, *, source: str = SCRIPTS_RESOURCE) -> tuple[ScriptLine, ...]:
    """Validate a scripts file; refuses with :class:`ConfigurationError` naming the line."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("lines"), list):
        raise ConfigurationError(f"{source}: expected a mapping with a list 'lines'")
    out: list[ScriptLine] = []
    seen: set[str] = set()
    for n, item in enumerate(raw["lines"], 1):
        where = f"{source}: line entry {n}"
        if not isinstance(item, dict):
            raise ConfigurationError(f"{where}: expected a mapping")
        ident, purpose = item.get("id"), item.get("purpose")
        zh, en, when = item.get("zh"), item.get("en"), item.get("when") or {}
        if not isinstance(ident, str) or not ident or ident in seen:
            raise ConfigurationError(f"{where}: a unique 'id' is required")
        if purpose not in PURPOSES:
            raise ConfigurationError(f"{where} ({ident}): purpose one of {', '.join(PURPOSES)}")
        if not isinstance(zh, str) or not zh.strip() or not isinstance(en, str) or not en.strip():
            raise ConfigurationError(f"{where} ({ident}): both 'zh' and 'en' are required")
        if not isinstance(when, dict) or not set(when) <= _WHEN_KEYS:
            raise ConfigurationError(
                f"{where} ({ident}): 'when' keys are {', '.join(sorted(_WHEN_KEYS))}"
            )
        seen.add(ident)
        out.append(ScriptLine(ident, str(purpose), zh.strip(), en.strip(), dict(when)))
    return tuple(out)


@cache
def default_scripts() -> tuple[ScriptLine, ...]:
    text = resources.files("forbear.domain").joinpath(SCRIPTS_RESOURCE).read_text("utf-8")
    return parse_scripts(text)


def locate_script(lines: tuple[ScriptLine, ...] | None = None) -> list[ScriptLine]:
    """The no-disclosure script of a location contact with a third party, in file order:
    ask that the debtor call back, say nothing of the debt (CN.3P.NO_DISCLOSE), accept a
    refusal at once (CN.3P.REFUSAL)."""
    return [line for line in (lines or default_scripts()) if line.purpose == LOCATE]


def suggest(situation: Situation, lines: tuple[ScriptLine, ...] | None = None) -> list[ScriptLine]:
    """The lines for ``situation``, in file order (opening first, closing last); the
    location script is not among them (it is said to third parties, not to the debtor)."""
    chosen = [
        line
        for line in (lines or default_scripts())
        if line.purpose != LOCATE and line.matches(situation)
    ]
    order = {p: i for i, p in enumerate(PURPOSES)}
    return sorted(chosen, key=lambda line: order[line.purpose])
