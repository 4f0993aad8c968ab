"""The simulator's parameter file: one versioned YAML file, every value with its range and
source (``parameters.yaml`` beside this module is the shipped one; docs/simulation.md).

Each entry of ``parameters:`` is ``{value, range: [low, high], kind, source}``:

- ``kind``: ``probability`` (value and range within [0, 1]), ``log_odds`` (an additive
  term on the logit scale), ``days`` or ``count`` (not negative);
- ``source``: ``published: <citation> ...``, ``calibrated (<db>, <dates>, n=<cases>)`` or
  ``assumption: <why>`` - an entry without one is refused.

The set of names is fixed by the model (:data:`NAMES`): a file that misses one, or names
one the model does not know, is refused, as are unknown fields, values outside [0, 1] for
probabilities and ranges that do not contain the value. Every refusal is a
:class:`ParameterError` naming the file, the key and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from forbear.domain.errors import ConfigurationError

DEFAULT_PATH = Path(__file__).with_name("parameters.yaml")

TIERS = ("A", "B", "C", "D", "E")
TONES = ("reminder", "education", "plan_offer", "firm_notice", "legal_review")
EFFECT_CHANNELS = ("call", "ai_call", "sms", "app_push", "email", "letter", "visit", "im")
KINDS = ("probability", "log_odds", "days", "count")
SOURCE_PREFIXES = ("published:", "calibrated (", "assumption:")
ENTRY_FIELDS = frozenset({"value", "range", "kind", "source"})
TOP_FIELDS = frozenset({"version", "parameters"})

# Every parameter the model reads, with the kind it must have.
NAMES: dict[str, str] = {
    **{f"miss.{t}": "probability" for t in TIERS},
    **{
        f"pay.{band}": "probability"
        for band in ("dpd_1_7", "dpd_8_30", "dpd_31_60", "dpd_61_90", "dpd_91_plus")
    },
    **{f"pay.tier.{t}": "log_odds" for t in TIERS},
    "pay.propensity": "log_odds",
    "pay.full_share": "probability",
    "pay.partial_fraction": "probability",
    **{f"effect.tone.{t}": "log_odds" for t in TONES},
    **{f"effect.channel.{c}": "count" for c in EFFECT_CHANNELS},
    "effect.half_life_days": "days",
    "effect.max": "log_odds",
    "effect.fatigue": "log_odds",
    "fatigue.threshold": "count",
    "answer.base": "probability",
    "answer.stopped": "probability",
    "answer.pressure": "log_odds",
    "promise.base": "probability",
    "promise.firm": "log_odds",
    **{f"promise.keep.{t}": "probability" for t in TIERS},
    "promise.firm_keep": "log_odds",
    "promise.days": "days",
    "plan.accept": "probability",
    "plan.hardship": "log_odds",
    "plan.keep_monthly": "probability",
    "plan.months": "count",
    "complaint.base": "probability",
    **{f"complaint.tone.{t}": "log_odds" for t in TONES},
    "complaint.voice": "log_odds",
    "complaint.visit": "log_odds",
    "complaint.pressure": "log_odds",
    "complaint.third_party": "log_odds",
    "complaint.off_hours": "log_odds",
    "complaint.broken_promises": "log_odds",
    "complaint.prior": "log_odds",
    "complaint.hold_days": "days",
    "opt_out.base": "probability",
    "opt_out.pressure": "log_odds",
    "opt_out.harsh": "log_odds",
    "stop.base": "probability",
    "stop.pressure": "log_odds",
    "stop.harsh": "log_odds",
    "stop.third_party": "log_odds",
    "stop.effect_scale": "probability",
}


class ParameterError(ConfigurationError):
    """A parameter file (or a value given for one) is unusable: ``file``, ``key`` and
    ``reason`` say where and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Parameter:
    value: float
    low: float
    high: float
    kind: str
    source: str


@dataclass(frozen=True)
class Parameters:
    """A validated parameter set. ``values[name]`` is what the model reads."""

    version: str
    entries: Mapping[str, Parameter]
    origin: str = "<memory>"
    values: Mapping[str, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", {k: e.value for k, e in self.entries.items()})

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Each parameter's stated range, for sensitivity analyses."""
        return {k: (e.low, e.high) for k, e in self.entries.items()}

    def sources(self) -> dict[str, str]:
        return {k: e.source for k, e in self.entries.items()}

    def with_values(self, values: Mapping[str, float], *, source: str | None = None) -> Parameters:
        """A copy with ``values`` replacing the named parameters (each must exist and lie
        within its kind's bounds; it need not lie within the stated range, but the range
        widens to hold it). ``source`` replaces the changed entries' sources."""
        entries = dict(self.entries)
        for name, value in values.items():
            if name not in entries:
                raise ParameterError(self.origin, name, "not a parameter of the model")
            entry = entries[name]
            v = float(value)
            _check_value(self.origin, name, entry.kind, v)
            entries[name] = replace(
                entry,
                value=v,
                low=min(entry.low, v),
                high=max(entry.high, v),
                source=source if source is not None else entry.source,
            )
        return Parameters(version=self.version, entries=entries, origin=self.origin)

    def to_yaml(self) -> str:
        """The file form (:func:`load_parameters` reads it back)."""
        lines = [
            "# The borrower behaviour simulator's parameters (docs/simulation.md).",
            f"version: {_quote(self.version)}",
            "",
            "parameters:",
        ]
        for name, e in self.entries.items():
            lines.append(
                f"  {name}: {{value: {_num(e.value)}, range: [{_num(e.low)}, {_num(e.high)}],"
                f" kind: {e.kind}, source: {_quote(e.source)}}}"
            )
        return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return repr(round(float(x), 10))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_value(file: str, key: str, kind: str, value: float) -> None:
    if not math.isfinite(value):
        raise ParameterError(file, key, f"value is not a finite number: {value!r}")
    if kind == "probability" and not 0.0 <= value <= 1.0:
        raise ParameterError(file, key, f"a probability must lie in [0, 1], got {value}")
    if kind in ("days", "count") and value < 0:
        raise ParameterError(file, key, f"a {kind} value cannot be negative, got {value}")


def _number(file: str, key: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ParameterError(file, key, f"not a number: {raw!r}")
    return float(raw)


def parse_parameters(data: Any, file: str) -> Parameters:
    """A :class:`Parameters` from a parsed YAML document; refuses what the module
    docstring lists."""
    if not isinstance(data, dict):
        raise ParameterError(
            file, "<top>", "the file must be a mapping with version and parameters"
        )
    unknown = sorted(set(map(str, data)) - TOP_FIELDS)
    if unknown:
        raise ParameterError(file, unknown[0], "unknown field (allowed: version, parameters)")
    version = data.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise ParameterError(file, "version", "missing: every parameter file has a version")
    raw = data.get("parameters")
    if not isinstance(raw, dict) or not raw:
        raise ParameterError(file, "parameters", "missing or not a mapping of parameters")
    entries: dict[str, Parameter] = {}
    for name, entry in raw.items():
        key = f"parameters.{name}"
        if name not in NAMES:
            raise ParameterError(file, key, "unknown parameter (not read by the model)")
        if not isinstance(entry, dict):
            raise ParameterError(file, key, "must be a mapping {value, range, kind, source}")
        extra = sorted(set(map(str, entry)) - ENTRY_FIELDS)
        if extra:
            raise ParameterError(
                file, f"{key}.{extra[0]}", "unknown field (allowed: value, range, kind, source)"
            )
        for needed in ("value", "range", "kind", "source"):
            if entry.get(needed) is None:
                raise ParameterError(file, f"{key}.{needed}", "missing")
        source = entry["source"]
        if not isinstance(source, str) or not source.strip():
            raise ParameterError(file, f"{key}.source", "missing: every parameter needs a source")
        if not source.strip().startswith(SOURCE_PREFIXES):
            raise ParameterError(
                file,
                f"{key}.source",
                "must start with 'published:', 'calibrated (' or 'assumption:'",
            )
        kind = entry["kind"]
        if kind != NAMES[name]:
            raise ParameterError(file, f"{key}.kind", f"must be {NAMES[name]}, got {kind!r}")
        value = _number(file, f"{key}.value", entry["value"])
        _check_value(file, f"{key}.value", kind, value)
        rng = entry["range"]
        if not isinstance(rng, list) or len(rng) != 2:
            raise ParameterError(file, f"{key}.range", "must be [low, high]")
        low = _number(file, f"{key}.range", rng[0])
        high = _number(file, f"{key}.range", rng[1])
        _check_value(file, f"{key}.range", kind, low)
        _check_value(file, f"{key}.range", kind, high)
        if not low <= value <= high:
            raise ParameterError(
                file, f"{key}.range", f"[{low}, {high}] does not contain the value {value}"
            )
        entries[name] = Parameter(value, low, high, kind, source.strip())
    missing = [n for n in NAMES if n not in entries]
    if missing:
        raise ParameterError(file, f"parameters.{missing[0]}", "missing (the model reads it)")
    return Parameters(version=str(version), entries=entries, origin=file)


def load_parameters(path: Path | None = None) -> Parameters:
    """The parameter file at ``path`` (default: the shipped ``parameters.yaml``)."""
    path = path or DEFAULT_PATH
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(file, "<file>", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(file, "<file>", f"cannot be read ({type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<file>"
        raise ParameterError(file, where, "not valid YAML") from None
    return parse_parameters(data, file)
