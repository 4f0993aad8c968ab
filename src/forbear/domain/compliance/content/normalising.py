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
def _separator_runs() -> re.Pattern[str]:
    """Runs of separator characters, as one compiled class (built once from the Unicode
    tables: every code point :func:`_is_separator` accepts, up to U+1FFFF)."""
    ranges: list[str] = []
    start = None
    for code in range(0x20000):
        ok = not (0xD800 <= code <= 0xDFFF) and _is_separator(chr(code))
        if ok and start is None:
            start = code
        elif not ok and start is not None:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    return re.compile(f"[{''.join(ranges)}]+")


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
    mapped = "".join(map(_char, text))
    chars: str
    origin: list[int]
    if len(mapped) == len(text):  # one character for one (nearly always): no loop
        chars, origin = mapped, list(range(len(text)))
    else:
        out_chars: list[str] = []
        origin = []
        for index, char in enumerate(text):
            for out in _char(char):
                out_chars.append(out)
                origin.append(index)
        chars = "".join(out_chars)
    # 2. separator runs: gone between two Chinese characters ("公 安", "公-安", "公🔥安"),
    #    one space if they hold whitespace, kept as they are otherwise ("400-123"). Only
    #    the runs that change are touched; the text between them is copied in slices.
    pieces: list[str] = []
    kept_origin: list[int] = []
    last, n = 0, len(chars)
    for run in _separator_runs().finditer(chars):
        i, j = run.span()
        before = chars[i - 1] if i else ""
        after = chars[j] if j < n else ""
        group = run.group()
        if before and after and _is_cjk(before) and _is_cjk(after):
            replacement = None  # dropped
        elif group[0] == "." and before.isalnum() and group[1:2].isspace():
            # a full stop ending a sentence stays one: "We may sue you. Jail ..." must not
            # read as one clause (the allow-lists' spans stop at sentence ends)
            if group == ". ":
                continue
            replacement = ". "
        elif group != " " and any(c.isspace() for c in group):
            replacement = " "
        else:
            continue  # kept as it is
        pieces.append(chars[last:i])
        kept_origin.extend(origin[last:i])
        if replacement == ". ":
            pieces.append(replacement)
            kept_origin.extend((origin[i], origin[i + 1]))
        elif replacement is not None:
            pieces.append(replacement)
            kept_origin.append(origin[i])
        last = j
    pieces.append(chars[last:])
    kept_origin.extend(origin[last:])
    kept = list("".join(pieces))
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
