"""Loading a pack, parsing a lender's configuration and compiling the two."""

from __future__ import annotations

import functools
import re
from importlib import resources

from pydantic import ValidationError as PydanticValidationError

from forbear.domain.compliance.config.compiled import CompiledRules, Rule
from forbear.domain.compliance.config.files import (
    _CONFIDENCES,
    DEFAULT_LENDER,
    DOCUMENTED_KINDS,
    KINDS,
    LenderConfig,
    PackFile,
)
from forbear.domain.compliance.config.parameters import (
    _check_country,
    _check_zone,
    _normalise,
    _pydantic_reason,
    _tighten,
    _yaml,
)
from forbear.domain.compliance.config.wording import effective_text, narrower
from forbear.domain.compliance.schema import ASSISTANT_QUIET_DEMAND
from forbear.domain.errors import ConfigurationError

# --------------------------------------------------------------------------- loading


def load_pack(name: str) -> PackFile:
    """Read and validate a shipped pack (``CN``, ``US``) from the package data. The
    packaged file is parsed once per process (about 12 ms of YAML and validation, which
    every borrower-situation read and every gate call paid); each caller gets its own copy."""
    return _shipped_pack(name).model_copy(deep=True)


@functools.cache
def _shipped_pack(name: str) -> PackFile:
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
        told = params
        if entry.kind == ASSISTANT_QUIET_DEMAND:
            # judged in the narrower of its windows and the quiet hours' (told so too)
            for hours in rules:
                if hours.kind == "quiet_hours" and hours.enabled:
                    told = {
                        **params,
                        "windows": narrower(params["windows"], hours.params["windows"]),
                    }
        rules.append(
            Rule(
                id=entry.id,
                kind=entry.kind,
                params=params,
                source=entry.source,
                confidence=entry.confidence,
                # the text with the effective numbers (a lender's 21:00, not the pack's 22:00)
                zh=effective_text(entry.kind, entry.zh, base, told, "zh"),
                en=effective_text(entry.kind, entry.en, base, told, "en"),
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
