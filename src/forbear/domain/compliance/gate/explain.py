"""Why a single planned contact is allowed or blocked, rule by rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate.third_party import third_party_lines


def explain(
    decision_row: Mapping[str, Any], rules: CompiledRules, lang: Literal["zh", "en"] = "zh"
) -> list[str]:
    """Plain sentences for one decision row (see explain.py). A contact with a third party
    also gets the third-party rules that apply to it, allowed or not (:mod:`.third_party`):
    after the verdict when allowed, before the closing "when" sentence when blocked (callers
    that show the time in the debtor's zone drop that last sentence)."""
    from forbear.domain.compliance.explain import explain as _explain

    lines = _explain(decision_row, rules, lang)
    extra = third_party_lines(decision_row, rules, lang)
    if not extra:
        return lines
    if decision_row.get("blocked_by"):
        return [*lines[:-1], *extra, lines[-1]]
    return [*lines, *extra]
