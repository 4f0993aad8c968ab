"""The packaged lexicons of forbidden phrases and patterns, per language."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from forbear.domain.compliance.content.normalising import normalise
from forbear.domain.compliance.content.vocabulary import (
    MESSAGES,
    AllowList,
    Audience,
    Category,
    Lang,
)
from forbear.domain.errors import ConfigurationError

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
class Matcher:
    """Every entry of a lexicon in one pass (issue 17: the filter runs on every send).

    Phrases are looked up, not searched: Latin phrases at word starts, over up to
    ``max_pieces`` alphanumeric pieces (``words``: normalised phrase -> entry indices);
    Chinese phrases at the positions of their first character, by length (``chinese``).
    The entries' regexes (and the few phrases neither lookup fits) are ONE compiled
    alternation with a named group per entry (``regex``), so a text is scanned once.
    """

    words: dict[str, tuple[int, ...]]
    max_pieces: int
    chinese: dict[str, tuple[int, ...]]
    lengths: dict[str, tuple[int, ...]]  # first character -> phrase lengths, longest first
    regex: re.Pattern[str] | None

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """``(entry index, start, end)`` of every phrase occurrence and regex match."""
        found: list[tuple[int, int, int]] = []
        if self.words:
            pieces = [m.span() for m in _PIECE.finditer(text)]
            for k, (start, _) in enumerate(pieces):
                if start and text[start - 1].isascii() and text[start - 1].isalnum():
                    continue  # mid-word (cannot happen with _PIECE, kept for clarity)
                for _, end in pieces[k : k + self.max_pieces]:
                    for index in self.words.get(text[start:end], ()):
                        found.append((index, start, end))
        if self.chinese:
            lengths = self.lengths
            n = len(text)
            for i, char in enumerate(text):
                sizes = lengths.get(char)
                if sizes is None:
                    continue
                for size in sizes:
                    if i + size > n:
                        continue
                    for index in self.chinese.get(text[i : i + size], ()):
                        found.append((index, i, i + size))
        if self.regex is not None:
            for match in self.regex.finditer(text):
                if match.end() > match.start() and match.lastgroup is not None:
                    found.append((int(match.lastgroup[1:]), match.start(), match.end()))
        return found


_PIECE = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Lexicon:
    lang: Lang
    entries: tuple[_Entry, ...]
    allow: re.Pattern[str] | None
    opt_out: re.Pattern[str] | None
    matcher: Matcher | None = None
    sounds: tuple[tuple[int, str], ...] = ()  # (entry index, phrase) heard, not read
    legal: re.Pattern[str] | None = None  # lawful statements of process (not on a barred debt)
    # The same two sections one pattern each (the phrases one, every regex its own): an
    # allowed span is the union of every pattern's matches, so a short phrase that wins a
    # position in the alternation never hides a longer clause that also starts there.
    allow_parts: tuple[re.Pattern[str], ...] = ()
    legal_parts: tuple[re.Pattern[str], ...] = ()


def _latin_start(text: str) -> bool:
    return text[:1].isascii() and text[:1].isalnum()


def _latin_end(text: str) -> bool:
    return text[-1:].isascii() and text[-1:].isalnum()


def build_matcher(
    phrases: Iterable[tuple[int, str]], regexes: Iterable[tuple[int, str]]
) -> Matcher:
    """The one-pass matcher of ``(entry index, phrase)`` and ``(entry index, regex)``."""
    words: dict[str, list[int]] = {}
    chinese: dict[str, list[int]] = {}
    by_entry: dict[int, list[str]] = {}
    max_pieces = 1
    for index, phrase in phrases:
        text = normalise(phrase).text
        if not text.strip():
            continue
        if _latin_start(text) and _latin_end(text):
            words.setdefault(text, []).append(index)
            max_pieces = max(max_pieces, len(_PIECE.findall(text)))
        elif not _latin_start(text) and not _latin_end(text):
            chinese.setdefault(text, []).append(index)
        else:  # "qq群", "傻b": a word boundary on one side only
            by_entry.setdefault(index, []).append(_phrase_regex(phrase))
    for index, regex in regexes:
        by_entry.setdefault(index, []).append(f"(?:{regex})")
    lengths: dict[str, set[int]] = {}
    for text in chinese:
        lengths.setdefault(text[0], set()).add(len(text))
    alternation = "|".join(f"(?P<e{i}>{'|'.join(parts)})" for i, parts in sorted(by_entry.items()))
    return Matcher(
        words={k: tuple(dict.fromkeys(v)) for k, v in words.items()},
        max_pieces=max_pieces,
        chinese={k: tuple(dict.fromkeys(v)) for k, v in chinese.items()},
        lengths={k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()},
        regex=re.compile(alternation) if alternation else None,
    )


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

    def parts(name: str) -> tuple[re.Pattern[str], ...]:
        raw = data.get(name) or {}
        where = f"{lang}/{name}"
        try:
            phrases = compile_patterns(_strings(raw.get("phrases"), where), [])
            regexes = [re.compile(r) for r in _strings(raw.get("regexes"), where)]
        except re.error as exc:
            raise ConfigurationError(f"content lexicon {where}: {exc}") from None
        return tuple(p for p in (phrases, *regexes) if p is not None)

    entries = tuple(_entry(raw, lang) for raw in data["entries"])
    phrases: list[tuple[int, str]] = []
    regexes: list[tuple[int, str]] = []
    sounds: list[tuple[int, str]] = []
    for index, raw in enumerate(data["entries"]):
        where = f"{lang}/{raw['id']}"
        phrases += [(index, p) for p in _strings(raw.get("phrases"), where)]
        regexes += [(index, r) for r in _strings(raw.get("regexes"), where)]
        sounds += [(index, p) for p in _strings(raw.get("phrases"), where)]
        sounds += [(index, p) for p in _strings(raw.get("sounds"), where)]
    matcher = build_matcher(phrases, regexes)
    return Lexicon(
        lang,
        entries,
        section("allow"),
        section("opt_out"),
        matcher,
        tuple(sounds),
        section("legal"),
        parts("allow"),
        parts("legal"),
    )


@cache
def lexicon(lang: Lang) -> Lexicon:
    """The packaged lexicon of ``lang``, compiled once."""
    path = resources.files("forbear.domain.compliance").joinpath("lexicon", f"{lang}.yaml")
    return parse_lexicon(path.read_text(encoding="utf-8"), lang)


@cache
def _allow_pattern(allow: AllowList) -> re.Pattern[str] | None:
    return compile_patterns(allow.phrases, allow.regexes)
