"""Plain sentences for a gate decision (``forbear explain contact``), in Chinese or English.

Each block names the rule id, its one-line description from the pack, the source and the
confidence (REGULATIONS.md: V read, V2 quoted, P paraphrased, I our inference).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import UNDEFINED_SUFFIX

_TEXT = {
    "zh": {
        "allowed": "允许联系：规则包 {pack} 的所有规则均未阻止。",
        "block": "被 {id} 阻止：{desc}（依据：{source}；可信度 {conf}）",
        "params": "  本机构生效参数：{params}",
        "unknown": "被 {id} 阻止（规则包 {pack} 中没有该规则）",
        "earliest": "最早可联系时间：{at}（UTC）。",
        "never": "时间推移不会解除此阻止：须先处理上述原因。",
        "pending": "  尚未登记结果的拨打视为可能接通、也可能未接通，两项上限都计入；请先登记结果。",
        "hold": (
            "被 {id} 阻止：{kind}（暂停 #{hold}，自 {since}（UTC）起；来源：{source}）。"
            "可由{who}在“保留与争议”页面解除（依据：{src}；可信度 {conf}）"
        ),
        "or": "或",
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
        "hold": (
            "Blocked by {id}: {kind} (hold #{hold}, since {since} UTC; from: {source})."
            " {who} may release it on the Holds and disputes page"
            " (source: {src}; confidence {conf})"
        ),
        "or": " or ",
    },
}


# A hold named in a block message (issue 15): its kind, where it came from, who may lift it.
_HOLD_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "dispute": "债务异议暂停",
        "complaint": "投诉处理期间暂停",
        "cease": "停止联系请求",
        "opt_out": "退订",
        "do_not_contact": "禁止联系",
        "vulnerable": "脆弱客户暂停",
        "hardship": "经济困难暂停（停止书面催收与自动外呼，仍可人工致电商定还款方案）",
        "lawyer": "律师代理",
        "deceased": "借款人已故",
        "src.outcome": "催收员登记的通话结果",
        "src.portal": "借款人在自助服务提出",
        "src.complaint": "借款人投诉",
        "src.refusal": "联系人拒绝再被联系",
        "src.assistant": "智能助手转人工",
        "src.staff": "工作人员设置",
        "src.other": "系统",
        "supervisor": "主管",
        "compliance_officer": "合规专员",
        "admin": "管理员",
        "agent": "催收员",
        "legal": "法务",
        "agency_agent": "委外催收员",
    },
    "en": {
        "dispute": "dispute hold",
        "complaint": "hold while a complaint is open",
        "cease": "cease-communication request",
        "opt_out": "opt-out",
        "do_not_contact": "do-not-contact hold",
        "vulnerable": "vulnerability hold",
        "hardship": (
            "hardship hold (no written demands or automated calls; an agent may still call"
            " to agree a plan)"
        ),
        "lawyer": "represented by a lawyer",
        "deceased": "the borrower has died",
        "src.outcome": "an outcome a collector recorded",
        "src.portal": "the borrower, in the portal",
        "src.complaint": "the borrower's complaint",
        "src.refusal": "the contact person refused further contact",
        "src.assistant": "the assistant's handoff",
        "src.staff": "set by staff",
        "src.other": "the system",
        "supervisor": "a supervisor",
        "compliance_officer": "a compliance officer",
        "admin": "an administrator",
        "agent": "an agent",
        "legal": "legal staff",
        "agency_agent": "an agency agent",
    },
}


def _hold_sentence(
    hold: Mapping[str, Any], rid: str, source: str, conf: str, lang: Literal["zh", "en"]
) -> str:
    words = _HOLD_WORDS[lang]
    since = hold.get("since")
    origin = hold.get("source") or ("other", None)
    who = _TEXT[lang]["or"].join(words.get(r, r) for r in hold.get("releasers") or ())
    sentence = _TEXT[lang]["hold"].format(
        id=rid,
        kind=words.get(str(hold.get("kind")), str(hold.get("kind"))),
        hold=hold.get("id"),
        since=since.strftime("%Y-%m-%d %H:%M") if isinstance(since, datetime) else "?",
        source=words.get(f"src.{origin[0]}", words["src.other"]),
        who=who,
        src=source,
        conf=conf,
    )
    return sentence[0].upper() + sentence[1:]


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
    engine_own = f"{rules.pack}.{UNDEFINED_SUFFIX}"  # the third-party sentences explain it
    for rid in blocked:
        try:
            r = rules.rule(rid)
        except KeyError:
            if rid != engine_own:
                out.append(text["unknown"].format(id=rid, pack=rules.pack))
            continue
        named = [h for h in decision_row.get("holds") or () if h.get("rule") == rid]
        if named:  # the hold(s) that blocked, not every kind the rule knows
            out.extend(_hold_sentence(h, rid, r.source, r.confidence, lang) for h in named)
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
