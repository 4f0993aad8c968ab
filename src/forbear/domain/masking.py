"""Masking of personal data for display (DESIGN.md: masked everywhere it is shown unless
the viewer's role and purpose allow it; REGULATIONS.md CN.DATA.*).

Pure functions, no I/O. Each keeps the customary visible part (the surname, the mobile
prefix and last four digits, the first four and last four of an ID number, the first
letter of an e-mail, the province/city prefix of an address) and replaces every other
character with ``*``, one star per hidden character.

Short values never come back whole: when a value is no longer than the part normally
kept, the kept part shrinks (to a quarter of the value at each end) so at least one
character is always hidden.
"""

from __future__ import annotations

import re
import unicodedata

MASK = "*"
_NON_DIGITS = re.compile(r"[^0-9]")


def _mask_middle(value: str, head: int, tail: int) -> str:
    """Keep ``head`` characters at the start and ``tail`` at the end, star the rest."""
    n = len(value)
    if n == 0:
        return ""
    if n <= head + tail:
        head, tail = min(head, n // 4), min(tail, n // 4)
    hidden = n - head - tail
    return value[:head] + MASK * hidden + (value[n - tail :] if tail else "")


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F") and char.isalpha()


def mask_name(name: str) -> str:
    """``"张三丰"`` -> ``"张**"``; ``"Li Lei"`` -> ``"L* L**"`` (initial of each word)."""
    text = name.strip()
    if any(_is_cjk(char) for char in text):
        # Chinese (and minority names written with ``·``): keep the surname character.
        return _mask_middle(text, 1, 0)
    return " ".join(_mask_middle(word, 1, 0) for word in text.split())


def mask_mobile(mobile: str) -> str:
    """``"13812345678"`` -> ``"138****5678"``.

    Separators and a ``+86`` / ``0086`` prefix are dropped first, so every format of the
    same number masks the same way.
    """
    text = mobile.strip()
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and rest.startswith("1"):
            digits = rest
            break
    if len(digits) >= 7:
        return _mask_middle(digits, 3, 4)
    return _mask_middle(text, 3, 4)


def mask_national_id(national_id: str) -> str:
    """``"410105199001011234"`` -> ``"4101**********1234"`` (first four, last four)."""
    return _mask_middle(national_id.strip(), 4, 4)


def mask_email(email: str) -> str:
    """``"zhangsan@example.com"`` -> ``"z*******@example.com"``: the domain stays."""
    text = email.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return _mask_middle(text, 1, 0)
    return _mask_middle(local, 1, 0) + at + domain


def mask_address(address: str) -> str:
    """Keep the first six characters (province and city, e.g. ``"广东省深圳市"``), star the rest."""
    return _mask_middle(address.strip(), 6, 0)
