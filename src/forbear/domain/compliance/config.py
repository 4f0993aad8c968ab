"""Rule packs and lender configuration: load, validate, compile (REGULATIONS.md).

A pack (``packs/CN.yaml``, ``packs/US.yaml``) is data: every rule has an ``id``, a
``kind`` the engine implements once (gate.py), ``params``, ``source``, ``confidence`` and a
Chinese and an English one-line description. A lender's file picks a pack and may only
*tighten* its parameters (narrower hours, lower caps, longer windows, more channels, a
shorter list of lawful sources); anything that loosens a rule, an unknown rule id or
parameter, an invalid time zone or overlapping windows is refused with a
:class:`~forbear.domain.errors.ConfigurationError` naming the file, the key and the reason.

Lender file::

    pack: CN
    timezone_default: Asia/Shanghai
    overrides: {CN.HOURS.QUIET: {end: "21:00"}}
    holidays: {country: CN}      # or null (default): no holiday rule
    complaint_hold: true         # an open complaint holds contact
    enable: [US.MA.2IN7]         # switch on rules the pack ships switched off
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from forbear.domain.compliance.schema import Channel, HoldKind, Party
from forbear.domain.errors import ConfigurationError

EVALUATED_KINDS = frozenset(
    {
        "quiet_hours",
        "cap_unanswered_per_number_per_day",
        "cap_connected_per_debtor_per_day",
        "cap_calls_in_window",
        "hold",
        "third_party_gate",
        "contact_source",
        "agency_notify",
        "agency_scope",
        "assignment_notice",
        "limitation",
        "holidays",
    }
)
# Kinds kept in a pack as documentation: "workflow" (clocks, records, reviews) and "content"
# (enforced by the content filter, content.py), never evaluated by the gate.
DOCUMENTED_KINDS = frozenset({"workflow", "content"})
KINDS = EVALUATED_KINDS | DOCUMENTED_KINDS

Confidence = Literal["V", "V2", "P", "I"]
_CONFIDENCES = {"V", "V2", "P", "I"}
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_THIRD_PARTY_CHECKS = {"lost_contact", "refusal", "no_disclose", "no_demand"}
_HOLD_SCOPES = {"all", "medium", "debtor"}


# --------------------------------------------------------------------------- file models


class RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2}(\.[A-Z0-9_]+)+$")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    source: str
    confidence: str
    zh: str
    en: str
    enabled: bool = True


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack: str
    title: str
    timezone_default: str
    sources: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleEntry]


class HolidayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(min_length=2, max_length=3)
    subdivision: str | None = None


class LenderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str = "CN"
    timezone_default: str | None = None  # null = the pack's
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    holidays: HolidayConfig | None = None
    complaint_hold: bool = True
    enable: list[str] = Field(default_factory=list)


# The default lender: pack CN with contact allowed 08:00-21:00 (REGULATIONS.md, "Open points").
DEFAULT_LENDER = LenderConfig(pack="CN", overrides={"CN.HOURS.QUIET": {"end": "21:00"}})


# --------------------------------------------------------------------------- compiled form


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


# --------------------------------------------------------------------------- loading


def load_pack(name: str) -> PackFile:
    """Read and validate a shipped pack (``CN``, ``US``) from the package data."""
    if not re.fullmatch(r"[A-Z]{2}", name):
        raise ConfigurationError(f"pack {name!r}: unknown pack (expected e.g. CN, US)")
    resource = resources.files("forbear.domain.compliance").joinpath("packs", f"{name}.yaml")
    if not resource.is_file():
        raise ConfigurationError(f"pack {name!r}: unknown pack (no packs/{name}.yaml)")
    return parse_pack(resource.read_text(encoding="utf-8"), source=f"packs/{name}.yaml")


def parse_pack(text: str, source: str) -> PackFile:
    data = _yaml(text, source)
    try:
        pack = PackFile.model_validate(data)
    except PydanticValidationError as e:
        raise ConfigurationError(f"{source}: {_pydantic_reason(e)}") from e
    _check_zone(pack.timezone_default, source, "timezone_default")
    seen: set[str] = set()
    for i, r in enumerate(pack.rules):
        where = f"{source}: rules[{i}] ({r.id})"
        if r.id in seen:
            raise ConfigurationError(f"{where}: duplicate rule id")
        seen.add(r.id)
        if r.kind not in KINDS:
            raise ConfigurationError(f"{where}.kind: unknown kind {r.kind!r}")
        if not all(c.strip() in _CONFIDENCES for c in r.confidence.split("/")):
            raise ConfigurationError(f"{where}.confidence: {r.confidence!r} is not V/V2/P/I")
        _normalise(r.kind, r.params, f"{where}.params", source_only=True)
    return pack


def parse_lender(text: str, source: str = "lender.yaml") -> LenderConfig:
    """Validate a lender file's text (the caller reads the file; ``source`` names it)."""
    data = _yaml(text, source)
    try:
        return LenderConfig.model_validate(data or {})
    except PydanticValidationError as e:
        raise ConfigurationError(f"{source}: {_pydantic_reason(e)}") from e


def compile_config(
    pack: PackFile, lender: LenderConfig = DEFAULT_LENDER, source: str = "lender.yaml"
) -> CompiledRules:
    """Apply the lender's tightenings to the pack; refuse anything that loosens it."""
    if lender.pack != pack.pack:
        raise ConfigurationError(
            f"{source}: pack: {lender.pack} does not match the loaded pack {pack.pack}"
        )
    zone = lender.timezone_default or pack.timezone_default
    _check_zone(zone, source, "timezone_default")
    by_id = {r.id: r for r in pack.rules}
    for rid in [*lender.overrides, *lender.enable]:
        if rid not in by_id:
            raise ConfigurationError(
                f"{source}: overrides.{rid}: unknown rule id in pack {pack.pack}"
            )
    rules: list[Rule] = []
    for entry in pack.rules:
        base = _normalise(entry.kind, entry.params, f"packs/{pack.pack}.yaml: {entry.id}", True)
        enabled = entry.enabled or entry.id in lender.enable
        params = dict(base)
        override = dict(lender.overrides.get(entry.id, {}))
        if "enabled" in override:
            flag = override.pop("enabled")
            if flag is False and entry.enabled:
                raise ConfigurationError(
                    f"{source}: overrides.{entry.id}.enabled: false would switch off a pack "
                    "rule (may only tighten)"
                )
            enabled = enabled or bool(flag)
        if override:
            if entry.kind in DOCUMENTED_KINDS:
                raise ConfigurationError(
                    f"{source}: overrides.{entry.id}: a {entry.kind} rule has no parameters "
                    "the gate evaluates"
                )
            params = _tighten(entry.kind, base, override, f"{source}: overrides.{entry.id}")
        if entry.kind == "holidays":
            enabled = enabled or lender.holidays is not None
        rules.append(
            Rule(
                id=entry.id,
                kind=entry.kind,
                params=params,
                source=entry.source,
                confidence=entry.confidence,
                zh=entry.zh,
                en=entry.en,
                enabled=enabled,
            )
        )
    if lender.holidays is not None:
        _check_country(lender.holidays, source)
    return CompiledRules(
        pack=pack.pack,
        timezone_default=zone,
        rules=tuple(rules),
        complaint_hold=lender.complaint_hold,
        holiday_country=lender.holidays.country if lender.holidays else None,
        holiday_subdivision=lender.holidays.subdivision if lender.holidays else None,
        sources=dict(pack.sources),
    )


def default_rules(pack: str = "CN") -> CompiledRules:
    """The pack with the default lender configuration (CN: contact 08:00-21:00)."""
    lender = DEFAULT_LENDER if pack == "CN" else LenderConfig(pack=pack)
    return compile_config(load_pack(pack), lender)


# --------------------------------------------------------------------------- parameters


def _normalise(kind: str, raw: dict[str, Any], where: str, source_only: bool) -> dict[str, Any]:
    """Validate a kind's parameters and return them in compiled form."""
    p = dict(raw)
    if kind == "quiet_hours":
        windows = _windows(p, where)
        return {"windows": windows, "channels": _channels(p.get("channels", []), where)}
    if kind == "cap_unanswered_per_number_per_day":
        return {
            "max_attempts": _posint(p, "max_attempts", where),
            "channels": _channels(p.get("channels", []), where),
        }
    if kind == "cap_connected_per_debtor_per_day":
        return {
            "max_connected": _posint(p, "max_connected", where),
            "channels": _channels(p.get("channels", []), where),
        }
    if kind == "cap_calls_in_window":
        return {
            "max_attempts": _posint(p, "max_attempts", where),
            "window_days": _posint(p, "window_days", where),
            "channels": _channels(p.get("channels", []), where),
            "after_conversation_days": _posint(p, "after_conversation_days", where, zero=True),
        }
    if kind == "hold":
        blocks = p.get("blocks")
        if not isinstance(blocks, dict):
            raise ConfigurationError(f"{where}.blocks: a mapping hold kind -> channels is needed")
        out: dict[str, str | frozenset[Channel]] = {}
        for k, v in blocks.items():
            if k not in {h.value for h in HoldKind}:
                raise ConfigurationError(f"{where}.blocks.{k}: unknown hold kind")
            if isinstance(v, str):
                if v not in _HOLD_SCOPES:
                    raise ConfigurationError(f"{where}.blocks.{k}: {v!r} is not all/medium/debtor")
                out[k] = v
            else:
                out[k] = _channels(v, f"{where}.blocks.{k}")
        return {"blocks": out}
    if kind == "third_party_gate":
        check = p.get("check")
        if check not in _THIRD_PARTY_CHECKS:
            raise ConfigurationError(
                f"{where}.check: {check!r} is not one of {sorted(_THIRD_PARTY_CHECKS)}"
            )
        parties = p.get("parties", [])
        bad = [x for x in parties if x not in {q.value for q in Party}]
        if bad or not parties:
            raise ConfigurationError(f"{where}.parties: unknown or empty parties {bad}")
        out2: dict[str, Any] = {"check": check, "parties": frozenset(parties)}
        if check == "lost_contact":
            out2["consecutive_failures"] = _posint(p, "consecutive_failures", where)
        return out2
    if kind == "contact_source":
        lawful = p.get("lawful")
        if not isinstance(lawful, list) or not all(isinstance(x, str) for x in lawful):
            raise ConfigurationError(f"{where}.lawful: a list of provenances is needed")
        return {"lawful": frozenset(lawful)}
    if kind == "limitation":
        return {"years": _posint(p, "years", where)}
    if kind == "holidays":
        return {"channels": _channels(p.get("channels", []), where)}
    return p  # agency_notify, agency_scope, assignment_notice, workflow, content: no checks


# direction of each parameter a lender may override: how "tighter" is judged
_DIRECTIONS: dict[str, dict[str, str]] = {
    "quiet_hours": {
        "start": "window",
        "end": "window",
        "windows": "window",
        "channels": "superset",
    },
    "cap_unanswered_per_number_per_day": {"max_attempts": "lower", "channels": "superset"},
    "cap_connected_per_debtor_per_day": {"max_connected": "lower", "channels": "superset"},
    "cap_calls_in_window": {
        "max_attempts": "lower",
        "window_days": "higher",
        "after_conversation_days": "higher",
        "channels": "superset",
    },
    "hold": {"blocks": "blocks"},
    "third_party_gate": {"parties": "superset", "consecutive_failures": "higher"},
    "contact_source": {"lawful": "subset"},
    "limitation": {"years": "lower"},  # a shorter period blocks demands sooner
    "holidays": {"channels": "superset"},
}


def _tighten(
    kind: str, base: dict[str, Any], override: dict[str, Any], where: str
) -> dict[str, Any]:
    allowed = _DIRECTIONS.get(kind, {})
    for key in override:
        if key not in allowed:
            raise ConfigurationError(f"{where}.{key}: unknown parameter for kind {kind}")
    merged_raw: dict[str, Any] = {}
    if kind == "quiet_hours":
        # windows: either `windows` or `start`/`end` (each defaulting to the pack's single window)
        if "windows" in override and ({"start", "end"} & override.keys()):
            raise ConfigurationError(f"{where}: give either windows or start/end, not both")
        if "windows" in override:
            merged_raw["windows"] = override["windows"]
        else:
            first, last = base["windows"][0], base["windows"][-1]
            merged_raw["start"] = override.get("start", _fmt(first.start))
            merged_raw["end"] = override.get("end", _fmt(last.end))
            if len(base["windows"]) > 1 and not ({"start", "end"} & override.keys()):
                merged_raw = {"windows": [str(w) for w in base["windows"]]}
        merged_raw["channels"] = override.get("channels", sorted(base["channels"]))
    else:
        merged_raw = {k: _raw(v) for k, v in base.items()}
        merged_raw.update(override)
    new = _normalise(kind, merged_raw, where, source_only=False)
    for key in override:
        direction = allowed[key]
        if direction == "window":
            _check_windows_within(new["windows"], base["windows"], override, where)
        elif direction == "lower" and new[key] > base[key]:
            raise ConfigurationError(
                f"{where}.{key}: {new[key]} is more than the pack's {base[key]} (may only tighten)"
            )
        elif direction == "higher" and new[key] < base[key]:
            raise ConfigurationError(
                f"{where}.{key}: {new[key]} is less than the pack's {base[key]} (may only tighten)"
            )
        elif direction == "superset" and not new[key] >= base[key]:
            missing = sorted(str(x) for x in base[key] - new[key])
            raise ConfigurationError(
                f"{where}.{key}: drops {missing} from the pack's list (may only tighten)"
            )
        elif direction == "subset" and not new[key] <= base[key]:
            extra = sorted(str(x) for x in new[key] - base[key])
            raise ConfigurationError(
                f"{where}.{key}: adds {extra} to the pack's list (may only tighten)"
            )
        elif direction == "blocks":
            for hk, scope in base["blocks"].items():
                if hk not in new["blocks"] or not _covers(new["blocks"][hk], scope):
                    raise ConfigurationError(
                        f"{where}.blocks.{hk}: blocks less than the pack's {_raw(scope)} "
                        "(may only tighten)"
                    )
    return new


def _covers(new: str | frozenset[Channel], old: str | frozenset[Channel]) -> bool:
    if new == "all":
        return True
    if isinstance(new, frozenset) and isinstance(old, frozenset):
        return new >= old
    return new == old


def _check_windows_within(
    new: list[Window], base: list[Window], override: dict[str, Any], where: str
) -> None:
    for w in new:
        if any(b.start <= w.start and w.end <= b.end for b in base):
            continue
        if "start" in override and all(w.start < b.start for b in base):
            raise ConfigurationError(
                f"{where}.start: {_show(override['start'])} is earlier than the pack's "
                f"{_fmt(base[0].start)} (may only tighten)"
            )
        if "end" in override:
            raise ConfigurationError(
                f"{where}.end: {_show(override['end'])} is later than the pack's "
                f"{_fmt(base[-1].end)} (may only tighten)"
            )
        raise ConfigurationError(
            f"{where}.windows: {w} is outside the pack's {', '.join(map(str, base))} "
            "(may only tighten)"
        )


def _windows(p: dict[str, Any], where: str) -> list[Window]:
    if "windows" in p:
        raw = p["windows"]
        if not isinstance(raw, list) or not raw:
            raise ConfigurationError(
                f"{where}.windows: a non-empty list of 'HH:MM-HH:MM' is needed"
            )
        pairs: list[tuple[Any, Any, str]] = []
        for i, w in enumerate(raw):
            parts = str(w).split("-")
            if len(parts) != 2:
                raise ConfigurationError(f"{where}.windows[{i}]: {w!r} is not 'HH:MM-HH:MM'")
            pairs.append((parts[0].strip(), parts[1].strip(), f"{where}.windows[{i}]"))
    else:
        if "start" not in p or "end" not in p:
            raise ConfigurationError(f"{where}: start and end (local HH:MM) are needed")
        pairs = [(p["start"], p["end"], where)]
    out: list[Window] = []
    for s, e, w in pairs:
        a, b = (
            _minutes(s, f"{w}.start" if w == where else w),
            _minutes(e, f"{w}.end" if w == where else w),
        )
        if a >= b:
            raise ConfigurationError(
                f"{w}: start {_show(s)} is not before end {_show(e)} (an invalid window)"
            )
        out.append(Window(a, b))
    out.sort(key=lambda x: x.start)
    for x, y in itertools.pairwise(out):
        if y.start < x.end:
            raise ConfigurationError(f"{where}.windows: {x} and {y} overlap")
    return out


def _minutes(value: Any, where: str) -> int:
    # YAML 1.1 reads an unquoted 21:00 as the base-60 integer 1260, which is its minute of day
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        return value
    if isinstance(value, time):
        return value.hour * 60 + value.minute
    m = _HHMM.match(str(value))
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ConfigurationError(f"{where}: {value!r} is not a local time HH:MM")
    return int(m.group(1)) * 60 + int(m.group(2))


def _show(value: Any) -> str:
    return _fmt(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _channels(value: Any, where: str) -> frozenset[Channel]:
    if not isinstance(value, list | tuple | frozenset | set) or not value:
        raise ConfigurationError(f"{where}.channels: a non-empty list of channels is needed")
    try:
        return frozenset(Channel(str(v)) for v in value)
    except ValueError as e:
        raise ConfigurationError(f"{where}.channels: {e}") from e


def _posint(p: dict[str, Any], key: str, where: str, zero: bool = False) -> int:
    v = p.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < (0 if zero else 1):
        raise ConfigurationError(
            f"{where}.{key}: {v!r} is not a {'non-negative' if zero else 'positive'} integer"
        )
    return v


def _raw(v: Any) -> Any:
    if isinstance(v, frozenset):
        return sorted(str(x) for x in v)
    if isinstance(v, list) and v and isinstance(v[0], Window):
        return [str(w) for w in v]
    if isinstance(v, dict):
        return {k: _raw(x) for k, x in v.items()}
    return v


def _check_zone(zone: str, source: str, key: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigurationError(f"{source}: {key}: {zone!r} is not an IANA time zone") from e


def _check_country(h: HolidayConfig, source: str) -> None:
    try:
        import holidays as hol
    except ImportError as e:  # pragma: no cover - an install problem, not a config one
        raise ConfigurationError(
            f"{source}: holidays: the 'holidays' package is not installed"
        ) from e
    if h.country not in hol.list_supported_countries():
        raise ConfigurationError(
            f"{source}: holidays.country: {h.country!r} is not a supported country"
        )


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigurationError(f"{source}: not valid YAML ({e})") from e


def _pydantic_reason(e: PydanticValidationError) -> str:
    first = e.errors()[0]
    loc = ".".join(str(x) for x in first["loc"])
    return f"{loc}: {first['msg']}"
