"""The ledger: schedules, penalty, payment allocation and account state, written twice.

The scalar path (one loan, plain dataclasses, readable loops) is the executable
specification; the whole book (what the daily batch runs) goes through the same rule as
one compiled loop over flat arrays (:mod:`.allocation.compiled`, frames in and out by
:func:`.allocation.walk_book`). Tests check that both give the same integers.

Scalar::

    build_schedule(loan, product) -> list[Instalment]
    run_ledger(loan, product, instalments, payments, as_of, buckets=DEFAULT_BUCKETS)
        -> LedgerResult(state, allocations)

The whole book (frames follow :mod:`forbear.domain.ledger.schema`)::

    products_frame(products) -> pl.DataFrame                      # PRODUCTS
    schedules(loans, products) -> pl.LazyFrame                    # INSTALMENTS
    account_states(loans, products, instalments, payments, as_of, buckets=DEFAULT_BUCKETS)
        -> BookResult(states: pl.LazyFrame, allocations: pl.LazyFrame)  # STATES, ALLOCATIONS
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.ledger.allocation import LoanBook, walk_book
from forbear.domain.ledger.model import (
    AccountState,
    Allocation,
    Instalment,
    LedgerResult,
    LoanTerms,
    Payment,
)
from forbear.domain.ledger.schedules import build_schedule, products_frame, schedules
from forbear.domain.ledger.schema import ALLOCATIONS, STATES
from forbear.domain.ledger.settled import LineRow, PrincipalRow, Settled, settled_rows
from forbear.domain.ledger.state import DEFAULT_BUCKETS, BucketScheme, state_of, states_frame
from forbear.domain.money import Rounding
from forbear.domain.products import (
    Component,
    EarlyPayment,
    PrepaymentRule,
    ProductTerms,
    RepaymentMethod,
    WaterfallOrder,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "SMALL_BOOK",
    "AccountState",
    "Allocation",
    "BookResult",
    "BucketScheme",
    "Instalment",
    "LedgerResult",
    "LoanTerms",
    "Payment",
    "Settled",
    "account_states",
    "account_states_partitioned",
    "build_schedule",
    "products_frame",
    "run_ledger",
    "schedules",
    "takes_scalar_path",
    "warm_compiled",
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
    settled: Settled | None = None  # the settlement history, when asked for (``settle``)


SMALL_BOOK = 8
"""Up to this many loans, :func:`account_states` runs the scalar path loan by loan instead
of the compiled walk. Warm, the two cost the same on one borrower's few loans (about 5-7
ms, mostly frame plumbing; 32 loans: 16 ms scalar, 6 ms compiled); but the first walk in
a process imports numba and loads the compiled loop from its cache (about 0.5 CPU s), which
one borrower's situation in a short-lived process (a CLI command, a fresh worker) need
not pay. Both give the same integers (the tests run both on the same generated books)."""


def takes_scalar_path(loans: int, small: int = SMALL_BOOK) -> bool:
    """Does :func:`account_states` run a book of ``loans`` loans loan by loan? (``small=0``:
    never, the compiled walk always.)"""
    return loans <= small


def account_states(
    loans: pl.LazyFrame,
    products: pl.LazyFrame,
    instalments: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    buckets: BucketScheme = DEFAULT_BUCKETS,
    *,
    small: int = SMALL_BOOK,
    settle: bool = False,
) -> BookResult:
    """:func:`run_ledger` for every loan of a book at once.

    Allocation is sequential per loan (penalty depends on when principal was paid), so
    the book is walked loan by loan, payment by payment, in one compiled loop
    (:func:`walk_book`); the states are derived from its per-loan figures. Allocations
    come by loan, then payment, then the waterfall's order (as the scalar path gives
    them). Raises ``ValidationError`` when a loan names a product that ``products`` does
    not hold (rather than dropping the loan).
    A book of at most ``small`` loans goes through :func:`run_ledger` loan by loan
    instead (see :data:`SMALL_BOOK`); ``small=0`` always takes the compiled walk.
    ``settle``: also the settlement history (:mod:`forbear.domain.ledger.settled`).
    """
    table = products.collect().with_row_index("_prod")
    book = (
        loans.filter(pl.col("start_date") <= as_of)
        .join(
            table.lazy().select("product_code", "_prod", "grace_days"),
            on="product_code",
            how="left",
        )
        .sort("loan_id")
        .collect()
    )
    unknown = book.filter(pl.col("_prod").is_null())
    if not unknown.is_empty():
        codes = ", ".join(sorted(set(unknown["product_code"].cast(pl.String).fill_null("NULL"))))
        raise ValidationError("product_code", f"loans name products not given: {codes}")
    if takes_scalar_path(book.height, small):
        return _scalar_book(
            book.drop("_prod", "grace_days").join(table, on="product_code", how="left"),
            instalments,
            payments,
            as_of,
            buckets,
            settle=settle,
        )
    walked = walk_book(book, table, instalments, payments, as_of, settle=settle)
    states = states_frame(walked.figures, book, as_of, buckets)
    return BookResult(states, walked.allocations, walked.settled)


def _scalar_book(
    book: pl.DataFrame,
    instalments: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    buckets: BucketScheme,
    *,
    settle: bool = False,
) -> BookResult:
    """:func:`account_states` of a small book through :func:`run_ledger`, loan by loan
    (``book``: the loans started by ``as_of``, joined with their products)."""
    ids = book["loan_id"].implode()
    mine = pl.col("loan_id").is_in(ids)
    owed: dict[int, list[Instalment]] = {}
    for row in instalments.filter(mine).collect().iter_rows(named=True):
        owed.setdefault(row["loan_id"], []).append(
            Instalment(
                row["loan_id"],
                row["seq"],
                row["due_date"],
                row["principal"],
                row["interest"],
                row["fee"],
            )
        )
    paid: dict[int, list[Payment]] = {}
    taken = payments.filter(mine & (pl.col("paid_on") <= as_of)).collect()
    for row in taken.iter_rows(named=True):
        paid.setdefault(row["loan_id"], []).append(
            Payment(row["payment_id"], row["loan_id"], row["paid_on"], row["amount"])
        )
    states: list[AccountState] = []
    allocations: list[Allocation] = []
    settled_lines: list[LineRow] = []
    settled_principal: list[PrincipalRow] = []
    for row in book.iter_rows(named=True):
        loan = LoanTerms(
            row["loan_id"],
            row["product_code"],
            row["principal"],
            row["term_months"],
            row["annual_rate_bp"],
            row["start_date"],
            row["first_due_date"],
            row["written_off_on"],
        )
        schedule = sorted(owed.get(loan.loan_id, []), key=lambda i: i.seq)
        result = run_ledger(
            loan, _product_terms(row), schedule, paid.get(loan.loan_id, []), as_of, buckets
        )
        states.append(result.state)
        allocations.extend(result.allocations)
        if settle:
            lines, principal = settled_rows(
                loan, row["grace_days"], schedule, paid.get(loan.loan_id, []), result, as_of
            )
            settled_lines.extend(lines)
            settled_principal.extend(principal)
    state_rows = pl.DataFrame(
        {name: [getattr(st, name) for st in states] for name in STATES},
        schema=STATES,
    ).sort("loan_id")
    allocation_rows = pl.DataFrame(
        {name: [getattr(a, name) for a in allocations] for name in ALLOCATIONS},
        schema=ALLOCATIONS,
    )
    settled = Settled.of_rows(as_of, settled_lines, settled_principal) if settle else None
    return BookResult(state_rows.lazy(), allocation_rows.lazy(), settled)


def _product_terms(row: dict[str, Any]) -> ProductTerms:
    """The product terms :func:`run_ledger` reads, from a row of ``schema.PRODUCTS`` (the
    catalogue's own fields that the ledger does not read -- names, list rate, the terms
    a product allows -- are not in the frame: this object is for the ledger only)."""
    return ProductTerms.model_construct(
        code=row["product_code"],
        name_zh=row["product_code"],
        name_en=row["product_code"],
        method=RepaymentMethod(row["method"]),
        annual_rate_bp=row["annual_rate_bp"],
        penalty_rate_bp=row["penalty_rate_bp"],
        day_count=row["day_count"],
        grace_days=row["grace_days"],
        monthly_fee_bp=row["monthly_fee_bp"],
        late_fee=row["late_fee"],
        waterfall=WaterfallOrder(row["waterfall"]),
        components=tuple(Component(c) for c in str(row["components"]).split(",")),
        prepayment=PrepaymentRule(row["prepayment"]),
        early_payment=EarlyPayment(row["early_payment"]),
        rounding=Rounding(row["rounding"]),
        terms_months=(row["term_months"],),
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
    small: int = SMALL_BOOK,
    settle: bool = False,
) -> BookResult:
    """:func:`account_states` run on ``loan_id mod partitions`` slices, one after another.

    Loans are independent of each other, so the result is the same as one call on the
    whole book (a test checks it); the working memory is that of one slice. DESIGN.md:
    laying the book out by account bucket cut memory threefold at 10M accounts.
    """
    if partitions < 1:
        raise ValidationError("partitions", "must be at least 1")
    if partitions == 1:
        return account_states(
            loans, products, instalments, payments, as_of, buckets, small=small, settle=settle
        )
    states: list[pl.DataFrame] = []
    allocations: list[pl.DataFrame] = []
    settled: list[Settled] = []
    for part in range(partitions):
        mine = (pl.col("loan_id") % partitions) == part
        result = account_states(
            loans.filter(mine),
            products,
            instalments.filter(mine),
            payments.filter(mine),
            as_of,
            buckets,
            small=small,
            settle=settle,
        )
        part_states, part_allocations = pl.collect_all([result.states, result.allocations])
        states.append(part_states)
        allocations.append(part_allocations)
        if result.settled is not None:
            settled.append(result.settled)
    return BookResult(
        pl.concat(states).sort("loan_id").lazy(),
        pl.concat(allocations).lazy(),
        Settled.concat(as_of, settled) if settle else None,
    )


def warm_compiled() -> None:
    """Load the compiled walk now: the first walk in a process imports numba and loads the
    loop from its cache (about 0.5 s of CPU, mostly under the interpreter lock), which a
    thread can do beside other work -- the daily run does it beside its first reads, where
    the run otherwise waits -- instead of in the first real walk. One made-up loan of each
    repayment method is walked; the frames have the contract's types, so exactly what a
    real book's walk runs is loaded (a test checks that a book walked afterwards loads and
    compiles nothing more)."""
    from forbear.domain.ledger.schema import LOANS, PAYMENTS

    start, as_of = date(2000, 1, 15), date(2000, 4, 1)
    terms = [
        ProductTerms(
            code=f"WARM_{method.value}",
            name_zh="预热",
            name_en="warm-up",
            method=method,
            annual_rate_bp=1800,
            penalty_rate_bp=3600,
            terms_months=(3,),
        )
        for method in RepaymentMethod
    ]
    products = products_frame(terms)
    loans = pl.DataFrame(
        [
            (i + 1, t.code, 300_00, 3, 1800, start, date(2000, 2, 15), None)
            for i, t in enumerate(terms)
        ],
        schema=LOANS,
        orient="row",
    )
    payments = pl.DataFrame(
        [(i + 1, i + 1, date(2000, 2, 20), 50_00) for i in range(len(terms))],
        schema=PAYMENTS,
        orient="row",
    )
    instalments = schedules(loans.lazy(), products.lazy())
    result = account_states(
        loans.lazy(), products.lazy(), instalments, payments.lazy(), as_of, small=0
    )
    pl.collect_all([result.states, result.allocations])
