"""Normalising a message before anything reads it (issue 14, item 2): Traditional to
Simplified characters, full-width to half-width, lower case, one space between words, and
emoji and other pictographs moved out of the way. Pure functions; the OpenCC converter is
built once per process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from opencc import OpenCC

from forbear.assistant.nlu import Language

# CJK ideographs (the unified block and extension A, plus the compatibility block).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]")
_SPACES = re.compile(r"\s+")
# Chinese punctuation NFKC leaves alone, mapped to its ASCII look-alike so patterns match
# one form: 。 、 「 」 『 』 【 】 《 》 〜 ～ and the ideographic space.
_PUNCTUATION = str.maketrans(
    {
        "。": ".",
        "、": ",",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "【": "[",
        "】": "]",
        "《": "<",
        "》": ">",
        "〜": "~",
        "\u3000": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2014": "-",
        "\u2026": "...",
    }
)


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def _is_pictograph(ch: str) -> bool:
    """Emoji, pictographs, their modifiers and joiners (category So/Sk/Cs, variation
    selectors, ZWJ, regional indicators): they carry no words for the model."""
    code = ord(ch)
    if code in (0x200D, 0xFE0E, 0xFE0F) or 0x1F3FB <= code <= 0x1F3FF:
        return True
    if 0x1F1E6 <= code <= 0x1F1FF:  # regional indicators (flags)
        return True
    return unicodedata.category(ch) in ("So", "Cs", "Co", "Cn") and code > 0x2000


def strip_pictographs(text: str) -> str:
    """``text`` with each emoji or pictograph replaced by a space."""
    return "".join(" " if _is_pictograph(ch) else ch for ch in text)


def normalise(text: str) -> str:
    """Simplified, half-width, lower-case, emoji removed, spaces collapsed.

    ``"我想還款，１２００元 🙏"`` gives ``"我想还款,1200元"``. Control characters
    become spaces (binary junk never reaches the patterns as such)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_PUNCTUATION)
    text = strip_pictographs(text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _t2s().convert(text)
    return _SPACES.sub(" ", text.lower()).strip()


def cjk_share(text: str) -> float:
    """The share of CJK ideographs among the letters of ``text`` (a Latin word counts as
    one unit per two letters, so "我想pay" is still mostly Chinese)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text.lower()))
    units = cjk + latin / 2
    return cjk / units if units else 0.0


def detect_language(text: str, default: Language = "zh") -> Language:
    """``zh`` when at least a third of the letters are Chinese, ``en`` when the text has
    Latin letters and fewer Chinese ones, ``default`` when it has neither (digits, emoji)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text.lower()))
    if cjk == 0 and latin == 0:
        return default
    return "zh" if cjk_share(text) >= 1 / 3 else "en"
