"""Languages of the web app: Simplified Chinese first (``zh-CN``), English switchable.

The language of a request is, first match wins: the ``lang`` query parameter, the
``forbear_lang`` cookie (set when a page is opened with ``?lang=``), for the API only the
``Accept-Language`` header (English when it prefers English), else ``zh-CN``.

The catalogue is one Python dict per language; a unit test checks that both hold the same
keys and the same ``{placeholders}``, so neither language can fall behind. Labels of the
domain's vocabularies (channels, outcomes, roles, fields, purposes, ...) are here too, so
pages and API messages never show a raw code to a collector without its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from starlette.requests import Request

from forbear.web.messages import common as _common

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT_LANG: Lang = "zh-CN"
LANG_COOKIE = "forbear_lang"


def parse_lang(value: str | None) -> Lang | None:
    """``zh``, ``zh-CN``, ``zh_cn`` -> ``zh-CN``; ``en``, ``en-US`` -> ``en``; else None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-")
    if code == "zh" or code.startswith("zh-"):
        return "zh-CN"
    if code == "en" or code.startswith("en-"):
        return "en"
    return None


def _accept_language(header: str) -> Lang | None:
    best: tuple[float, Lang] | None = None
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        lang = parse_lang(tag)
        if lang is None:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if best is None or quality > best[0]:
            best = (quality, lang)
    return best[1] if best else None


def request_lang(request: Request) -> Lang:
    chosen = parse_lang(request.query_params.get("lang")) or parse_lang(
        request.cookies.get(LANG_COOKIE)
    )
    if chosen is not None:
        return chosen
    if request.url.path.startswith("/api/"):
        # a system calling the API says what it wants; a browser's default English
        # does not turn a Chinese workbench English
        return _accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANG
    return DEFAULT_LANG


# The shared vocabulary, then every area's entries (:mod:`forbear.web.messages`).
ZH: dict[str, str] = dict(_common.ZH)
EN: dict[str, str] = dict(_common.EN)


def _merge_areas() -> None:
    """The areas' entries (:mod:`forbear.web.messages`) join the catalogue."""
    from forbear.web.messages import AREAS

    for area in AREAS:
        for base, extra in ((ZH, area.ZH), (EN, area.EN)):
            twice = sorted(set(base) & set(extra))
            if twice:
                raise RuntimeError(f"{area.__name__}: catalogue keys defined twice: {twice}")
            base.update(extra)


_merge_areas()
CATALOGUE: Mapping[Lang, Mapping[str, str]] = {"zh-CN": ZH, "en": EN}


class Translator:
    """``t("key", **values)`` in one language; an unknown key shows as itself (and a
    test keeps every key used by the templates in the catalogue)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._texts = CATALOGUE[lang]

    def __call__(self, key: str, /, **values: object) -> str:
        text = self._texts.get(key, key)
        return text.format(**values) if values else text

    def label(self, group: str, code: str | None) -> str:
        """The words for a vocabulary code (``label("channel", "sms")``); the code itself
        when the catalogue has none (a lender's own template code, say)."""
        if code is None:
            return "-"
        return self._texts.get(f"{group}.{code}", code)

    def has(self, key: str) -> bool:
        return key in self._texts

    @property
    def other(self) -> Lang:
        return "en" if self.lang == "zh-CN" else "zh-CN"
