"""The compiled walk (``allocation.compiled`` through ``allocation.walk_book``) against the
executable specification, :class:`LoanBook`, loan by loan: the effective schedule after
every payment, each allocation in order, the state's figures and the settlement history;
and on the cached
20,000-borrower demo book (skipped when absent), the day's ledger through the walk equals
the scalar path row for row."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from forbear.domain.ledger import account_states, products_frame
from forbear.domain.ledger.allocation import COMPONENTS, FIGURES, UNPAID, LoanBook, walk_book
from forbear.domain.ledger.allocation.compiled import TIE_MARGIN, level_ei
from forbear.domain.ledger.allocation.walk import ROUNDING_CODES
from forbear.domain.ledger.arith import level_payment
from forbear.domain.ledger.model import LedgerResult
from forbear.domain.ledger.schema import ALLOCATIONS
from forbear.domain.ledger.settled import settled_rows
from forbear.domain.ledger.state import DEFAULT_BUCKETS, state_of
from forbear.domain.money import Rounding

from .factories import books_st, instalments_frame, loans_frame, payments_frame

BOOK = Path(__file__).parents[3] / "benchmarks" / ".data" / "book-20000-2026-06-15" / "forbear.db"

FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def walked(book: dict[str, Any], as_of: date) -> Any:
    """``walk_book`` on a generated book, laid out as ``account_states`` lays it out."""
    table = products_frame(list(book["products"].values())).with_row_index("_prod")
    loans = (
        loans_frame(book["loans"])
        .filter(pl.col("start_date") <= as_of)
        .join(table.select("product_code", "_prod"), on="product_code", how="left")
        .sort("loan_id")
    )
    return walk_book(
        loans,
        table,
        instalments_frame(book["instalments"]).lazy(),
        payments_frame(book["payments"]).lazy(),
        as_of,
        with_lines=True,
        settle=True,
    )


def specification(book: dict[str, Any], as_of: date) -> dict[int, LoanBook]:
    """Every loan started by ``as_of`` through :class:`LoanBook`: its payments, then as_of."""
    out: dict[int, LoanBook] = {}
    for loan in book["loans"]:
        if loan.start_date > as_of:
            continue
        ledger = LoanBook.open(
            loan,
            book["products"][loan.product_code],
            [i for i in book["instalments"] if i.loan_id == loan.loan_id],
        )
        paid = [p for p in book["payments"] if p.loan_id == loan.loan_id and p.paid_on <= as_of]
        for payment in sorted(paid, key=lambda p: (p.paid_on, p.payment_id)):
            ledger.pay(payment)
        ledger.advance(as_of)
        out[loan.loan_id] = ledger
    return out


@FUZZ
@given(books_st(max_loans=10), st.integers(-40, 400))
def test_the_compiled_walk_equals_the_loan_book_line_by_line_and_allocation_by_allocation(
    book: dict[str, Any], shift: int
) -> None:
    """Every product variant books_st draws (methods, waterfalls, component orders,
    early-payment and prepayment rules, rounding, grace, fees, zero and tiny rates), with
    the as-of date anywhere from before the first payments to long after the last."""
    as_of = book["as_of"] + timedelta(days=shift)
    result = walked(book, as_of)
    expected = specification(book, as_of)

    lines = [
        (loan_id, line.seq, line.due_date, *(line.unpaid[c] for c in COMPONENTS))
        for loan_id, ledger in sorted(expected.items())
        for line in ledger.lines
    ]
    assert result.lines is not None
    assert result.lines.select("loan_id", "seq", "due_date", *UNPAID).rows() == lines

    allocations = [
        (a.payment_id, a.loan_id, a.seq, a.component, a.amount)
        for _, ledger in sorted(expected.items())
        for a in ledger.allocations
    ]
    assert result.allocations.collect_schema() == pl.Schema(ALLOCATIONS)
    assert result.allocations.collect().rows() == allocations  # the same order, too

    figures = {row["loan_id"]: row for row in result.figures.iter_rows(named=True)}
    assert list(figures) == sorted(expected)
    for loan_id, ledger in expected.items():
        paid = [p for p in book["payments"] if p.loan_id == loan_id and p.paid_on <= as_of]
        state = state_of(ledger, as_of, paid, DEFAULT_BUCKETS)
        mine = figures[loan_id]
        assert mine["unpaid"] == sum(line.unpaid_total for line in ledger.lines)
        for name in FIGURES:
            if name != "unpaid":
                assert mine[name] == getattr(state, name), name

    # the settlement history from the loop's arrays, as the scalar path gives it from each
    # loan's allocations and state
    lines_rows: list[Any] = []
    principal_rows: list[Any] = []
    for loan in sorted(book["loans"], key=lambda x: x.loan_id):
        if loan.loan_id not in expected:
            continue
        ledger = expected[loan.loan_id]
        paid = [p for p in book["payments"] if p.loan_id == loan.loan_id and p.paid_on <= as_of]
        state = state_of(ledger, as_of, paid, DEFAULT_BUCKETS)
        schedule = [i for i in book["instalments"] if i.loan_id == loan.loan_id]
        more_lines, more_principal = settled_rows(
            loan,
            book["products"][loan.product_code].grace_days,
            sorted(schedule, key=lambda i: i.seq),
            paid,
            LedgerResult(state, ledger.allocations),
            as_of,
        )
        lines_rows.extend(more_lines)
        principal_rows.extend(more_principal)
    assert result.settled is not None
    assert result.settled.lines.rows() == lines_rows
    assert sorted(result.settled.principal.rows()) == sorted(principal_rows)


@settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
@given(books_st(max_loans=6))
def test_frames_of_any_memory_layout_take_the_one_compiled_version(book: dict[str, Any]) -> None:
    """Frames in one chunk (zero-copy, read-only arrays), in several chunks and sliced
    give the walk the same argument types, so numba compiles (and caches) one version of
    the loop, not one per layout (each costs seconds to compile)."""
    from forbear.domain.ledger.allocation import compiled

    instalments = instalments_frame(book["instalments"])
    payments = payments_frame(book["payments"])
    loans = loans_frame(book["loans"])
    chunked = {
        "instalments": pl.concat([instalments, instalments.clear()], rechunk=False),
        "payments": pl.concat([payments.head(1), payments.slice(1)], rechunk=False),
    }
    products = products_frame(list(book["products"].values())).lazy()
    for frames in (
        (instalments, payments),
        (chunked["instalments"], chunked["payments"]),
        (instalments.slice(0), payments.slice(0)),
    ):
        result = account_states(
            loans.lazy(), products, frames[0].lazy(), frames[1].lazy(), book["as_of"], small=0
        )
        pl.collect_all([result.states, result.allocations])
    assert len(compiled.walk.signatures) == 1


@settings(deadline=None, max_examples=100)
@given(
    st.sets(st.one_of(st.integers(1, 3_000), st.integers(1, 2**50)), max_size=40),
    st.lists(st.one_of(st.integers(0, 3_100), st.integers(1, 2**50)), max_size=200),
)
def test_each_row_finds_its_loan_by_table_or_by_bisection(ids: set[int], rows: list[int]) -> None:
    """Loan ids over a narrow span take the lookup table; a few ids near 2^50 widen the
    span past it and the rows find their loans by bisection."""
    from forbear.domain.ledger.allocation import compiled

    loan_id = np.array(sorted(ids), dtype=np.int64)
    where = {loan: k for k, loan in enumerate(loan_id.tolist())}
    found = compiled.owners(np.array(rows, dtype=np.int64), loan_id)
    assert found.tolist() == [where.get(row, -1) for row in rows]


@settings(deadline=None, max_examples=100)
@given(
    st.lists(
        st.tuples(st.integers(-1, 4), st.integers(0, 9), st.integers(0, 10**6)),
        max_size=400,
    )
)
def test_rows_are_grouped_by_loan_and_ordered_within_it(rows: list[tuple[int, int, int]]) -> None:
    """Up to 400 rows over 5 loans: groups longer than 64 rows take the stable sorts, the
    shorter ones the insertion sort; rows of no loan (-1) are left out."""
    from forbear.domain.ledger.allocation import compiled

    table = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
    owner, first, second = (np.ascontiguousarray(table[:, k]) for k in range(3))
    order, start = compiled.group(owner, 5, first, second)
    assert start.tolist()[0] == 0 and len(start) == 6
    for g in range(5):
        mine = order[start[g] : start[g + 1]].tolist()
        expected = sorted(
            (r for r in range(len(rows)) if rows[r][0] == g),
            key=lambda r: (rows[r][1], rows[r][2], r),
        )
        assert [(rows[r][1], rows[r][2]) for r in mine] == [
            (rows[r][1], rows[r][2]) for r in expected
        ]
        assert sorted(mine) == sorted(expected)


@settings(deadline=None, max_examples=300)
@given(
    st.one_of(st.integers(0, 10**9), st.integers(2**40, 2**50)),
    st.one_of(st.integers(0, 3600), st.sampled_from([1, 7, 1800, 2400])),
    st.integers(1, 60),
    st.sampled_from(list(Rounding)),
)
def test_the_level_payment_from_the_float_factor_is_the_exact_one(
    balance: int, rate: int, n: int, rounding: Rounding
) -> None:
    """Balances of 2^40 fen and more leave no room for the float (the margin exceeds a
    fen) and take the exact big-integer path inside the loop; the others mostly the
    float's."""
    base = 120_000
    factor = (
        0.0 if rate == 0 else (rate * (base + rate) ** n) / (base * ((base + rate) ** n - base**n))
    )
    assert level_ei(balance, rate, n, ROUNDING_CODES[rounding.value], factor) == level_payment(
        balance, rate, n, rounding
    )


@pytest.mark.parametrize("rounding", list(Rounding))
def test_a_level_payment_exactly_on_a_half_fen_takes_the_exact_path(rounding: Rounding) -> None:
    """At a rate of 0 the level is ``balance / n``: 7 / 2 is exactly a half; at a
    positive rate the float must not decide when it lies within the margin of a half."""
    assert level_ei(7, 0, 2, ROUNDING_CODES[rounding.value], 0.0) == level_payment(
        7, 0, 2, rounding
    )
    # a factor that puts ``balance * factor`` just above a half, within the margin: the
    # float alone would round up (half_up, half_even); the loop asks the exact rule
    balance, rate, n = 1_000_000, 1800, 12
    exact = level_payment(balance, rate, n, rounding)
    near_half = (exact + 0.5 + 0.1 * TIE_MARGIN * exact) / balance  # the float: round up
    assert level_ei(balance, rate, n, ROUNDING_CODES[rounding.value], near_half) == exact


@pytest.mark.skipif(not BOOK.exists(), reason="the cached 20,000-borrower demo book is absent")
def test_the_day_ledger_of_the_20k_book_equals_the_scalar_ledger_row_for_row() -> None:
    """The day's ledger inputs of the demo book (24,652 loans, about 200,000 payments)
    through the compiled walk and through :func:`run_ledger` loan by loan: identical
    states and allocations, in the same row order."""
    from forbear.services.book import load_day
    from forbear.store.db import make_engine

    engine = make_engine(f"sqlite:///{BOOK}")
    try:
        with engine.connect() as conn:
            day = load_day(conn, date(2026, 6, 15))
    finally:
        engine.dispose()
    inputs = day.inputs
    frames = (
        inputs.loans.lazy(),
        inputs.products.lazy(),
        inputs.instalments.lazy(),
        inputs.payments.lazy(),
        day.as_of,
    )
    compiled = account_states(*frames, small=0)
    scalar = account_states(*frames, small=10**9)
    states, allocations = pl.collect_all([compiled.states, compiled.allocations])
    scalar_states, scalar_allocations = pl.collect_all([scalar.states, scalar.allocations])
    assert states.height == inputs.loans.filter(pl.col("start_date") <= day.as_of).height
    assert allocations.height > 100_000
    assert_frame_equal(states, scalar_states, check_exact=True)
    assert_frame_equal(allocations, scalar_allocations, check_exact=True)


def test_the_warm_up_loads_exactly_what_a_book_walks() -> None:
    """``warm_compiled`` in a fresh process, then a book of every repayment method walked
    (unpaid, partly paid and prepaid loans): the walk adds no compiled version (each
    dispatcher's signatures are those the warm-up loaded), and its states equal the scalar
    path's."""
    code = f"""
import sys
from datetime import date
sys.path.insert(0, {str(Path(__file__).parent)!r})
from factories import make_loan, make_product, loans_frame, payments_frame
from forbear.domain.ledger import Payment, account_states, products_frame, schedules
from forbear.domain.ledger import warm_compiled
from forbear.domain.ledger.allocation import compiled
from forbear.domain.products import RepaymentMethod

def signatures():
    return {{n: list(getattr(compiled, n).signatures) for n in ("walk", "owners", "group")}}

warm_compiled()
loaded = signatures()
products = [
    make_product(code=f"P{{i}}", method=m, grace_days=3, late_fee=5000)
    for i, m in enumerate(RepaymentMethod)
]
loans = [
    make_loan(loan_id=10 * i + k, product_code=p.code, principal=(k + 1) * 100000)
    for i, p in enumerate(products)
    for k in range(3)
]
amounts = {{0: (), 1: (50000,), 2: (50000, 900000)}}
pays = [
    Payment(payment_id=10 * loan.loan_id + k, loan_id=loan.loan_id,
            paid_on=date(2024, 2 + k, 10), amount=amount)
    for loan in loans
    for k, amount in enumerate(amounts[loan.loan_id % 3])
]
book = loans_frame(loans).lazy()
terms = products_frame(products).lazy()
args = (book, terms, schedules(book, terms), payments_frame(pays).lazy(), date(2024, 9, 1))
walked = account_states(*args, small=0).states.collect()
scalar = account_states(*args, small=10_000).states.collect()
print(walked.height, walked.equals(scalar), loaded == signatures(), bool(loaded["walk"]))
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["9", "True", "True", "True"]
