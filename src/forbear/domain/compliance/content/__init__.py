"""The content filter: forbidden language in messages, templates and scripts.

Sources (REGULATIONS.md): CN.LANG.PROHIBITED (threats, intimidation, insults, impersonating
police, courts, procuratorates or government, fake legal documents and "blacklists",
exaggerated amounts or legal consequences, false promises, gang references),
CN.LANG.NO_NEW_BORROWING (pushing the debtor to borrow elsewhere; collection fees),
CN.PUBLIC.NO_POSTING (public posting, spreading the debt or private information),
CN.3P.NO_DISCLOSE (no debt information in third-party messages), CN.LIMITATION and
US.REGF.TIMEBARRED (no suit or threat of suit on a time-barred debt, when the context says
so), US.REGF.OPTOUT (an opt-out in every e-mail and text, when the context asks for it).

The patterns are data: ``lexicon/zh.yaml`` and ``lexicon/en.yaml`` (phrases and regexes per
category, each with its rule id), compiled once per process. Matching runs on a normalised
copy of the text (:func:`normalise`: full-width to half-width, lower case, zero-width
characters dropped, spaces / dashes / dots / symbols between two Chinese characters dropped,
letter-spaced Latin words joined) and every span is mapped back to the original text, so
``text[v.start:v.end] == v.excerpt``. Chinese needs no segmentation: substrings and regexes.

A keyword filter is a floor, not a judge: it catches the listed phrases and their spacing
tricks, not homophones, pinyin or sarcasm. Rights-education text that names forbidden words
("催收人员不得冒充公检法", "we cannot have you arrested") is suppressed by allow-lists: the
lexicons' own and the caller's :class:`AllowList`. A violation is suppressed only when its
whole span lies inside an allowed span, so a threat next to an education sentence still
counts.

Pure: no I/O apart from reading the packaged lexicons once.
"""

from __future__ import annotations

from forbear.domain.compliance.content.checking import (
    check_text,
    has_opt_out,
    refuse_unreadable,
    warm,
)
from forbear.domain.compliance.content.lexicons import (
    Lexicon,
    compile_patterns,
    lexicon,
    parse_lexicon,
)
from forbear.domain.compliance.content.normalising import Normalised, normalise
from forbear.domain.compliance.content.rules import PACK_RULES, PACKS, rule_for
from forbear.domain.compliance.content.templates import (
    DEBT_WORDS,
    PLACEHOLDER,
    SAMPLES,
    Filled,
    check_template,
    fill,
    is_debt_placeholder,
    placeholders,
)
from forbear.domain.compliance.content.vocabulary import (
    LANGS,
    LAYERS,
    MAX_TEXT_CHARS,
    MESSAGES,
    AllowList,
    Audience,
    Category,
    CheckContext,
    ContentRejected,
    ContentUnreadable,
    Lang,
    Layer,
    Violation,
)

__all__ = [
    "DEBT_WORDS",
    "LANGS",
    "LAYERS",
    "MAX_TEXT_CHARS",
    "MESSAGES",
    "PACKS",
    "PACK_RULES",
    "PLACEHOLDER",
    "SAMPLES",
    "AllowList",
    "Audience",
    "Category",
    "CheckContext",
    "ContentRejected",
    "ContentUnreadable",
    "Filled",
    "Lang",
    "Layer",
    "Lexicon",
    "Normalised",
    "Violation",
    "check_template",
    "check_text",
    "compile_patterns",
    "fill",
    "has_opt_out",
    "is_debt_placeholder",
    "lexicon",
    "normalise",
    "parse_lexicon",
    "placeholders",
    "refuse_unreadable",
    "rule_for",
    "warm",
]
