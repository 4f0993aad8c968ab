"""Contractual repayment schedules (还款计划): 等额本息, 等额本金, 先息后本.

Rules (one loan, principal ``P``, ``n`` months, monthly rate ``r = annual_rate_bp/120000``):

- due dates: ``first_due_date``, then the same day of month as ``first_due_date`` in each
  following month, clamped to the month end (31 Jan -> 29 Feb -> 31 Mar);
- every amount is rounded once to the fen with the product's rounding;
- interest of an instalment is ``round(B * r)`` on the balance ``B`` before it;
- equal_instalment: level payment ``A = round(P r / (1 - (1+r)^-n))`` (``round(P/n)`` when
  ``r == 0``), principal ``A - interest``; equal_principal: principal ``round(P/n)``;
  interest_only: principal 0; the last instalment always takes the remaining balance;
- fee of every instalment is ``round(P * monthly_fee_bp / 10000)``.

:func:`amortise` is the one loop both the original schedule and a re-amortisation after a
prepayment use; :func:`amortise_frame` runs the same loop across many loans at once.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from forbear.domain.ledger.arith import (
    MONTHLY_RATE_DEN,
    div_round_expr,
    level_payment,
    level_payment_series,
    monthly_interest,
)
from forbear.domain.ledger.model import Instalment, LoanTerms
from forbear.domain.ledger.schema import INSTALMENTS, PRODUCTS
from forbear.domain.money import BP_PER_UNIT, Rounding, div_round
from forbear.domain.products import ProductTerms, RepaymentMethod

EI = RepaymentMethod.EQUAL_INSTALMENT.value
EP = RepaymentMethod.EQUAL_PRINCIPAL.value
IO = RepaymentMethod.INTEREST_ONLY.value


# ---------------------------------------------------------------------------- scalar


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months`` months, its day clamped to the target month's end."""
    total = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(total, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(anchor.day, last_day))


def due_dates(first_due_date: date, n: int) -> list[date]:
    return [add_months(first_due_date, k) for k in range(n)]


def level_for(
    method: RepaymentMethod, balance: int, annual_rate_bp: int, n: int, rounding: Rounding
) -> int:
    """The level amount a method keeps: the payment (等额本息), the principal (等额本金), or 0."""
    if method is RepaymentMethod.EQUAL_INSTALMENT:
        return level_payment(balance, annual_rate_bp, n, rounding)
    if method is RepaymentMethod.EQUAL_PRINCIPAL:
        return div_round(balance, n, rounding)
    return 0


def amortise(
    balance: int,
    level: int,
    method: RepaymentMethod,
    annual_rate_bp: int,
    count: int,
    rounding: Rounding,
    *,
    shorten: bool = False,
) -> list[tuple[int, int]]:
    """``(principal, interest)`` of up to ``count`` instalments repaying ``balance``.

    The last instalment takes whatever balance remains. With ``shorten`` the loop stops as
    soon as the balance is repaid (fewer instalments, the last one absorbing the remainder).
    Principal is kept within ``[0, balance]`` so that rounding can never overpay a tiny loan.
    """
    rows: list[tuple[int, int]] = []
    remaining = balance
    for k in range(1, count + 1):
        interest = monthly_interest(remaining, annual_rate_bp, rounding)
        if k == count:
            principal = remaining
        elif method is RepaymentMethod.EQUAL_INSTALMENT:
            principal = min(max(level - interest, 0), remaining)
        elif method is RepaymentMethod.EQUAL_PRINCIPAL:
            principal = min(level, remaining)
        else:
            principal = 0
        rows.append((principal, interest))
        remaining -= principal
        if shorten and remaining == 0:
            break
    return rows


def instalment_fee(principal: int, product: ProductTerms) -> int:
    return div_round(principal * product.monthly_fee_bp, BP_PER_UNIT, product.rounding)


def build_schedule(loan: LoanTerms, product: ProductTerms) -> list[Instalment]:
    """The contractual schedule of one loan; its principals sum to the loan principal."""
    n = loan.term_months
    level = level_for(product.method, loan.principal, loan.annual_rate_bp, n, product.rounding)
    rows = amortise(loan.principal, level, product.method, loan.annual_rate_bp, n, product.rounding)
    fee = instalment_fee(loan.principal, product)
    return [
        Instalment(loan.loan_id, k, due, principal, interest, fee)
        for k, (due, (principal, interest)) in enumerate(
            zip(due_dates(loan.first_due_date, n), rows, strict=True), start=1
        )
    ]


# ---------------------------------------------------------------------------- vectorised


def products_frame(products: Sequence[ProductTerms]) -> pl.DataFrame:
    """The ``schema.PRODUCTS`` frame of some products."""
    return pl.DataFrame(
        {
            "product_code": [p.code for p in products],
            "method": [p.method.value for p in products],
            "penalty_rate_bp": [p.penalty_rate_bp for p in products],
            "day_count": [p.day_count for p in products],
            "grace_days": [p.grace_days for p in products],
            "monthly_fee_bp": [p.monthly_fee_bp for p in products],
            "late_fee": [p.late_fee for p in products],
            "waterfall": [p.waterfall.value for p in products],
            "components": [",".join(c.value for c in p.components) for p in products],
            "prepayment": [p.prepayment.value for p in products],
            "early_payment": [p.early_payment.value for p in products],
            "rounding": [p.rounding.value for p in products],
        },
        schema=PRODUCTS,
    )


def with_level(frame: pl.DataFrame, balance: str = "balance", count: str = "count") -> pl.DataFrame:
    """Add ``level`` (see :func:`level_for`) computed exactly.

    The annuity needs big-integer arithmetic, so it runs in Python, but only once per
    distinct ``(balance, rate, count, rounding)`` of the equal-instalment rows; books have
    far fewer distinct combinations than loans.
    """
    keys = [balance, "annual_rate_bp", count, "rounding"]
    distinct = frame.lazy().filter(pl.col("method") == EI).select(keys).unique().collect()
    levels = distinct.with_columns(
        _level=level_payment_series(
            distinct[balance], distinct["annual_rate_bp"], distinct[count], distinct["rounding"]
        )
    )
    return (
        frame.lazy()
        .join(levels.lazy(), on=keys, how="left", maintain_order="left", nulls_equal=True)
        .with_columns(
            level=pl.when(pl.col("method") == EI)
            .then(pl.col("_level"))
            .when(pl.col("method") == EP)
            .then(div_round_expr(pl.col(balance), pl.col(count).cast(pl.Int64), pl.col("rounding")))
            .otherwise(pl.lit(0, dtype=pl.Int64))
        )
        .drop("_level")
        .collect(engine="in-memory")
    )


def amortise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`amortise` for many loans at once.

    Takes ``loan_id, balance, level, method, annual_rate_bp, count, rounding, shorten``;
    returns ``loan_id, k, principal, interest`` (``k`` 1-based), sorted by loan and ``k``.
    The loop runs over ``k`` (at most the longest term), each step a few numpy operations
    on the loans still amortising (a Polars query per step cost about a millisecond of
    planning and threads, whatever its size: the daily run re-amortises about 50 times
    over up to 36 steps); the integers are those of :func:`div_round_expr`, exactly.
    """
    n = frame.height
    loan_ids = frame["loan_id"]
    balance = frame["balance"].cast(pl.Int64).fill_null(0).to_numpy()
    level = frame["level"].cast(pl.Int64).to_numpy()
    rate = frame["annual_rate_bp"].cast(pl.Int64).fill_null(0).to_numpy()
    count = frame["count"].cast(pl.Int64).fill_null(0).to_numpy()
    method = frame["method"]
    ei = (method == EI).fill_null(False).to_numpy()
    ep = (method == EP).fill_null(False).to_numpy()
    rounding = frame["rounding"]
    down = (rounding == Rounding.DOWN.value).fill_null(False).to_numpy()
    even = (rounding == Rounding.HALF_EVEN.value).fill_null(False).to_numpy()
    shorten = frame["shorten"].fill_null(True).to_numpy()  # as the filter on a null did
    level_null = frame["level"].is_null().to_numpy()
    level = np.where(level_null, 0, level)
    rows: list[np.ndarray] = []
    ks: list[np.ndarray] = []
    principals: list[np.ndarray] = []
    interests: list[np.ndarray] = []
    live = np.flatnonzero(count >= 1)  # row positions still amortising
    b = balance.copy()
    max_count = int(count.max()) if n else 0
    for k in range(1, max_count + 1):
        live = live[count[live] >= k]
        if live.size == 0:
            break
        bl = b[live]
        interest = _div_round_np(bl * rate[live], MONTHLY_RATE_DEN, down[live], even[live])
        lv, lv_null = level[live], level_null[live]
        # min_horizontal / max_horizontal skip a null level: EI pays 0, EP the balance
        ei_principal = np.minimum(np.maximum(np.where(lv_null, 0, lv - interest), 0), bl)
        ep_principal = np.where(lv_null, bl, np.minimum(lv, bl))
        principal = np.where(
            count[live] == k,
            bl,
            np.where(ei[live], ei_principal, np.where(ep[live], ep_principal, 0)),
        )
        rows.append(live)
        ks.append(np.full(live.size, k, dtype=np.int32))
        principals.append(principal)
        interests.append(interest)
        b[live] = bl - principal
        live = live[~(shorten[live] & (b[live] == 0))]
    if not rows:
        return pl.DataFrame(
            schema={"loan_id": pl.Int64, "k": pl.Int32, "principal": pl.Int64, "interest": pl.Int64}
        )
    at = np.concatenate(rows)
    return pl.DataFrame(
        {
            "loan_id": loan_ids.gather(at),
            "k": np.concatenate(ks),
            "principal": np.concatenate(principals).astype(np.int64),
            "interest": np.concatenate(interests).astype(np.int64),
        }
    ).sort("loan_id", "k")


def _div_round_np(num: np.ndarray, den: int, down: np.ndarray, even: np.ndarray) -> np.ndarray:
    """:func:`div_round_expr` on numpy Int64 arrays (``num >= 0``, ``den > 0``); rows
    neither ``down`` nor ``even`` round half up."""
    q = num // den
    twice = 2 * (num - q * den)
    half_up = twice >= den
    half_even = (twice > den) | ((twice == den) & (q % 2 == 1))
    return q + np.where(down, False, np.where(even, half_even, half_up)).astype(np.int64)


def due_date_expr(first_due_date: pl.Expr, months: pl.Expr) -> pl.Expr:
    """:func:`add_months` in integer arithmetic (no per-row duration strings)."""
    total = first_due_date.dt.year().cast(pl.Int32) * 12 + first_due_date.dt.month() - 1 + months
    year, month = total // 12, total % 12 + 1
    last_day = pl.date(year, month, 1).dt.month_end().dt.day()
    return pl.date(year, month, pl.min_horizontal(first_due_date.dt.day(), last_day))


def schedules(loans: pl.LazyFrame, products: pl.LazyFrame) -> pl.LazyFrame:
    """``schema.INSTALMENTS`` for every loan of ``loans`` (``schema.LOANS``)."""
    terms = (
        loans.join(products, on="product_code", how="inner")
        .select(
            "loan_id",
            pl.col("principal").alias("balance"),
            "annual_rate_bp",
            pl.col("term_months").alias("count"),
            "method",
            "rounding",
            "first_due_date",
            pl.lit(False).alias("shorten"),
            div_round_expr(
                pl.col("principal") * pl.col("monthly_fee_bp").cast(pl.Int64),
                BP_PER_UNIT,
                pl.col("rounding"),
            ).alias("fee"),
        )
        .collect()
    )
    rows = amortise_frame(with_level(terms))
    return (
        rows.lazy()
        .join(terms.lazy().select("loan_id", "first_due_date", "fee"), on="loan_id")
        .select(
            "loan_id",
            pl.col("k").alias("seq"),
            due_date_expr(pl.col("first_due_date"), pl.col("k") - 1).alias("due_date"),
            "principal",
            "interest",
            "fee",
        )
        .cast(pl.Schema(INSTALMENTS))
        .sort("loan_id", "seq")
    )
