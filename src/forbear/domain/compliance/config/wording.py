"""A rule's text told with its effective parameters (issue 15, item 9).

A pack's rule text is written with the pack's numbers ("22:00至次日08:00",
"不超过6次"); a lender that tightens a rule (contact until 21:00, at most 4 unanswered
calls) must read its own numbers. :func:`effective_text` rewrites the pack's text with the
effective parameters:

- the windowed kinds (quiet hours, the assistant's quiet demands): every time span of the
  text ("22:00至次日08:00", "08:00前或21:00后", "22:00-08:00", "before 08:00 or after
  21:00") is told again from the effective contact windows;
- a numeric parameter a lender changed: the pack's number is replaced where the text
  names it exactly once; where it names it more than once (``7日内致电超过7次``), or not
  at all, the lender's value is added after the text.

Pure; the compile step (:func:`forbear.domain.compliance.config.loading.compile_config`)
calls it, so every reader of a compiled rule (the console, the blocked page, the gate's
explanations) reads the effective text.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from forbear.domain.compliance.config.compiled import Window, _fmt

Lang = Literal["zh", "en"]

WINDOWED = frozenset({"quiet_hours", "assistant_quiet_demand"})
HHMM = r"(\d{1,2}:\d{2})"
# the pack's ways of writing a quiet period, as (pattern, how to write it again)
_SPANS: dict[Lang, list[tuple[re.Pattern[str], str]]] = {
    "zh": [
        (re.compile(HHMM + r"至次日" + HHMM), "{quiet_from}至次日{quiet_to}"),
        (re.compile(HHMM + r"前或" + HHMM + r"后"), "{quiet_to}前或{quiet_from}后"),
    ],
    "en": [
        (re.compile(f"before {HHMM} or after {HHMM}"), "before {quiet_to} or after {quiet_from}"),
        (re.compile(HHMM + r"\s*[-–]\s*" + HHMM), "{quiet_from}-{quiet_to}"),
    ],
}  # fmt: skip
# numeric parameters a lender may tighten, with the words a note names them by
_NUMBERS: dict[str, dict[Lang, str]] = {
    "max_attempts": {"zh": "次数上限 {v} 次", "en": "at most {v} attempts"},
    "max_connected": {"zh": "接通上限 {v} 次", "en": "at most {v} connected calls"},
    "window_days": {"zh": "统计窗口 {v} 日", "en": "a {v}-day window"},
    "after_conversation_days": {
        "zh": "通话后 {v} 日内不再致电",
        "en": "no call within {v} days after a conversation",
    },
    "reply_within_minutes": {
        "zh": "{v} 分钟内算作答复",
        "en": "a reply within {v} minutes",
    },
    "consecutive_failures": {"zh": "连续 {v} 次失败", "en": "{v} consecutive failures"},
    "years": {"zh": "{v} 年", "en": "{v} years"},
}
_NOTE: dict[Lang, str] = {"zh": "（本机构设定：{items}）", "en": " (this lender: {items})"}


def quiet_span(windows: list[Window]) -> tuple[str, str]:
    """The quiet period of a day's contact windows: (from, to), e.g. ("21:00", "08:00")."""
    return _fmt(windows[-1].end % (24 * 60)), _fmt(windows[0].start)


def narrower(a: list[Window], b: list[Window]) -> list[Window]:
    """The contact windows both ``a`` and ``b`` allow (the assistant's quiet demands are
    judged in the narrower of their own windows and the quiet hours')."""
    out = [
        Window(max(x.start, y.start), min(x.end, y.end))
        for x in a
        for y in b
        if max(x.start, y.start) < min(x.end, y.end)
    ]
    return sorted(out, key=lambda w: w.start)


def effective_text(
    kind: str, text: str, base: dict[str, Any], params: dict[str, Any], lang: Lang
) -> str:
    """``text`` (the pack's, in ``lang``) told with ``params`` (effective) instead of
    ``base`` (the pack's own)."""
    out = text
    if kind in WINDOWED and params.get("windows"):
        quiet_from, quiet_to = quiet_span(params["windows"])
        for pattern, shape in _SPANS[lang]:
            out = pattern.sub(shape.format(quiet_from=quiet_from, quiet_to=quiet_to), out)
    notes: list[str] = []
    for key, words in _NUMBERS.items():
        old, new = base.get(key), params.get(key)
        if old == new or not isinstance(old, int) or not isinstance(new, int):
            continue
        found = re.findall(rf"(?<!\d){old}(?!\d)", out)
        if len(found) == 1:
            out = re.sub(rf"(?<!\d){old}(?!\d)", str(new), out)
        else:
            notes.append(words[lang].format(v=new))
    if notes:
        joiner = "；" if lang == "zh" else "; "
        out = out + _NOTE[lang].format(items=joiner.join(notes))
    return out
