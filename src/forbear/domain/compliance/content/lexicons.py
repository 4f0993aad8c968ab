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
