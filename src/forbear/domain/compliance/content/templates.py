"""Message templates: placeholders, sample values, filling, and the check of a template
before it is saved or approved."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from forbear.domain.compliance.content.checking import check_text, refuse_unreadable
from forbear.domain.compliance.content.normalising import _is_cjk
from forbear.domain.compliance.content.rules import rule_for
from forbear.domain.compliance.content.vocabulary import (
    MESSAGES,
    AllowList,
    Audience,
    Category,
    CheckContext,
    Lang,
    Violation,
)
from forbear.domain.errors import ValidationError

# ---------------------------------------------------------------- templates

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Placeholder names (split on "_") that carry debt information: never in a third-party
# template (CN.3P.NO_DISCLOSE), whatever the sample value looks like.
DEBT_WORDS = frozenset(
    [
        "amount",
        "balance",
        "overdue",
        "due",
        "dpd",
        "principal",
        "interest",
        "penalty",
        "fee",
        "fees",
        "loan",
        "debt",
        "arrears",
        "product",
        "repay",
        "repayment",
        "instalment",
        "installment",
        "owed",
        "outstanding",
        "bill",
        "credit",
    ]
)

# Sample values used to render a template for checking; plain, clean and typical.
SAMPLES: Mapping[Lang, Mapping[str, str]] = {
    "zh": {
        "name": "张伟",
        "amount": "1,234.56元",
        "due_date": "2026年12月15日",
        "overdue_days": "3",
        "company": "某某消费金融",
        "lender": "某某消费金融",
        "phone": "400-000-0000",
        "app": "某某APP",
    },
    "en": {
        "name": "Alex Smith",
        "amount": "$1,234.56",
        "due_date": "December 15, 2026",
        "overdue_days": "3",
        "company": "Acme Finance",
        "lender": "Acme Finance",
        "phone": "800-000-0000",
        "app": "the Acme app",
    },
}
_FALLBACK_SAMPLE: Mapping[Lang, str] = {"zh": "样例", "en": "sample"}


def placeholders(template_text: str) -> list[str]:
    """The placeholder names of a template, in order, each once."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(template_text)))


def is_debt_placeholder(name: str) -> bool:
    return any(word in DEBT_WORDS for word in name.lower().split("_"))


@dataclass(frozen=True, slots=True)
class Filled:
    """A rendered template; ``source[i]`` is the template span that ``text[i]`` came from."""

    text: str
    source: tuple[tuple[int, int], ...]


def fill(template_text: str, values: Mapping[str, str]) -> Filled:
    """Substitute ``{name}`` placeholders (one pass: values are never re-expanded).

    Raises :class:`ValidationError` naming the first placeholder without a value.
    """
    parts: list[str] = []
    source: list[tuple[int, int]] = []
    last = 0
    for match in PLACEHOLDER.finditer(template_text):
        name = match.group(1)
        if name not in values:
            raise ValidationError(name, "no value for this placeholder")
        for k in range(last, match.start()):
            source.append((k, k + 1))
        parts.append(template_text[last : match.start()])
        value = str(values[name])
        parts.append(value)
        source.extend([match.span()] * len(value))
        last = match.end()
    parts.append(template_text[last:])
    source.extend((k, k + 1) for k in range(last, len(template_text)))
    return Filled("".join(parts), tuple(source))


def check_template(
    template_text: str,
    samples: Mapping[str, str] | None = None,
    *,
    lang: Lang | None = None,
    audience: Audience = "debtor",
    allow: AllowList | None = None,
    context: CheckContext | None = None,
    semantic: bool = True,
) -> list[Violation]:
    """Check a template as it will be sent: rendered with sample values (``samples`` over
    :data:`SAMPLES`), spans mapped back into ``template_text`` (a violation inside a value
    spans its whole placeholder). A third-party template is also refused any debt
    placeholder (``{amount}``, ``{overdue_days}``, ...: CN.3P.NO_DISCLOSE).

    ``semantic`` (default on) adds the sentence classifier: its verdicts are cached by
    sentence, so a template is embedded once per process. Raises ``ContentUnreadable`` for
    an empty or unreadable template."""
    sample_lang: Lang = lang or ("zh" if any(_is_cjk(c) for c in template_text) else "en")
    values = {name: _FALLBACK_SAMPLE[sample_lang] for name in placeholders(template_text)} | dict(
        SAMPLES[sample_lang]
    )
    values |= dict(samples or {})
    filled = fill(template_text, values)
    found: dict[tuple[str, Category, int, int], Violation] = {}
    refuse_unreadable(template_text)
    found_in_text = check_text(
        filled.text, lang=lang, audience=audience, allow=allow, context=context, semantic=semantic
    )
    for v in found_in_text:
        if v.end > v.start:
            start, end = filled.source[v.start][0], filled.source[v.end - 1][1]
        else:  # an empty span (a missing opt-out) stays empty
            start = end = filled.source[v.start - 1][1] if v.start else 0
        moved = Violation(
            v.rule_id,
            v.category,
            start,
            end,
            template_text[start:end],
            v.message_zh,
            v.message_en,
            v.pattern_id,
            v.layer,
        )
        found.setdefault((v.rule_id, v.category, start, end), moved)
    if audience == "third_party":
        zh, en = MESSAGES[Category.THIRD_PARTY_DISCLOSURE]
        for match in PLACEHOLDER.finditer(template_text):
            if is_debt_placeholder(match.group(1)):
                s, e = match.span()
                rule = rule_for(
                    (context or CheckContext()).pack,
                    Category.THIRD_PARTY_DISCLOSURE,
                    "CN.3P.NO_DISCLOSE",
                )
                key = (rule, Category.THIRD_PARTY_DISCLOSURE, s, e)
                found.setdefault(
                    key, Violation(*key, match.group(0), zh, en, "placeholder", "rule")
                )
    return sorted(found.values(), key=lambda v: (v.start, v.end, v.rule_id, v.category))
