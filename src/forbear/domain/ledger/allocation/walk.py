"""The allocation rule over a whole book (:func:`walk_book`): frames in, the compiled loop
(:mod:`.compiled`), frames out.

This module lays the book out as the loop wants it (loans sorted by id, their
instalments and payments as flat arrays with offsets, the products' terms as small
arrays) and turns the loop's arrays back into frames. numba is imported on the first
walk, not with the ledger: a process that never walks a book does not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

from forbear.domain.ledger.allocation.components import COMPONENTS, CREDIT
from forbear.domain.ledger.schema import ALLOCATIONS, PRINCIPAL_PAID, SETTLED_LINES
from forbear.domain.ledger.settled import Settled
from forbear.domain.money import Rounding
from forbear.domain.products import (
    EarlyPayment,
    PrepaymentRule,
    RepaymentMethod,
    WaterfallOrder,
)

ROUNDING_CODES = {Rounding.HALF_UP.value: 0, Rounding.DOWN.value: 1, Rounding.HALF_EVEN.value: 2}
METHOD_CODES = {
    RepaymentMethod.EQUAL_INSTALMENT.value: 0,
    RepaymentMethod.EQUAL_PRINCIPAL.value: 1,
    RepaymentMethod.INTEREST_ONLY.value: 2,
}
COMPONENT_CODES = {c.value: k for k, c in enumerate(COMPONENTS)}
NO_DAY = -(2**62)  # the loop's "no such date" (``compiled.NO_DAY``)
MONTHLY_RATE_BASE = 12 * 10_000

UNPAID = [f"u_{c.value}" for c in COMPONENTS]
"""Columns of :attr:`Walked.lines`: what is unpaid of each component."""

FIGURES: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "oldest_unpaid_due_date": pl.Date(),
    "next_due_date": pl.Date(),
    "next_due_amount": pl.Int64(),
    "unpaid": pl.Int64(),
    "outstanding_principal": pl.Int64(),
    **{f"overdue_{c.value}": pl.Int64() for c in COMPONENTS},
    "credit": pl.Int64(),
    "paid_total": pl.Int64(),
    "last_payment_date": pl.Date(),
}
"""Columns of :attr:`Walked.figures`, one row per loan: what its state is made of (see
:func:`forbear.domain.ledger.state.states_frame`)."""


@dataclass(frozen=True, slots=True)
class Walked:
    """A book after all its payments, advanced to the as-of date."""

    figures: pl.DataFrame  # FIGURES, one row per loan, sorted by loan_id
    allocations: pl.LazyFrame  # schema.ALLOCATIONS: by loan, payment order, the waterfall's
    lines: pl.DataFrame | None  # the effective schedules: loan_id, seq, due_date, UNPAID
    settled: Settled | None = None  # the settlement history (``walk_book(settle=True)``)


def walk_book(
    book: pl.DataFrame,
    products: pl.DataFrame,
    instalments: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    *,
    with_lines: bool = False,
    settle: bool = False,
) -> Walked:
    """Apply every payment on or before ``as_of`` of every loan of ``book``.

    ``book``: ``schema.LOANS`` rows of loans started by ``as_of``, sorted by ``loan_id``,
    with ``_prod``, the row of the loan's product in ``products`` (``schema.PRODUCTS``);
    ``instalments`` and ``payments`` may hold other loans' rows too (they are left
    out). ``with_lines``: also return the effective schedules (tests, inspection).
    ``settle``: also return the settlement history (:mod:`forbear.domain.ledger.settled`),
    from the same loop's allocations.
    """
    from forbear.domain.ledger.allocation import compiled  # numba: on the first walk

    lines_df, pays_df = pl.collect_all(
        [
            instalments.select(
                "loan_id",
                "seq",
                pl.col("due_date").cast(pl.Int32).alias("due"),
                "principal",
                "interest",
                "fee",
            ),
            payments.filter(pl.col("paid_on") <= as_of).select(
                "loan_id",
                "payment_id",
                pl.col("paid_on").cast(pl.Int32).alias("day"),
                "amount",
            ),
        ]
    )
    loan_id = _ints(book["loan_id"])
    n_loans = len(loan_id)
    # each loan's rows, in (seq) and (day, payment_id) order; other loans' rows left out
    seq = _ints(lines_df["seq"])
    line_rows, line_start = compiled.group(
        compiled.owners(_ints(lines_df["loan_id"]), loan_id), n_loans, seq, seq
    )
    pay_rows, pay_start = compiled.group(
        compiled.owners(_ints(pays_df["loan_id"]), loan_id),
        n_loans,
        _ints(pays_df["day"]),
        _ints(pays_df["payment_id"]),
    )
    # (a gather makes a new array: C-contiguous and writable, as the loop wants)
    lines = {name: _column(lines_df[name])[line_rows] for name in lines_df.columns}
    pays = {name: _column(pays_df[name])[pay_rows] for name in pays_df.columns}
    del lines_df, pays_df
    prod = _ints(book["_prod"])
    terms = _product_terms(products)
    rate = _ints(book["annual_rate_bp"])
    term = _ints(book["term_months"])
    rate_row, factor = _annuity_factors(prod, terms["method"], rate, term, np.diff(line_start))
    out: tuple[Any, ...] = compiled.walk(
        line_start,
        pay_start,
        prod,
        _ints(book["principal"]),
        term,
        rate,
        rate_row,
        lines["due"],
        lines["fee"],
        lines["interest"],
        lines["principal"],
        pays["day"],
        pays["amount"],
        terms["penalty_rate_bp"],
        terms["penalty_den"],
        terms["grace_days"],
        terms["late_fee"],
        terms["rounding"],
        terms["instalment_first"],
        terms["order"],
        terms["current"],
        terms["shorten"],
        terms["method"],
        factor,
        _day(as_of),
    )
    (u, live_end, a_pay, a_line, a_comp, a_amount) = out[:6]
    (oldest, next_due, next_amount, unpaid, outstanding, overdue, credit, paid, last) = out[6:]

    figures = pl.DataFrame(
        {
            "loan_id": loan_id,
            "oldest_unpaid_due_date": _dates(oldest),
            "next_due_date": _dates(next_due),
            "next_due_amount": pl.Series(np.ma.masked_array(next_amount, next_due == NO_DAY)),
            "unpaid": unpaid,
            "outstanding_principal": outstanding,
            **{f"overdue_{c.value}": overdue[:, k] for k, c in enumerate(COMPONENTS)},
            "credit": credit,
            "paid_total": paid,
            "last_payment_date": _dates(last),
        }
    ).cast(pl.Schema(FIGURES))  # (``schema=`` above would convert numpy arrays slowly)

    def allocations() -> pl.DataFrame:
        names = pl.Series([c.value for c in COMPONENTS] + [CREDIT])
        return pl.DataFrame(
            {
                "payment_id": pays["payment_id"][a_pay],
                "loan_id": pays["loan_id"][a_pay],
                "seq": pl.Series(
                    np.ma.masked_array(
                        lines["seq"][np.maximum(a_line, 0)].astype(np.int32),
                        a_line == compiled.NO_LINE,
                    )
                ),
                "component": names.gather(a_comp.astype(np.int64)),
                "amount": a_amount,
            }
        ).cast(pl.Schema(ALLOCATIONS))

    settled = None
    if settle:
        settled = _settled(book, lines, pays, line_start, pay_start, terms, prod, out, as_of)
    walked_lines = None
    if with_lines:
        live = np.zeros(len(lines["due"]), dtype=bool)
        for start, end in zip(line_start[:-1], live_end, strict=True):
            live[start:end] = True
        walked_lines = pl.DataFrame(
            {
                "loan_id": lines["loan_id"][live],
                "seq": lines["seq"][live],
                "due_date": lines["due"][live],
                **{name: u[live, k] for k, name in enumerate(UNPAID)},
            }
        ).with_columns(
            pl.col("seq").cast(pl.Int32), pl.col("due_date").cast(pl.Int32).cast(pl.Date)
        )
    # the allocations as a frame only when read: the daily run reads its settlement history
    # instead (a frame of a range's 600,000 allocations costs about 20 ms)
    deferred = pl.defer(allocations, schema=ALLOCATIONS)
    return Walked(figures, deferred, walked_lines, settled)


def _settled(
    book: pl.DataFrame,
    lines: dict[str, np.ndarray],
    pays: dict[str, np.ndarray],
    line_start: np.ndarray,
    pay_start: np.ndarray,
    terms: dict[str, np.ndarray],
    prod: np.ndarray,
    out: tuple[Any, ...],
    as_of: date,
) -> Settled:
    """The settlement history of a walked book from the loop's own arrays (``out``)."""
    from forbear.domain.ledger.allocation import compiled

    (_, _, a_pay, a_line, a_comp, a_amount, oldest, _, _, unpaid) = out[:10]
    start = _ints(book["start_date"].cast(pl.Int32))
    written_off = _ints(book["written_off_on"].cast(pl.Int32).cast(pl.Int64).fill_null(NO_DAY))
    settled_on, pay_principal = compiled.settlement(
        line_start,
        pay_start,
        a_pay,
        a_line,
        a_comp,
        a_amount,
        pays["day"],
        lines["due"],
        start,
        written_off,
        unpaid,
        oldest,
        _day(as_of),
    )
    counts = np.diff(line_start)
    grace = np.repeat(terms["grace_days"][prod], counts)
    frame = pl.DataFrame(
        {
            "loan_id": lines["loan_id"],
            "seq": lines["seq"],
            "due": lines["due"],
            "deadline": lines["due"] + grace,
            "grace_days": grace,
            "amount": lines["principal"] + lines["interest"] + lines["fee"],
            "settled_on": _days(settled_on),
            "start": np.repeat(start, counts),
            "written_off": _days(np.repeat(written_off, counts)),
        }
    ).cast(pl.Schema(SETTLED_LINES))
    paid = pay_principal > 0
    principal = pl.DataFrame(
        {
            "loan_id": pays["loan_id"][paid],
            "paid": pays["day"][paid],
            "amount": pay_principal[paid],
        }
    ).cast(pl.Schema(PRINCIPAL_PAID))
    return Settled(as_of, frame, principal)


def _dates(days: np.ndarray) -> pl.Series:
    """Day numbers as dates, ``NO_DAY`` as null."""
    return _days(days).cast(pl.Date)


def _days(days: np.ndarray) -> pl.Series:
    """Day numbers as Int32, ``NO_DAY`` as null."""
    missing = days == NO_DAY
    return pl.Series(np.ma.masked_array(np.where(missing, 0, days).astype(np.int32), mask=missing))


def _column(series: pl.Series) -> np.ndarray:
    """A column as int64 numpy, read-only when Polars can lend its buffer."""
    return series.cast(pl.Int64).to_numpy()


def _ints(series: pl.Series) -> np.ndarray:
    return _array(series.cast(pl.Int64).to_numpy(), np.int64)


def _array(values: np.ndarray, dtype: type) -> np.ndarray:
    """``values`` as the loop's one signature wants them: C-contiguous and writable
    (numba compiles, and caches, another version for a read-only or strided array)."""
    return np.require(values, dtype, ["C_CONTIGUOUS", "WRITEABLE", "ALIGNED"])


def _day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _product_terms(products: pl.DataFrame) -> dict[str, np.ndarray]:
    """The products' terms the loop reads, one array element per product row."""

    def codes(column: str, mapping: dict[str, int]) -> np.ndarray:
        return np.array([mapping[v] for v in products[column].to_list()], dtype=np.int64)

    order = np.array(
        [
            [COMPONENT_CODES[c] for c in str(value).split(",")]
            for value in products["components"].to_list()
        ],
        dtype=np.int64,
    ).reshape(products.height, len(COMPONENTS))
    return {
        "penalty_rate_bp": _ints(products["penalty_rate_bp"]),
        "penalty_den": _ints(products["day_count"]) * 10_000,
        "grace_days": _ints(products["grace_days"]),
        "late_fee": _ints(products["late_fee"]),
        "rounding": codes("rounding", ROUNDING_CODES),
        "instalment_first": _flags(products["waterfall"], WaterfallOrder.INSTALMENT_FIRST),
        "order": order,
        "current": (products["early_payment"] == EarlyPayment.CURRENT_INSTALMENT.value).to_numpy(),
        "shorten": (products["prepayment"] == PrepaymentRule.SHORTEN_TERM.value).to_numpy(),
        "method": codes("method", METHOD_CODES),
    }


def _flags(column: pl.Series, value: StrEnum) -> np.ndarray:
    return _array((column == value.value).to_numpy(), np.bool_)


def _annuity_factors(
    prod: np.ndarray,
    methods: np.ndarray,
    rate: np.ndarray,
    term: np.ndarray,
    lines: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per loan its row of the factor table, and the table: ``factor[row, n]`` is the
    correctly rounded float of ``r / (1 - (1+r)^-n)``, ``r = rate / 120000``, for every
    rate of an equal-instalment loan and every ``n`` up to the longest term or schedule
    of those loans (CPython divides integers with correct rounding)."""
    ei = methods[prod] == METHOD_CODES[RepaymentMethod.EQUAL_INSTALMENT.value]
    rate_row = np.zeros(len(prod), dtype=np.int64)
    if not ei.any():
        return rate_row, np.zeros((1, 2), dtype=np.float64)
    distinct, inverse = np.unique(rate[ei], return_inverse=True)
    rate_row[ei] = inverse
    width = int(max(term[ei].max(), lines[ei].max())) + 1
    factor = np.zeros((len(distinct), max(width, 2)), dtype=np.float64)
    base = MONTHLY_RATE_BASE
    for row, value in enumerate(distinct.tolist()):
        if value == 0:
            continue  # the loop divides by n itself
        grown, flat = 1, 1
        for n in range(1, width):
            grown *= base + value
            flat *= base
            factor[row, n] = (value * grown) / (base * (grown - flat))
    return rate_row, factor
