"""Money: integer fen (分) everywhere, exact parsing and contract rounding.

DESIGN.md: money is an ``int`` number of fen in Python and ``Int64`` in Polars, never a
float. Rates are basis points (``int``) or ``Decimal``. Rounding follows the lender's
contract; the default is half up to one fen.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from forbear.domain.errors import ValidationError

FEN_PER_YUAN = 100
BP_PER_UNIT = 10_000  # basis points in 1 (100%)

_YUAN_RE = re.compile(r"^[+-]?(\d+)(\.(\d{1,2}))?$")


class Rounding(StrEnum):
    """How a fractional fen is rounded (the lender's contract decides)."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        return {
            Rounding.HALF_UP: ROUND_HALF_UP,
            Rounding.HALF_EVEN: ROUND_HALF_EVEN,
            Rounding.DOWN: ROUND_DOWN,
        }[self]


def div_round(numerator: int, denominator: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """``numerator / denominator`` rounded to an integer, exactly (no floats).

    Works for non-negative numerators and positive denominators, which is all the
    ledger needs (amounts owed are never negative).
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator < 0:
        raise ValueError("numerator must not be negative")
    q, r = divmod(numerator, denominator)
    if rounding is Rounding.DOWN or r == 0:
        return q
    twice = 2 * r
    if twice > denominator:
        return q + 1
    if twice < denominator:
        return q
    # exactly half
    if rounding is Rounding.HALF_UP:
        return q + 1
    return q + (q % 2)


def parse_yuan(text: str, *, field: str = "amount") -> int:
    """Parse a yuan amount written as text (``"1234.5"``, ``"88"``) into fen, exactly.

    Thousands separators and currency signs are accepted and removed (``"¥1,234.50"``);
    more than two decimals is an error rather than a silent rounding.
    """
    cleaned = text.strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    match = _YUAN_RE.match(cleaned)
    if match is None:
        raise ValidationError(field, f"not an amount in yuan with at most 2 decimals: {text!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValidationError(field, f"not a number: {text!r}") from exc
    return int(value * FEN_PER_YUAN)


def format_yuan(fen: int) -> str:
    """``123456`` -> ``"1,234.56"`` (no currency sign; callers add ¥ where they want)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{yuan:,}.{cents:02d}"
