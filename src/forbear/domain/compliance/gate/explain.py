"""Why a single planned contact is allowed or blocked, rule by rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from forbear.domain.compliance.config import CompiledRules


def explain(
    decision_row: Mapping[str, Any], rules: CompiledRules, lang: Literal["zh", "en"] = "zh"
) -> list[str]:
    """Plain sentences for one decision row (see explain.py)."""
    from forbear.domain.compliance.explain import explain as _explain

    return _explain(decision_row, rules, lang)
