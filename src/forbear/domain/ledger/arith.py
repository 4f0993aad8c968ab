"""Exact integer arithmetic shared by the scalar ledger and the book's schedules.

Every path must produce the same integers, so every rounding goes through
:func:`forbear.domain.money.div_round` (scalar), :func:`div_round_expr` (Polars) or
``allocation.compiled.div_round`` (the compiled walk), which implement the same integer
rule: ``q, r = divmod(num, den)`` then round up on ``2r``
against ``den``. Monthly rate is ``annual_rate_bp / 120000`` exactly.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from forbear.domain.money import Rounding, div_round

MONTHLY_RATE_DEN = 12 * 10_000  # r = annual_rate_bp / MONTHLY_RATE_DEN


@lru_cache(maxsize=4096)
def _annuity_factor(annual_rate_bp: int, n: int) -> tuple[int, int]:
    """``r / (1 - (1+r)^-n)`` as an exact fraction ``(num, den)`` for ``r = bp/120000``."""
    base = MONTHLY_RATE_DEN
    grown = (base + annual_rate_bp) ** n
    num = annual_rate_bp * grown
    den = base * (grown - base**n)
    return num, den


def level_payment(principal: int, annual_rate_bp: int, n: int, rounding: Rounding) -> int:
    """The 等额本息 level payment ``P*r / (1 - (1+r)^-n)``, rounded once, exactly.

    With a zero rate the level payment is ``P / n`` rounded.
    """
    if n <= 0:
        raise ValueError("term must be positive")
    if annual_rate_bp == 0:
        return div_round(principal, n, rounding)
    num, den = _annuity_factor(annual_rate_bp, n)
    return div_round(principal * num, den, rounding)


def level_payment_series(
    principal: pl.Series, annual_rate_bp: pl.Series, n: pl.Series, rounding: pl.Series
) -> pl.Series:
    """:func:`level_payment` over columns. Callers pass distinct combinations only."""
    values = [
        level_payment(p, a, k, Rounding(rnd))
        for p, a, k, rnd in zip(
            principal.to_list(),
            annual_rate_bp.to_list(),
            n.to_list(),
            rounding.to_list(),
            strict=True,
        )
    ]
    return pl.Series(values, dtype=pl.Int64)


def div_round_expr(num: pl.Expr, den: pl.Expr | int, rounding: pl.Expr) -> pl.Expr:
    """``num / den`` rounded per the ``rounding`` column (a ``Rounding`` value), in Int64.

    Same rule as :func:`div_round` for ``num >= 0`` and ``den > 0``.
    """
    den_e = den if isinstance(den, pl.Expr) else pl.lit(den, dtype=pl.Int64)
    q = num // den_e
    twice = 2 * (num - q * den_e)
    half_up = q + (twice >= den_e).cast(pl.Int64)
    half_even = q + ((twice > den_e) | ((twice == den_e) & (q % 2 == 1))).cast(pl.Int64)
    return (
        pl.when(rounding == Rounding.DOWN.value)
        .then(q)
        .when(rounding == Rounding.HALF_EVEN.value)
        .then(half_even)
        .otherwise(half_up)
    )


def monthly_interest(balance: int, annual_rate_bp: int, rounding: Rounding) -> int:
    return div_round(balance * annual_rate_bp, MONTHLY_RATE_DEN, rounding)
