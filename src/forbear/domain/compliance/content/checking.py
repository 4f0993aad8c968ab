"""Checking a text against the lexicons (:func:`check_text`)."""

from __future__ import annotations

import re

from forbear.domain.compliance.content.lexicons import _allow_pattern, lexicon
from forbear.domain.compliance.content.normalising import _is_cjk, normalise
from forbear.domain.compliance.content.vocabulary import (
    LANGS,
    MESSAGES,
    AllowList,
    Audience,
    Category,
    CheckContext,
    Lang,
    Violation,
)

# ---------------------------------------------------------------- checking


def _languages(normalised: str, lang: Lang | None) -> list[Lang]:
    """The declared language, plus any other whose script appears (mixed texts)."""
    found: list[Lang] = [lang] if lang is not None else []
    if "zh" not in found and any(_is_cjk(c) for c in normalised):
        found.append("zh")
    if "en" not in found and re.search(r"[a-z]{2,}", normalised):
        found.append("en")
    return found or list(LANGS)


def _allowed_spans(normalised: str, allow: AllowList | None) -> list[tuple[int, int]]:
    patterns = [lexicon(lang).allow for lang in LANGS]
    if allow is not None:
        patterns.append(_allow_pattern(allow))
    return [
        m.span()
        for pattern in patterns
        if pattern is not None
        for m in pattern.finditer(normalised)
        if m.end() > m.start()
    ]


def check_text(
    text: str,
    *,
    lang: Lang | None = None,
    audience: Audience = "debtor",
    allow: AllowList | None = None,
    context: CheckContext | None = None,
) -> list[Violation]:
    """Every forbidden passage of ``text``, in order of position; ``[]`` means clean.

    ``lang`` names the lexicon that always runs (``None``: detect); another language's
    lexicon also runs when its script appears, since a Chinese SMS quoting English words
    is read in both. ``audience="third_party"`` adds CN.3P.NO_DISCLOSE: no amount, no
    overdue status, no loan or product.
    """
    ctx = context or CheckContext()
    norm = normalise(text)
    allowed = _allowed_spans(norm.text, allow)
    found: dict[tuple[str, Category, int, int], Violation] = {}
    for lang_ in _languages(norm.text, lang):
        for entry in lexicon(lang_).entries:
            if entry.audience is not None and entry.audience != audience:
                continue
            if entry.when == "time_barred" and not ctx.time_barred:
                continue
            for match in entry.pattern.finditer(norm.text):
                s, e = match.span()
                if e <= s or any(a <= s and e <= b for a, b in allowed):
                    continue
                start, end = norm.span(s, e)
                key = (entry.rule_id, entry.category, start, end)
                found.setdefault(
                    key,
                    Violation(
                        entry.rule_id,
                        entry.category,
                        start,
                        end,
                        text[start:end],
                        entry.message_zh,
                        entry.message_en,
                        entry.id,
                    ),
                )
    if ctx.require_opt_out and not has_opt_out(norm.text):
        zh, en = MESSAGES[Category.OPT_OUT]
        end = len(text)  # an empty span at the end: where the opt-out belongs
        found[("US.REGF.OPTOUT", Category.OPT_OUT, end, end)] = Violation(
            "US.REGF.OPTOUT", Category.OPT_OUT, end, end, "", zh, en, "opt_out"
        )
    return sorted(found.values(), key=lambda v: (v.start, v.end, v.rule_id, v.category))


def has_opt_out(normalised_text: str) -> bool:
    """Whether a normalised text carries an opt-out marker of any lexicon."""
    return any(
        pattern.search(normalised_text) is not None
        for lang in LANGS
        if (pattern := lexicon(lang).opt_out) is not None
    )
