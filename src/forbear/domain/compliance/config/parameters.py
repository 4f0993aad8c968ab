"""A rule's parameters checked and normalised, and a lender's override checked to only
tighten its pack's rule."""

from __future__ import annotations

import itertools
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError as PydanticValidationError

from forbear.domain import yamltext
from forbear.domain.compliance.config.compiled import Window, _fmt
from forbear.domain.compliance.config.files import (
    _HHMM,
    _HOLD_SCOPES,
    _THIRD_PARTY_CHECKS,
    HolidayConfig,
)
from forbear.domain.compliance.schema import ASSISTANT_QUIET_DEMAND, Channel, HoldKind, Party
from forbear.domain.errors import ConfigurationError

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
    if kind == ASSISTANT_QUIET_DEMAND:
        return {
            "windows": _windows(p, where),
            "reply_within_minutes": _posint(p, "reply_within_minutes", where),
        }
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
    ASSISTANT_QUIET_DEMAND: {
        "start": "window",
        "end": "window",
        "windows": "window",
        "reply_within_minutes": "lower",  # a shorter time counts fewer messages as replies
    },
}
_WINDOWED = frozenset({"quiet_hours", ASSISTANT_QUIET_DEMAND})


def _tighten(
    kind: str, base: dict[str, Any], override: dict[str, Any], where: str
) -> dict[str, Any]:
    allowed = _DIRECTIONS.get(kind, {})
    for key in override:
        if key not in allowed:
            raise ConfigurationError(f"{where}.{key}: unknown parameter for kind {kind}")
    merged_raw: dict[str, Any] = {}
    if kind in _WINDOWED:
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
        for key in ("channels", "reply_within_minutes"):
            if key in base:
                merged_raw[key] = override.get(key, _raw(base[key]))
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
        return yamltext.load(text)
    except yaml.YAMLError as e:
        raise ConfigurationError(f"{source}: not valid YAML ({e})") from e


def _pydantic_reason(e: PydanticValidationError) -> str:
    first = e.errors()[0]
    loc = ".".join(str(x) for x in first["loc"])
    return f"{loc}: {first['msg']}"
