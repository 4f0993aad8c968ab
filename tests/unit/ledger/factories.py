"""Factories, Hypothesis strategies and frame converters for the ledger tests."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import strategies as st

from forbear.domain.ledger import (
    AccountState,
    Allocation,
    Instalment,
    LoanTerms,
    Payment,
    build_schedule,
)
from forbear.domain.ledger.schema import ALLOCATIONS, INSTALMENTS, LOANS, PAYMENTS, STATES
from forbear.domain.money import Rounding
from forbear.domain.products import (
    Component,
    EarlyPayment,
    PrepaymentRule,
    ProductTerms,
    RepaymentMethod,
    WaterfallOrder,
)


def make_product(**overrides: Any) -> ProductTerms:
    values: dict[str, Any] = {
        "code": "CASH12",
        "name_zh": "现金贷",
        "name_en": "Cash loan",
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "annual_rate_bp": 1800,
        "penalty_rate_bp": 3600,
        "terms_months": (12,),
    }
    values.update(overrides)
    return ProductTerms(**values)


def make_loan(**overrides: Any) -> LoanTerms:
    values: dict[str, Any] = {
        "loan_id": 1,
        "product_code": "CASH12",
        "principal": 12_000_00,
        "term_months": 12,
        "annual_rate_bp": 1800,
        "start_date": date(2024, 1, 15),
        "first_due_date": date(2024, 2, 15),
        "written_off_on": None,
    }
    values.update(overrides)
    return LoanTerms(**values)


# ---------------------------------------------------------------------------- strategies

products_st = st.builds(
    make_product,
    code=st.sampled_from(["P"]),  # replaced per index by books_st
    method=st.sampled_from(list(RepaymentMethod)),
    annual_rate_bp=st.sampled_from([0, 1, 600, 1800, 2400, 3599]),
    penalty_rate_bp=st.sampled_from([0, 3650, 5400, 18250]),
    day_count=st.sampled_from([360, 365]),
    grace_days=st.sampled_from([0, 0, 3, 5]),
    monthly_fee_bp=st.sampled_from([0, 0, 30, 77]),
    late_fee=st.sampled_from([0, 0, 50_00, 33]),
    waterfall=st.sampled_from(list(WaterfallOrder)),
    components=st.permutations(list(Component)).map(tuple),
    prepayment=st.sampled_from(list(PrepaymentRule)),
    early_payment=st.sampled_from(list(EarlyPayment)),
    rounding=st.sampled_from(list(Rounding)),
)


@st.composite
def loans_st(draw: st.DrawFn, loan_id: int, product: ProductTerms) -> LoanTerms:
    start = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
    first_due = start + timedelta(days=draw(st.integers(20, 45)))
    written_off = draw(st.one_of(st.none(), st.integers(60, 500)))
    return make_loan(
        loan_id=loan_id,
        product_code=product.code,
        principal=draw(st.one_of(st.integers(1, 300), st.integers(100_00, 200_000_00))),
        term_months=draw(st.sampled_from([1, 2, 3, 6, 12, 24])),
        annual_rate_bp=draw(st.one_of(st.just(product.annual_rate_bp), st.integers(0, 3600))),
        start_date=start,
        first_due_date=first_due,
        written_off_on=None if written_off is None else start + timedelta(days=written_off),
    )


@st.composite
def payments_st(
    draw: st.DrawFn, loan: LoanTerms, schedule: list[Instalment], first_id: int
) -> list[Payment]:
    """A payment stream: none, on time, late, partial, early, overpaying, or a mix."""
    style = draw(
        st.sampled_from(["none", "on_time", "late", "partial", "early", "overpay", "mixed"])
    )
    out: list[tuple[date, int]] = []
    if style == "none":
        return []
    for ins in schedule:
        total = ins.principal + ins.interest + ins.fee
        if style == "on_time":
            out.append((ins.due_date - timedelta(days=draw(st.integers(0, 3))), total))
        elif style == "late":
            out.append((ins.due_date + timedelta(days=draw(st.integers(1, 70))), total + 5_00))
        elif style == "partial":
            if draw(st.booleans()):
                out.append((ins.due_date + timedelta(days=draw(st.integers(-2, 20))), total // 2))
        elif style == "early":
            # a few days early: the instalment, part of it, two at once, or a second payment
            # in the same period
            day = ins.due_date - timedelta(days=draw(st.integers(1, 12)))
            what = draw(st.sampled_from(["one", "one", "part", "two", "again"]))
            amount = {"one": total, "part": total // 3, "two": 2 * total, "again": total}[what]
            out.append((day, amount))
            if what == "again":
                out.append((day + timedelta(days=draw(st.integers(0, 5))), total // 2))
        elif style == "overpay":
            extra = draw(st.sampled_from([1, 1_000_00, loan.principal // 3, loan.principal * 2]))
            out.append((ins.due_date - timedelta(days=draw(st.integers(0, 10))), total + extra))
            if draw(st.integers(0, 3)) == 0:
                break
        else:
            day = ins.due_date + timedelta(days=draw(st.integers(-15, 45)))
            out.append((day, draw(st.integers(1, max(1, total * 2)))))
        if draw(st.integers(0, 9)) == 0:
            break  # the borrower stops paying
    return [
        Payment(first_id + i, loan.loan_id, paid_on, max(1, amount))
        for i, (paid_on, amount) in enumerate(out)
    ]


@st.composite
def books_st(draw: st.DrawFn, max_loans: int = 12) -> dict[str, Any]:
    """Products, loans, their schedules and payments: one generated book."""
    n_products = draw(st.integers(1, 3))
    products = [replace_code(draw(products_st), f"P{i}") for i in range(n_products)]
    loans: list[LoanTerms] = []
    instalments: list[Instalment] = []
    payments: list[Payment] = []
    for loan_id in range(1, draw(st.integers(1, max_loans)) + 1):
        product = draw(st.sampled_from(products))
        loan = draw(loans_st(loan_id, product))
        schedule = build_schedule(loan, product)
        loans.append(loan)
        instalments.extend(schedule)
        payments.extend(draw(payments_st(loan, schedule, loan_id * 1000)))
    as_of = draw(
        st.one_of(
            st.just(max(i.due_date for i in instalments) + timedelta(days=40)),
            st.builds(lambda d: date(2024, 3, 1) + timedelta(days=d), st.integers(0, 900)),
        )
    )
    return {
        "products": {p.code: p for p in products},
        "loans": loans,
        "instalments": instalments,
        "payments": payments,
        "as_of": as_of,
    }


def replace_code(product: ProductTerms, code: str) -> ProductTerms:
    return product.model_copy(update={"code": code})


# ---------------------------------------------------------------------------- frames


def frame(rows: list[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return (
        pl.DataFrame([asdict(r) for r in rows], schema=schema, orient="row")
        if rows
        else (pl.DataFrame(schema=schema))
    )


def loans_frame(loans: list[LoanTerms]) -> pl.DataFrame:
    return frame(loans, LOANS)


def instalments_frame(rows: list[Instalment]) -> pl.DataFrame:
    return frame(rows, INSTALMENTS)


def payments_frame(rows: list[Payment]) -> pl.DataFrame:
    return frame(rows, PAYMENTS)


def allocations_frame(rows: list[Allocation]) -> pl.DataFrame:
    return frame(rows, ALLOCATIONS)


def states_frame(rows: list[AccountState]) -> pl.DataFrame:
    return frame(rows, STATES)


def scalar_book(
    book: dict[str, Any], as_of: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The scalar ledger run loan by loan over a generated book: (STATES, ALLOCATIONS)."""
    from forbear.domain.ledger import run_ledger

    day = book["as_of"] if as_of is None else as_of
    states: list[AccountState] = []
    allocations: list[Allocation] = []
    for loan in book["loans"]:
        if loan.start_date > day:
            continue
        result = run_ledger(
            loan,
            book["products"][loan.product_code],
            [i for i in book["instalments"] if i.loan_id == loan.loan_id],
            [p for p in book["payments"] if p.loan_id == loan.loan_id],
            day,
        )
        states.append(result.state)
        allocations.extend(result.allocations)
    return states_frame(states).sort("loan_id"), allocations_frame(allocations)


def vectorised_book(
    book: dict[str, Any], as_of: date | None = None, *, small: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`account_states` over ``book``: the compiled walk whatever the book's size
    unless ``small`` lets a small book take the scalar one."""
    from forbear.domain.ledger import account_states, products_frame

    result = account_states(
        loans_frame(book["loans"]).lazy(),
        products_frame(list(book["products"].values())).lazy(),
        instalments_frame(book["instalments"]).lazy(),
        payments_frame(book["payments"]).lazy(),
        book["as_of"] if as_of is None else as_of,
        small=small,
    )
    return result.states.collect(), result.allocations.collect()


ALLOCATION_ORDER = ["payment_id", "seq", "component"]
