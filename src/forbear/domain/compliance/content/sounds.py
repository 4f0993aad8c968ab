"""The pinyin layer: the Chinese lexicon heard, not read (issue 17).

A collector who writes 再不换钱小心被拘溜 or "ni bu huan qian wo men jiu qu ni gong si" means
还钱, 拘留 and 去你公司; the characters differ, the sounds do not. Every Chinese phrase of
the lexicon (and its ``sounds:`` list, phrases matched only by sound) becomes a sequence of
toneless pinyin syllables (pypinyin, phrase-aware: 还钱 is huan qian). The text becomes a
stream of units: a Chinese character with every reading it has (heteronyms: 还 is hai and
huan), or a syllable of a romanised run of Latin words (split into syllables, so "nibuhuan"
counts too). A phrase matches where its syllables follow each other in the stream.

Guard rails against false alarms, measured on the polite part of the corpus:

- a two-syllable phrase needs the exact syllables and at least one of its own characters in
  place (拘溜 keeps 拘), so 统计 is not 通缉 and 经查 is not 警察;
- phrases of three syllables or more also match through the usual confusions
  (zh/z, ch/c, sh/s, n/l, -ng/-n);
- Latin words count as pinyin only in a run of three syllables or more that are all
  pinyin ("a man" is English).

Pure: pypinyin's dictionaries ship in its wheel and are read once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from forbear.domain.compliance.content.normalising import _is_cjk

# Syllables that are also English function words or lone consonants: never a unit of a
# romanised run on their own.
_NOT_SYLLABLES = frozenset({"n", "m", "ng", "hm", "hng", "r", "er"})
_LATIN = re.compile(r"[a-z]+")

# Characters too common to stand in for a near-character: 入与 is not 入狱, 还是 is not 还钱.
# A two-syllable phrase heard through one of these is not heard at all.
_FUNCTION_CHARS = frozenset(
    "与和的了是在于及或为以对将被把给向从到等也就都而并其之这那你我他她它们有无不没可能会要"
    "请您已还再又更最很得地着过个一二三上下中来去说让使由按如若则但却只才每各该此本"
)


def _fuzzy(syllable: str) -> str:
    s = syllable
    for long, short in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(long):
            s = short + s[2:]
            break
    if s.startswith("n"):
        s = "l" + s[1:]
    if s.endswith("ng") and len(s) > 2:
        s = s[:-1]
    return s


def _toneless(marked: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFD", marked) if not unicodedata.combining(c))
    return bare.replace("ü", "v").lower()


@cache
def syllables() -> frozenset[str]:
    """Every toneless syllable of pypinyin's dictionary (less the lone consonants)."""
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for readings in pinyin_dict.values():
        found.update(_toneless(r) for r in readings.split(","))
    return frozenset(found - _NOT_SYLLABLES)


@cache
def readings(char: str) -> frozenset[str]:
    """The toneless readings of one Chinese character (all of them: heteronyms)."""
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    return frozenset(r.replace("ü", "v") for r in (found[0] if found else []))


def phrase_syllables(phrase: str) -> tuple[str, ...]:
    """The toneless syllables of a Chinese phrase as it is read (phrase-aware)."""
    from pypinyin import Style, lazy_pinyin

    return tuple(s.replace("ü", "v") for s in lazy_pinyin(phrase, style=Style.NORMAL))


@cache
def split_syllables(word: str) -> list[int] | None:
    """Where a Latin word splits into pinyin syllables (end offsets), or ``None``. Longest
    syllable first, backtracking: "xian" is one syllable, "xian" never "xi an"."""
    valid = syllables()
    memo: dict[int, list[int] | None] = {}

    def go(start: int) -> list[int] | None:
        if start == len(word):
            return []
        if start in memo:
            return memo[start]
        memo[start] = None
        for end in range(min(len(word), start + 6), start, -1):
            if word[start:end] in valid:
                rest = go(end)
                if rest is not None:
                    memo[start] = [end, *rest]
                    break
        return memo[start]

    return go(0)


class _Unit(NamedTuple):  # a tuple: built for every character of every text checked
    start: int  # in the normalised text
    end: int
    exact: frozenset[str]
    fuzzy: frozenset[str]
    char: str  # the Chinese character, "" for a romanised syllable


def _units(text: str) -> list[_Unit | None]:
    """The stream: a unit per Chinese character or romanised syllable; ``None`` breaks it
    (digits, punctuation, English words)."""
    units: list[_Unit | None] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if _is_cjk(char):
            exact, fuzzy = _cjk_unit(char)
            if exact:
                units.append(_Unit(i, i + 1, exact, fuzzy, char))
            else:
                units.append(None)
            i += 1
        elif "a" <= char <= "z":
            run: list[_Unit] = []
            j = i
            while j < n:
                match = _LATIN.match(text, j)
                if match is None:
                    break
                ends = split_syllables(match.group())
                if ends is None:
                    break
                begin = match.start()
                for end in ends:
                    syllable = text[begin : match.start() + end]
                    run.append(
                        _Unit(
                            begin,
                            match.start() + end,
                            frozenset([syllable]),
                            frozenset([_fuzzy(syllable)]),
                            "",
                        )
                    )
                    begin = match.start() + end
                j = match.end()
                while j < n and text[j] == " ":
                    j += 1
            if len(run) >= 3:
                units.extend(run)
                units.append(None)
                i = max(j, i + 1)
            else:
                match = _LATIN.match(text, i)
                i = match.end() if match is not None else i + 1
                units.append(None)
        else:
            if not char.isspace():
                units.append(None)
            i += 1
    return units


@dataclass(frozen=True, slots=True)
class SoundPhrase:
    entry: int
    phrase: str
    exact: tuple[str, ...]
    fuzzy: tuple[str, ...]


@cache
def _cjk_unit(char: str) -> tuple[frozenset[str], frozenset[str]]:
    found = readings(char)
    return found, frozenset(map(_fuzzy, found))


@dataclass(frozen=True, slots=True, eq=False)
class SoundIndex:
    """The lexicon's phrases by the fuzzy form of their first syllable."""

    by_first: dict[tuple[str, str], tuple[SoundPhrase, ...]]  # 3+ syllables, by the first two
    pairs: dict[str, tuple[SoundPhrase, ...]]  # two syllables, by either of their characters
    romanised_pairs: dict[str, tuple[SoundPhrase, ...]]  # two syllables, by first syllable

    def starting(self, char: str) -> tuple[SoundPhrase, ...]:
        """The phrases a Chinese character may begin (by any of its readings), cached."""
        return _starting(self, char)

    def find(self, text: str) -> list[tuple[int, int, int, str]]:
        """``(entry index, start, end, phrase)`` of every phrase heard in the normalised
        ``text`` whose characters are not the phrase itself (the lexicon reads those)."""
        if not self.by_first and not self.pairs:
            return []
        # Fast path: no Chinese character can begin a phrase and no Latin run of three
        # words or more: nothing to hear (most texts).
        if _LATIN_RUN.search(text) is None and _CJK_ANY.search(text) is None:
            return []
        units = _units(text)
        found: list[tuple[int, int, int, str]] = []
        for i, unit in enumerate(units):
            if unit is None:
                continue
            if unit.char:  # a two-character phrase with this character in place
                for pair in self.pairs.get(unit.char, ()):
                    at = i if pair.phrase[0] == unit.char else i - 1
                    if at < 0 or _match(units, at, pair) is None:
                        continue
                    one, two = units[at], units[at + 1]
                    assert one is not None and two is not None
                    span = (one.start, two.end)
                    if text[span[0] : span[1]] != pair.phrase:
                        found.append((pair.entry, span[0], span[1], pair.phrase))
            else:
                for syllable in unit.exact:
                    for pair in self.romanised_pairs.get(syllable, ()):
                        end = _match(units, i, pair)
                        if end is not None:
                            last = units[end - 1]
                            assert last is not None
                            found.append((pair.entry, unit.start, last.end, pair.phrase))
            after = units[i + 1] if i + 1 < len(units) else None
            if after is None:
                continue
            heads = [(a, b) for a in unit.fuzzy for b in after.fuzzy if (a, b) in self.by_first]
            for head in heads:
                for candidate in self.by_first[head]:
                    end = _match(units, i, candidate)
                    if end is None:
                        continue
                    start_at, end_at = unit.start, units[end - 1].end  # type: ignore[union-attr]
                    if text[start_at:end_at] == candidate.phrase:
                        continue
                    found.append((candidate.entry, start_at, end_at, candidate.phrase))
        return found


_CJK_ANY = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN_RUN = re.compile(r"[a-z]+(?: [a-z]+){2,}|[a-z]{6,}")


@cache
def _starting(index: SoundIndex, char: str) -> tuple[SoundPhrase, ...]:
    fuzzy = _cjk_unit(char)[1]
    return tuple(p for head, ps in index.by_first.items() if head[0] in fuzzy for p in ps) + tuple(
        index.pairs.get(char, ())
    )


def _match(units: Sequence[_Unit | None], i: int, phrase: SoundPhrase) -> int | None:
    size = len(phrase.exact)
    if i + size > len(units):
        return None
    window = units[i : i + size]
    if any(u is None for u in window):
        return None
    chosen = [u for u in window if u is not None]
    if size == 2:
        if not all(s in u.exact for s, u in zip(phrase.exact, chosen, strict=True)):
            return None
        if any(u.char for u in chosen):  # Chinese: one character in place, the other rare
            pairs = list(zip(chosen, phrase.phrase, strict=False))
            if not any(u.char == c for u, c in pairs):
                return None
            if any(u.char != c and u.char in _FUNCTION_CHARS for u, c in pairs):
                return None
        return i + size
    if all(s in u.fuzzy for s, u in zip(phrase.fuzzy, chosen, strict=True)):
        return i + size
    return None


def build_sound_index(phrases: Sequence[tuple[int, str]]) -> SoundIndex:
    """The index of ``(entry index, phrase)``: Chinese phrases of two characters or more."""
    by_first: dict[tuple[str, str], list[SoundPhrase]] = {}
    pairs: dict[str, list[SoundPhrase]] = {}
    romanised: dict[str, list[SoundPhrase]] = {}
    seen: set[tuple[int, str]] = set()
    for entry, phrase in phrases:
        if len(phrase) < 2 or not all(_is_cjk(c) for c in phrase) or (entry, phrase) in seen:
            continue
        seen.add((entry, phrase))
        exact = phrase_syllables(phrase)
        if len(exact) != len(phrase):
            continue
        fuzzy = tuple(_fuzzy(s) for s in exact)
        sound = SoundPhrase(entry, phrase, exact, fuzzy)
        if len(exact) == 2:
            for char in dict.fromkeys(phrase):
                pairs.setdefault(char, []).append(sound)
            romanised.setdefault(exact[0], []).append(sound)
        else:
            by_first.setdefault((fuzzy[0], fuzzy[1]), []).append(sound)
    return SoundIndex(
        {k: tuple(v) for k, v in by_first.items()},
        {k: tuple(v) for k, v in pairs.items()},
        {k: tuple(v) for k, v in romanised.items()},
    )
