"""Checking a text (:func:`check_text`): refuse what cannot be read, normalise, then the
layers cheapest first: lexicons, pinyin, and (when asked) the semantic classifier."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from forbear.domain.compliance.content.lexicons import Lexicon, _allow_pattern, lexicon
from forbear.domain.compliance.content.normalising import _is_cjk, normalise
from forbear.domain.compliance.content.rules import PACK_RULES, rule_for
from forbear.domain.compliance.content.sounds import SoundIndex, build_sound_index
from forbear.domain.compliance.content.vocabulary import (
    LANGS,
    MAX_TEXT_CHARS,
    MESSAGES,
    AllowList,
    Audience,
    Category,
    CheckContext,
    ContentUnreadable,
    Lang,
    Layer,
    Violation,
)

# ---------------------------------------------------------------- refusing


def refuse_unreadable(text: str) -> None:
    """Raise :class:`ContentUnreadable` for a text the filter cannot vouch for: empty or
    blank, control or invisible characters only, a control byte anywhere (tab, new line and
    carriage return are text), an unpaired surrogate, or more than :data:`MAX_TEXT_CHARS`.
    The reason names a position, never the text."""
    if not isinstance(text, str):
        raise ContentUnreadable("not a text")
    if len(text) > MAX_TEXT_CHARS:
        raise ContentUnreadable(
            f"{len(text):,} characters: longer than the {MAX_TEXT_CHARS:,} the filter reads"
        )
    if text.isprintable() and not text.isspace() and text:
        return  # the common case, in C: no control, format or unassigned character
    readable = False
    for index, char in enumerate(text):
        if char.isascii():
            if char.isprintable():
                readable = readable or not char.isspace()
                continue
            if char in "\t\n\r":
                continue
            raise ContentUnreadable(f"control character U+{ord(char):04X} at position {index}")
        kind = unicodedata.category(char)
        if kind == "Cs":
            raise ContentUnreadable(f"invalid character (unpaired surrogate) at position {index}")
        if kind == "Cc":
            raise ContentUnreadable(f"control character U+{ord(char):04X} at position {index}")
        if kind not in ("Cf", "Zs", "Zl", "Zp", "Cn", "Co"):
            readable = True
    if not readable:
        raise ContentUnreadable(
            "empty: no readable characters" if text.strip() == "" else "no readable characters"
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


@cache
def _allow_all(legal: bool) -> tuple[re.Pattern[str], ...]:
    """Every allow (or legal-facts) pattern of every lexicon, each on its own."""
    return tuple(
        p
        for lang in LANGS
        for p in (lexicon(lang).legal_parts if legal else lexicon(lang).allow_parts)
    )


def _allowed_spans(
    normalised: str, allow: AllowList | None, *, legal: bool = False
) -> list[tuple[int, int]]:
    """Spans that suppress findings: rights education and the caller's allow-list, or
    (``legal``) lawful statements of process, which never excuse a time-barred suit."""
    if legal:
        return [
            m.span()
            for pattern in _allow_all(True)
            for m in pattern.finditer(normalised)
            if m.end() > m.start()
        ]
    patterns: list[re.Pattern[str] | None] = list(_allow_all(False))
    if allow is not None:
        patterns.append(_allow_pattern(allow))
    return [
        m.span()
        for pattern in patterns
        if pattern is not None
        for m in pattern.finditer(normalised)
        if m.end() > m.start()
    ]


@cache
def _sound_index(lang: Lang, audience: Audience) -> SoundIndex:
    """The phrases heard for an audience: the third-party list (还款, 逾期, ...) is heard
    only in third-party texts, and never slows a debtor's check."""
    lex = lexicon(lang)
    return build_sound_index(
        [
            (i, normalise(p).text)
            for i, p in lex.sounds
            if lex.entries[i].audience in (None, audience)
        ]
    )


def _usable(lex: Lexicon, index: int, audience: Audience, ctx: CheckContext) -> bool:
    entry = lex.entries[index]
    if entry.audience is not None and entry.audience != audience:
        return False
    return not (entry.when == "time_barred" and not ctx.time_barred)


def check_text(
    text: str,
    *,
    lang: Lang | None = None,
    audience: Audience = "debtor",
    allow: AllowList | None = None,
    context: CheckContext | None = None,
    semantic: bool = False,
) -> list[Violation]:
    """Every forbidden passage of ``text``, in order of position; ``[]`` means clean.

    Raises :class:`ContentUnreadable` for a text that cannot be checked (empty, control
    bytes, too long). ``lang`` names the lexicon that always runs (``None``: detect);
    another language's lexicon also runs when its script appears. ``audience="third_party"``
    adds CN.3P.NO_DISCLOSE. ``semantic=True`` adds the sentence classifier (the encoder:
    ~14 ms per new sentence, cached by sentence); template checks ask for it, the per-send
    check of an approved template does not need it. Rule ids follow ``context.pack``.
    """
    refuse_unreadable(text)
    ctx = context or CheckContext()
    if ctx.pack not in PACK_RULES:
        raise ContentUnreadable(f"unknown rule pack {ctx.pack!r}: one of {', '.join(PACK_RULES)}")
    norm = normalise(text)
    allowed_cache: dict[bool, list[tuple[int, int]]] = {}

    def allowed(legal: bool) -> list[tuple[int, int]]:  # only when something was found
        if legal not in allowed_cache:
            allowed_cache[legal] = _allowed_spans(norm.text, allow, legal=legal)
        return allowed_cache[legal]

    found: dict[tuple[str, Category, int, int], Violation] = {}
    read: list[tuple[Category, int, int]] = []  # normalised spans the lexicons flagged

    def add(
        rule: str, category: Category, s: int, e: int, zh: str, en: str, pid: str, layer: Layer
    ) -> None:
        if e <= s or any(a <= s and e <= b for a, b in allowed(False)):
            return
        if category != Category.TIME_BARRED and any(a <= s and e <= b for a, b in allowed(True)):
            return
        start, end = norm.span(s, e)
        rule = rule_for(ctx.pack, category, rule)
        key = (rule, category, start, end)
        if key not in found:
            found[key] = Violation(rule, category, start, end, text[start:end], zh, en, pid, layer)
        if layer == "lexicon":
            read.append((category, s, e))

    languages = _languages(norm.text, lang)
    for lang_ in languages:
        lex = lexicon(lang_)
        assert lex.matcher is not None
        for index, s, e in lex.matcher.find(norm.text):
            if _usable(lex, index, audience, ctx):
                entry = lex.entries[index]
                add(
                    entry.rule_id,
                    entry.category,
                    s,
                    e,
                    entry.message_zh,
                    entry.message_en,
                    entry.id,
                    "lexicon",
                )
    zh = lexicon("zh")
    for index, s, e, _phrase in _sound_index("zh", audience).find(norm.text):
        if not _usable(zh, index, audience, ctx):
            continue
        entry = zh.entries[index]
        if any(c == entry.category and s < b and a < e for c, a, b in read):
            continue  # the lexicon already read this passage
        add(
            entry.rule_id,
            entry.category,
            s,
            e,
            entry.message_zh,
            entry.message_en,
            entry.id,
            "pinyin",
        )
    if semantic:
        from forbear.domain.compliance.content.semantic import sentence_key, sentences, verdicts

        spans = sentences(text)
        keys = [sentence_key(text[s:e]) for s, e in spans]
        for (s, e), (category, _p) in zip(spans, verdicts(keys), strict=True):
            if category is None:
                continue
            sub = normalise(text[s:e])
            # the sentence's own allowed spans (legal facts, rights education) cover it whole
            inner = _allowed_spans(sub.text, allow) + _allowed_spans(sub.text, allow, legal=True)
            if any(a == 0 and b >= len(sub.text.rstrip("。.!?！？;；")) for a, b in inner):
                continue
            if any(v.category == category and v.start < e and s < v.end for v in found.values()):
                continue
            zh_msg, en_msg = MESSAGES[category]
            own = _own_rule(category)
            rule = rule_for(ctx.pack, category, own)
            key = (rule, category, s, e)
            found.setdefault(
                key,
                Violation(rule, category, s, e, text[s:e], zh_msg, en_msg, "semantic", "semantic"),
            )
    if ctx.require_opt_out and not has_opt_out(norm.text):
        zh_msg, en_msg = MESSAGES[Category.OPT_OUT]
        end = len(text)  # an empty span at the end: where the opt-out belongs
        found[("US.REGF.OPTOUT", Category.OPT_OUT, end, end)] = Violation(
            "US.REGF.OPTOUT", Category.OPT_OUT, end, end, "", zh_msg, en_msg, "opt_out", "rule"
        )
    return sorted(found.values(), key=lambda v: (v.start, v.end, v.rule_id, v.category))


def _own_rule(category: Category) -> str:
    return PACK_RULES["CN"][category]


def has_opt_out(normalised_text: str) -> bool:
    """Whether a normalised text carries an opt-out marker of any lexicon."""
    return any(
        pattern.search(normalised_text) is not None
        for lang in LANGS
        if (pattern := lexicon(lang).opt_out) is not None
    )


_WARM_TEXTS: dict[Lang, str] = {"zh": "您好，请按时还款。", "en": "Hello, please repay on time."}


def warm() -> None:
    """Load what the first check of each language and audience would (the lexicons, the
    pinyin tables and the sound index: about a second of CPU), so that a process can do it
    beside other work (the daily run: while its book is read) instead of in its first
    check."""
    audiences: tuple[Audience, ...] = ("debtor", "third_party")
    for lang, text in _WARM_TEXTS.items():
        for audience in audiences:
            check_text(text, lang=lang, audience=audience)
