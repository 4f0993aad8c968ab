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

from forbear.domain.compliance.config.compiled import CompiledRules, Rule, Window
from forbear.domain.compliance.config.files import (
    DEFAULT_LENDER,
    DOCUMENTED_KINDS,
    EVALUATED_KINDS,
    KINDS,
    Confidence,
    HolidayConfig,
    LenderConfig,
    PackFile,
    RuleEntry,
)
from forbear.domain.compliance.config.loading import (
    compile_config,
    default_rules,
    load_pack,
    parse_lender,
    parse_pack,
)

__all__ = [
    "DEFAULT_LENDER",
    "DOCUMENTED_KINDS",
    "EVALUATED_KINDS",
    "KINDS",
    "CompiledRules",
    "Confidence",
    "HolidayConfig",
    "LenderConfig",
    "PackFile",
    "Rule",
    "RuleEntry",
    "Window",
    "compile_config",
    "default_rules",
    "load_pack",
    "parse_lender",
    "parse_pack",
]
