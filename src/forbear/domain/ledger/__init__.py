"""The ledger: schedules, penalty, payment allocation and account state, written twice.

The scalar path (one loan, plain dataclasses, readable loops) is the executable
specification; the vectorised path (Polars, the whole book) is what the daily batch runs.
Tests check that both give the same integers.

Scalar::

    build_schedule(loan, product) -> list[Instalment]
    run_ledger(loan, product, instalments, payments, as_of, buckets=DEFAULT_BUCKETS)
        -> LedgerResult(state, allocations)

Vectorised (frames follow :mod:`forbear.domain.ledger.schema`)::

    products_frame(products) -> pl.DataFrame                      # PRODUCTS
    schedules(loans, products) -> pl.LazyFrame                    # INSTALMENTS
    account_states(loans, products, instalments, payments, as_of, buckets=DEFAULT_BUCKETS)
        -> BookResult(states: pl.LazyFrame, allocations: pl.LazyFrame)  # STATES, ALLOCATIONS
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.ledger.allocation import (
    COMPONENTS,
    NO_EVENT,
    POS,
    LoanBook,
    U,
    advance_expr,
    allocate_book,
)
from forbear.domain.ledger.model import (
    AccountState,
    Allocation,
    Instalment,
    LedgerResult,
    LoanTerms,
    Payment,
)
from forbear.domain.ledger.schedules import build_schedule, products_frame, schedules
from forbear.domain.ledger.state import DEFAULT_BUCKETS, BucketScheme, state_of, states_frame
from forbear.domain.money import BP_PER_UNIT
from forbear.domain.products import Component, EarlyPayment, ProductTerms, WaterfallOrder

__all__ = [
    "DEFAULT_BUCKETS",
    "AccountState",
    "Allocation",
    "BookResult",
    "BucketScheme",
    "Instalment",
    "LedgerResult",
    "LoanTerms",
    "Payment",
    "account_states",
    "account_states_partitioned",
    "build_schedule",
    "products_frame",
    "run_ledger",
    "schedules",
]


def run_ledger(
    loan: LoanTerms,
    product: ProductTerms,
    instalments: Sequence[Instalment],
    payments: Sequence[Payment],
    as_of: date,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> LedgerResult:
    """One loan's state as of ``as_of`` and how each payment on or before it was allocated."""
    if loan.start_date > as_of:
        raise ValidationError("as_of", "the loan starts after this date")
    book = LoanBook.open(loan, product, instalments)
    taken = sorted(
        (p for p in payments if p.paid_on <= as_of and p.loan_id == loan.loan_id),
        key=lambda p: (p.paid_on, p.payment_id),
    )
    for payment in taken:
        book.pay(payment)
    book.advance(as_of)
    return LedgerResult(state_of(book, as_of, taken, buckets), book.allocations)


@dataclass(frozen=True, slots=True)
class BookResult:
    states: pl.LazyFrame  # schema.STATES, one row per loan started on or before as_of
    allocations: pl.LazyFrame  # schema.ALLOCATIONS


def account_states(
    loans: pl.LazyFrame,
    products: pl.LazyFrame,
    instalments: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> BookResult:
    """:func:`run_ledger` for every loan of a book at once.

    Allocation is sequential per loan (penalty depends on when principal was paid), so
    this iterates over the payment rank ``k``: step ``k`` is a handful of Polars operations
    on the loans that have a ``k``-th payment and only their lines that can still change.
    Loans without payments take no step at all. Raises ``ValidationError`` when a loan
    names a product that ``products`` does not hold (rather than dropping the loan).
    """
    day = pl.lit(as_of).cast(pl.Int32)
    book = (
        loans.filter(pl.col("start_date") <= as_of)
        .join(products, on="product_code", how="left")
        .collect()
    )
    unknown = book.filter(pl.col("method").is_null())
    if not unknown.is_empty():
        codes = ", ".join(sorted(set(unknown["product_code"].cast(pl.String).fill_null("NULL"))))
        raise ValidationError("product_code", f"loans name products not given: {codes}")
    pays = (
        payments.join(book.lazy().select("loan_id"), on="loan_id", how="semi")
        .filter(pl.col("paid_on") <= as_of)
        .sort("loan_id", "paid_on", "payment_id")
        .with_row_index("_row")
        .with_columns(_first=(pl.col("loan_id") != pl.col("loan_id").shift(1)).fill_null(True))
        .with_columns(
            # sorted by loan: rank and previous payment day without hashing windows
            rank=(pl.col("_row") - pl.when("_first").then(pl.col("_row")).forward_fill() + 1).cast(
                pl.Int32
            ),
            prev=pl.when(~pl.col("_first")).then(pl.col("paid_on").shift(1)),
        )
        .drop("_row", "_first")
        .collect()
    )
    lines = _lines(book, instalments, pays)

    terms = book.select(
        "loan_id", "principal", "term_months", "annual_rate_bp", "method", "prepayment", "rounding"
    )
    params = _params(book)
    after, allocated_all = allocate_book(lines, pays, terms, params)

    last = pays.group_by("loan_id").agg(_last=pl.col("paid_on").max().cast(pl.Int32))
    final = (
        after.join(last, on="loan_id", how="left")
        .join(params, on="loan_id", how="left")
        .with_columns(advance_expr(day, pl.col("_last").fill_null(NO_EVENT)))
    )
    states = states_frame(
        final,
        book,
        pays.select("loan_id", "paid_on", "amount"),
        allocated_all,
        as_of,
        buckets,
    )
    return BookResult(states, allocated_all.lazy())


def _params(book: pl.DataFrame) -> pl.DataFrame:
    """Per loan, the terms penalty and allocation need (joined to lines only when used)."""
    return book.select(
        "loan_id",
        pl.col("late_fee").cast(pl.Int64),
        pl.col("penalty_rate_bp").cast(pl.Int64),
        (pl.col("day_count").cast(pl.Int64) * BP_PER_UNIT).alias("penalty_den"),
        "rounding",
        (pl.col("waterfall") == WaterfallOrder.INSTALMENT_FIRST.value).alias("_ifirst"),
        *(pl.col("components").str.find(c.value).alias(POS[c]) for c in COMPONENTS),
    )


def account_states_partitioned(
    loans: pl.LazyFrame,
    products: pl.LazyFrame,
    instalments: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    buckets: BucketScheme = DEFAULT_BUCKETS,
    *,
    partitions: int,
) -> BookResult:
    """:func:`account_states` run on ``loan_id mod partitions`` slices, one after another.

    Loans are independent of each other, so the result is the same as one call on the
    whole book (a test checks it); the working memory is that of one slice. DESIGN.md:
    laying the book out by account bucket cut memory threefold at 10M accounts.
    """
    if partitions < 1:
        raise ValidationError("partitions", "must be at least 1")
    if partitions == 1:
        return account_states(loans, products, instalments, payments, as_of, buckets)
    states: list[pl.DataFrame] = []
    allocations: list[pl.DataFrame] = []
    for part in range(partitions):
        mine = (pl.col("loan_id") % partitions) == part
        result = account_states(
            loans.filter(mine),
            products,
            instalments.filter(mine),
            payments.filter(mine),
            as_of,
            buckets,
        )
        part_states, part_allocations = pl.collect_all([result.states, result.allocations])
        states.append(part_states)
        allocations.append(part_allocations)
    return BookResult(pl.concat(states).sort("loan_id").lazy(), pl.concat(allocations).lazy())


def _lines(book: pl.DataFrame, instalments: pl.LazyFrame, pays: pl.DataFrame) -> pl.DataFrame:
    """The working line frame: one narrow, numeric row per instalment, sorted by loan, seq."""
    n_pay = pays.group_by("loan_id").agg(n_pay=pl.len().cast(pl.Int32))
    due = pl.col("due_date").cast(pl.Int32)
    current = pl.col("early_payment") == EarlyPayment.CURRENT_INSTALMENT.value
    first = (pl.col("loan_id") != pl.col("loan_id").shift(1)).fill_null(True)
    # ``owed_from``: the first day a payment owes the line (see ``allocate_book``): its due
    # date, or under current_instalment the previous line's due date (the first line: any
    # day), from when it is the first line due after the payment day: the current one.
    owed_from = (
        pl.when(~current)
        .then(pl.col("due"))
        .when(first)
        .then(pl.lit(NO_EVENT, dtype=pl.Int32))
        .otherwise(pl.col("due").shift(1))
    )
    return (
        instalments.join(
            book.lazy().select("loan_id", "grace_days", "early_payment"), on="loan_id", how="inner"
        )
        .join(n_pay.lazy(), on="loan_id", how="left")
        .select(
            "loan_id",
            "seq",
            due.alias("due"),
            (due + pl.col("grace_days")).alias("deadline"),
            pl.lit(0, dtype=pl.Int64).alias(U[Component.PENALTY]),
            pl.col("fee").alias(U[Component.FEE]),
            pl.col("interest").alias(U[Component.INTEREST]),
            pl.col("principal").alias(U[Component.PRINCIPAL]),
            pl.col("n_pay").fill_null(0),
            "early_payment",
        )
        .sort("loan_id", "seq")
        .with_columns(owed_from=owed_from.cast(pl.Int32))
        .drop("early_payment")
        .collect()
    )
