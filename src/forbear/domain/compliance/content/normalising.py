"""Text normalised for matching: Traditional characters read as Simplified (OpenCC), width,
case, separators, interleaved punctuation and letter spacing removed, with a map back to the
original positions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

# ---------------------------------------------------------------- normalisation

_SEPARATOR_CHARS = frozenset("-_.*·•|/\\~+=#^`'\"")
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Pd", "Pc", "So", "Sk"})  # spaces, dashes, emoji
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "〜": "~", "～": "~"})
_LETTER_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?:[ \-_.*·•|/\\~+]{1,2}[a-z]){2,}(?![a-z0-9])")


# One punctuation mark between each of three or more single Chinese characters ("律,师,函",
# "拘。留。你"): an evasion, read without the marks. Lists of words ("姓名、电话") keep theirs.
_CJK = "\u3400-\u9fff\uf900-\ufaff"
_INTERLEAVED = re.compile(f"[{_CJK}](?:[,，、;；:：!！?？。.][{_CJK}]){{2,}}")


@cache
def _t2s() -> Any:
    """OpenCC's Traditional-to-Simplified converter, loaded once (its tables ship in the
    wheel)."""
    import opencc

    return opencc.OpenCC("t2s")


@cache
def simplified(char: str) -> str:
    """The Simplified form of one Chinese character (itself when it has none or when
    OpenCC would turn it into more than one character, which would break the offset map)."""
    out: str = _t2s().convert(char)
    return out if len(out) == 1 else char


def _is_cjk(char: str) -> bool:
    return (
        "\u3400" <= char <= "\u9fff"
        or "\uf900" <= char <= "\ufaff"
        or "\U00020000" <= char <= "\U0002ffff"
    )


@cache
def _char(char: str) -> str:
    """What one character reads as (step 1 of :func:`normalise`), cached per character."""
    if char.isascii():
        return char.lower()
    if unicodedata.category(char) == "Cf":
        return ""
    if _is_cjk(char):
        char = simplified(char)
    return unicodedata.normalize("NFKC", char).translate(_QUOTES).lower()


@cache
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
    #    NFKC (full-width -> half-width), curly quotes -> straight, lower case,
    #    Traditional -> Simplified (律師函 -> 律师函).
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for out in _char(char):
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
    # 3. letter-spaced Latin words ("a r r e s t", "j.a.i.l") are joined, and punctuation
    #    interleaved between single Chinese characters ("律,师,函") is dropped.
    joined = "".join(kept)
    drop: set[int] = set()
    if len(joined) > 4:
        for match in _INTERLEAVED.finditer(joined):
            drop.update(k for k in range(match.start() + 1, match.end(), 2))
    for match in _LETTER_SPACED.finditer(joined):
        drop.update(k for k in range(match.start(), match.end()) if not joined[k].isalpha())
    if drop:
        kept = [c for k, c in enumerate(kept) if k not in drop]
        kept_origin = [o for k, o in enumerate(kept_origin) if k not in drop]
    return Normalised("".join(kept), tuple(kept_origin))
