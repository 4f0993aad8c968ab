"""Plain sentences for a gate decision (``forbear explain contact``), in Chinese or English.

Each block names the rule id, its one-line description from the pack, the source and the
confidence (REGULATIONS.md: V read, V2 quoted, P paraphrased, I our inference).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from forbear.domain.compliance.config import CompiledRules

_TEXT = {
    "zh": {
        "allowed": "允许联系：规则包 {pack} 的所有规则均未阻止。",
        "block": "被 {id} 阻止：{desc}（依据：{source}；可信度 {conf}）",
        "params": "  本机构生效参数：{params}",
        "unknown": "被 {id} 阻止（规则包 {pack} 中没有该规则）",
        "earliest": "最早可联系时间：{at}（UTC）。",
        "never": "时间推移不会解除此阻止：须先处理上述原因。",
        "pending": "  尚未登记结果的拨打视为可能接通、也可能未接通，两项上限都计入；请先登记结果。",
    },
    "en": {
        "allowed": "Allowed: no rule of pack {pack} blocks this contact.",
        "block": "Blocked by {id}: {desc} (source: {source}; confidence {conf})",
        "params": "  in force for this lender: {params}",
        "unknown": "Blocked by {id} (not a rule of pack {pack})",
        "earliest": "Earliest allowed at {at} (UTC).",
        "never": "Waiting will not lift this block: the reasons above must be resolved first.",
        "pending": (
            "  Calls whose outcome is not recorded yet count against both caps (they may"
            " have connected or not): record their outcomes first."
        ),
    },
}


# Caps that count attempts still waiting for their outcome (gate.py, "How it counts").
_DAILY_CAPS = frozenset({"cap_unanswered_per_number_per_day", "cap_connected_per_debtor_per_day"})


def _params(params: Mapping[str, Any]) -> str:
    """The rule's effective parameters, scalars and short lists only."""
    parts = []
    for key, value in sorted(params.items()):
        if isinstance(value, bool | int | float | str):
            parts.append(f"{key}={value}")
        elif isinstance(value, list | tuple) and len(value) <= 6:
            parts.append(f"{key}={', '.join(str(v) for v in value)}")
    return "; ".join(parts)


def explain(
    decision_row: Mapping[str, Any], rules: CompiledRules, lang: Literal["zh", "en"] = "zh"
) -> list[str]:
    """One sentence per blocking rule (id, description, source), then when it may pass.

    ``decision_row`` is one row of :func:`~forbear.domain.compliance.gate.gate`'s output as
    a mapping (``frame.row(i, named=True)``)."""
    text = _TEXT[lang]
    blocked: list[str] = list(decision_row.get("blocked_by") or [])
    if not blocked:
        return [text["allowed"].format(pack=rules.pack)]
    out: list[str] = []
    for rid in blocked:
        try:
            r = rules.rule(rid)
        except KeyError:
            out.append(text["unknown"].format(id=rid, pack=rules.pack))
            continue
        desc = r.zh if lang == "zh" else r.en
        out.append(
            text["block"].format(
                id=rid, desc=desc.rstrip("。."), source=r.source, conf=r.confidence
            )
        )
        # The description is the pack's; a lender may have tightened it (e.g. 21:00).
        shown = _params(r.params)
        if shown:
            out.append(text["params"].format(params=shown))
        if r.kind in _DAILY_CAPS:
            out.append(text["pending"])
    at = decision_row.get("earliest_allowed_at")
    if isinstance(at, datetime):
        out.append(text["earliest"].format(at=at.strftime("%Y-%m-%d %H:%M")))
    else:
        out.append(text["never"])
    return out
