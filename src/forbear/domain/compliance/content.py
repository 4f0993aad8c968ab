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

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from forbear.domain.errors import ConfigurationError, ForbearError, ValidationError

Lang = Literal["zh", "en"]
Audience = Literal["debtor", "third_party"]
LANGS: tuple[Lang, ...] = ("zh", "en")


class Category(StrEnum):
    THREAT = "threat"
    INSULT = "insult"
    IMPERSONATION = "impersonation"
    FAKE_LEGAL = "fake_legal"
    EXAGGERATION = "exaggeration"
    FALSE_PROMISE = "false_promise"
    GANG = "gang"
    PUBLIC_POSTING = "public_posting"
    NEW_BORROWING = "new_borrowing"
    COLLECTION_FEE = "collection_fee"
    THIRD_PARTY_DISCLOSURE = "third_party_disclosure"
    TIME_BARRED = "time_barred"
    OPT_OUT = "opt_out"


# Default (zh, en) message per category; a lexicon entry may give its own.
MESSAGES: Mapping[Category, tuple[str, str]] = {
    Category.THREAT: ("威胁、恐吓或暴力内容", "threat, intimidation or violence"),
    Category.INSULT: ("侮辱、谩骂", "insult or abuse"),
    Category.IMPERSONATION: (
        "冒充公检法、政府或律师",
        "impersonating police, courts or government",
    ),
    Category.FAKE_LEGAL: ("伪造法律文书或虚假黑名单", "fake legal documents or fake blacklists"),
    Category.EXAGGERATION: ("夸大金额或法律后果", "exaggerated amounts or legal consequences"),
    Category.FALSE_PROMISE: ("虚假承诺", "false promises"),
    Category.GANG: ("涉黑、涉恶内容", "gang references"),
    Category.PUBLIC_POSTING: ("公开曝光或散布个人信息", "public posting or spreading private data"),
    Category.NEW_BORROWING: ("诱导借新还旧", "pushing the debtor to borrow elsewhere"),
    Category.COLLECTION_FEE: ("收取催收费用", "a fee charged for collection"),
    Category.THIRD_PARTY_DISCLOSURE: ("向第三方披露债务信息", "debt information to a third party"),
    Category.TIME_BARRED: ("对已过时效债务主张诉讼", "suit threatened on a time-barred debt"),
    Category.OPT_OUT: ("短信/邮件缺少退订方式", "e-mail or text without an opt-out"),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One forbidden passage: ``text[start:end] == excerpt`` in the text that was checked."""

    rule_id: str
    category: Category
    start: int
    end: int
    excerpt: str
    message_zh: str
    message_en: str
    pattern_id: str = ""  # the lexicon entry that matched, for whoever tunes the lexicon

    def __str__(self) -> str:
        return f"{self.rule_id} {self.category} [{self.start}:{self.end}] {self.excerpt!r}"


@dataclass(frozen=True, slots=True)
class AllowList:
    """Phrases and regexes (against normalised text) whose spans suppress violations."""

    phrases: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for regex in self.regexes:
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValidationError("allow", f"bad regex {regex!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Facts about the message that some rules need.

    ``time_barred``: the debt is past its limitation period (US.REGF.TIMEBARRED,
    CN.LIMITATION): any mention of suit or court is refused. ``require_opt_out``: the
    message is an e-mail or text under US.REGF.OPTOUT and must carry an opt-out.
    """

    time_barred: bool = False
    require_opt_out: bool = False


class ContentRejected(ForbearError):
    """A text or template failed the content filter; ``violations`` says where and why.

    The message names rule ids, categories and spans only, never the excerpts: a rendered
    text may hold the debtor's name or amounts.
    """

    def __init__(self, subject: str, violations: Sequence[Violation]) -> None:
        found = "; ".join(f"{v.rule_id} {v.category} at {v.start}-{v.end}" for v in violations)
        super().__init__(f"{subject}: refused by the content filter: {found}")
        self.subject = subject
        self.violations = tuple(violations)


# ---------------------------------------------------------------- normalisation

_SEPARATOR_CHARS = frozenset("-_.*·•|/\\~+=#^`'\"")
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Pd", "Pc", "So", "Sk"})  # spaces, dashes, emoji
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "〜": "~", "～": "~"})
_LETTER_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?:[ \-_.*·•|/\\~+]{1,2}[a-z]){2,}(?![a-z0-9])")


def _is_cjk(char: str) -> bool:
    return (
        "\u3400" <= char <= "\u9fff"
        or "\uf900" <= char <= "\ufaff"
        or "\U00020000" <= char <= "\U0002ffff"
    )


def _is_separator(char: str) -> bool:
    return (
        char.isspace()
        or char in _SEPARATOR_CHARS
        or unicodedata.category(char) in _SEPARATOR_CATEGORIES
    )


@dataclass(frozen=True, slots=True)
class Normalised:
    """The text as the patterns see it; ``origin[i]`` is the original index of ``text[i]``."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised ``[start, end)`` (``end > start``)."""
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str) -> Normalised:
    # 1. per character: drop format characters (zero-width, soft hyphen, bidi marks),
    #    NFKC (full-width -> half-width), curly quotes -> straight, lower case.
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":
            continue
        for out in unicodedata.normalize("NFKC", char).translate(_QUOTES).lower():
            chars.append(out)
            origin.append(index)
    # 2. separator runs: gone between two Chinese characters ("公 安", "公-安", "公🔥安"),
    #    one space if they hold whitespace, kept as they are otherwise ("400-123").
    kept: list[str] = []
    kept_origin: list[int] = []
    i, n = 0, len(chars)
    while i < n:
        if not _is_separator(chars[i]):
            kept.append(chars[i])
            kept_origin.append(origin[i])
            i += 1
            continue
        j = i
        while j < n and _is_separator(chars[j]):
            j += 1
        before = kept[-1] if kept else ""
        after = chars[j] if j < n else ""
        if before and after and _is_cjk(before) and _is_cjk(after):
            pass
        elif any(c.isspace() for c in chars[i:j]):
            kept.append(" ")
            kept_origin.append(origin[i])
        else:
            kept.extend(chars[i:j])
            kept_origin.extend(origin[i:j])
        i = j
    # 3. letter-spaced Latin words ("a r r e s t", "j.a.i.l") are joined.
    joined = "".join(kept)
    drop: set[int] = set()
    for match in _LETTER_SPACED.finditer(joined):
        drop.update(k for k in range(match.start(), match.end()) if not joined[k].isalpha())
    if drop:
        kept = [c for k, c in enumerate(kept) if k not in drop]
        kept_origin = [o for k, o in enumerate(kept_origin) if k not in drop]
    return Normalised("".join(kept), tuple(kept_origin))


# ---------------------------------------------------------------- lexicons


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str
    rule_id: str
    category: Category
    pattern: re.Pattern[str]
    audience: Audience | None
    when: str | None
    message_zh: str
    message_en: str


@dataclass(frozen=True, slots=True)
class Lexicon:
    lang: Lang
    entries: tuple[_Entry, ...]
    allow: re.Pattern[str] | None
    opt_out: re.Pattern[str] | None


def _phrase_regex(phrase: str) -> str:
    text = normalise(phrase).text
    regex = re.escape(text)
    # Latin words match whole; Chinese phrases match anywhere.
    if text[:1].isascii() and text[:1].isalnum():
        regex = r"(?<![a-z0-9])" + regex
    if text[-1:].isascii() and text[-1:].isalnum():
        regex += r"(?![a-z0-9])"
    return regex


def compile_patterns(phrases: Iterable[str], regexes: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation: longest phrases first, so the longest phrase wins a position."""
    parts = [_phrase_regex(p) for p in sorted(set(phrases), key=len, reverse=True) if p.strip()]
    parts += [f"(?:{r})" for r in regexes]
    return re.compile("|".join(parts)) if parts else None


def _strings(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str | int) for s in raw):
        raise ConfigurationError(f"content lexicon {where}: expected a list of strings")
    return [str(s) for s in raw]


def _entry(raw: Any, lang: str) -> _Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ConfigurationError(f"content lexicon {lang}: an entry without an id")
    where = f"{lang}/{raw['id']}"
    try:
        category = Category(str(raw.get("category")))
        pattern = compile_patterns(
            _strings(raw.get("phrases"), where), _strings(raw.get("regexes"), where)
        )
    except (ValueError, re.error) as exc:
        raise ConfigurationError(f"content lexicon {where}: {exc}") from None
    audience = raw.get("audience")
    if pattern is None or not isinstance(raw.get("rule_id"), str):
        raise ConfigurationError(f"content lexicon {where}: needs rule_id and patterns")
    if audience not in (None, "debtor", "third_party"):
        raise ConfigurationError(f"content lexicon {where}: unknown audience {audience!r}")
    default_zh, default_en = MESSAGES[category]
    return _Entry(
        id=raw["id"],
        rule_id=raw["rule_id"],
        category=category,
        pattern=pattern,
        audience=audience,
        when=raw.get("when"),
        message_zh=str(raw.get("message_zh", default_zh)),
        message_en=str(raw.get("message_en", default_en)),
    )


def parse_lexicon(source: str, lang: Lang) -> Lexicon:
    """A lexicon from its YAML text (see ``lexicon/zh.yaml`` for the format)."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"content lexicon {lang}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ConfigurationError(f"content lexicon {lang}: expected a mapping with entries")

    def section(name: str) -> re.Pattern[str] | None:
        raw = data.get(name) or {}
        try:
            return compile_patterns(
                _strings(raw.get("phrases"), f"{lang}/{name}"),
                _strings(raw.get("regexes"), f"{lang}/{name}"),
            )
        except re.error as exc:
            raise ConfigurationError(f"content lexicon {lang}/{name}: {exc}") from None

    entries = tuple(_entry(raw, lang) for raw in data["entries"])
    return Lexicon(lang, entries, section("allow"), section("opt_out"))


@cache
def lexicon(lang: Lang) -> Lexicon:
    """The packaged lexicon of ``lang``, compiled once."""
    path = resources.files("forbear.domain.compliance").joinpath("lexicon", f"{lang}.yaml")
    return parse_lexicon(path.read_text(encoding="utf-8"), lang)


@cache
def _allow_pattern(allow: AllowList) -> re.Pattern[str] | None:
    return compile_patterns(allow.phrases, allow.regexes)


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
) -> list[Violation]:
    """Check a template as it will be sent: rendered with sample values (``samples`` over
    :data:`SAMPLES`), spans mapped back into ``template_text`` (a violation inside a value
    spans its whole placeholder). A third-party template is also refused any debt
    placeholder (``{amount}``, ``{overdue_days}``, ...: CN.3P.NO_DISCLOSE)."""
    sample_lang: Lang = lang or ("zh" if any(_is_cjk(c) for c in template_text) else "en")
    values = {name: _FALLBACK_SAMPLE[sample_lang] for name in placeholders(template_text)} | dict(
        SAMPLES[sample_lang]
    )
    values |= dict(samples or {})
    filled = fill(template_text, values)
    found: dict[tuple[str, Category, int, int], Violation] = {}
    for v in check_text(filled.text, lang=lang, audience=audience, allow=allow, context=context):
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
        )
        found.setdefault((v.rule_id, v.category, start, end), moved)
    if audience == "third_party":
        zh, en = MESSAGES[Category.THIRD_PARTY_DISCLOSURE]
        for match in PLACEHOLDER.finditer(template_text):
            if is_debt_placeholder(match.group(1)):
                s, e = match.span()
                key = ("CN.3P.NO_DISCLOSE", Category.THIRD_PARTY_DISCLOSURE, s, e)
                found.setdefault(key, Violation(*key, match.group(0), zh, en, "placeholder"))
    return sorted(found.values(), key=lambda v: (v.start, v.end, v.rule_id, v.category))
