"""Penalty (罚息), late fees and payment allocation (还款冲销), scalar and vectorised.

Rules (the scalar :class:`LoanBook` below is the executable specification):

- An instalment's *deadline* is ``due_date + grace_days``. Penalty accrues on its unpaid
  principal for each day after the deadline at ``penalty_rate_bp / 10000 / day_count``.
  Between two events (payments, the as-of date) unpaid principal is constant, so at each
  event ``t`` (previous event ``prev``) an instalment accrues
  ``round(unpaid_principal * days * penalty_rate_bp / (10000 * day_count))`` with ``days``
  the days of ``(prev, t]`` after the deadline; rounding happens at every event.
- The one-off late fee is added to an instalment's fee when anything of it is still
  unpaid at the end of its deadline day: it is judged at the first event after the
  deadline, so a payment made on the deadline day avoids it.
- Payments are taken in ``(paid_on, payment_id)`` order. At a payment on ``t``: late fees
  and penalty are brought up to ``t``; the instalments with ``due_date <= t`` are paid in
  waterfall order (``instalment_first``: by seq, within it the product's component
  order; ``component_first``: by component, within it by seq).
- What is left is a prepayment. If it covers all principal not yet due, the loan is paid
  off: that principal is allocated (seq NULL), the interest and fees of instalments not
  yet due are no longer owed, and any rest is a ``credit`` owed back (seq NULL).
  Otherwise it reduces principal (component ``principal``, seq NULL) and the instalments
  not yet due are re-amortised on the new balance ``B'`` with the same due dates:
  ``lower_instalment`` recomputes by the product method over the same count;
  ``shorten_term`` keeps the original level payment (等额本息) or level principal
  (等额本金) and drops the instalments no longer needed; interest-only loans always
  re-amortise as ``lower_instalment``. Choice: the prepayment counts for the whole
  current period, so the first re-amortised instalment's interest is ``round(B' * r)``.
- Instalments not yet due are never paid directly (an overpayment re-amortises them),
  so they carry no penalty, late fee or partial payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from forbear.domain.ledger.arith import div_round_expr
from forbear.domain.ledger.model import Allocation, Instalment, LoanTerms, Payment
from forbear.domain.ledger.schedules import (
    IO,
    amortise,
    amortise_frame,
    level_for,
    with_level,
)
from forbear.domain.ledger.schema import ALLOCATIONS
from forbear.domain.money import BP_PER_UNIT, div_round
from forbear.domain.products import (
    Component,
    PrepaymentRule,
    ProductTerms,
    RepaymentMethod,
    WaterfallOrder,
)

CREDIT = "credit"
COMPONENTS: tuple[Component, ...] = (
    Component.PENALTY,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)


# ---------------------------------------------------------------------------- scalar


@dataclass(slots=True)
class Line:
    """An instalment of the effective schedule and what of it is still unpaid."""

    seq: int
    due_date: date
    deadline: date
    unpaid: dict[Component, int]

    @property
    def unpaid_total(self) -> int:
        return sum(self.unpaid.values())


def shortens(product: ProductTerms) -> bool:
    return (
        product.prepayment is PrepaymentRule.SHORTEN_TERM
        and product.method is not RepaymentMethod.INTEREST_ONLY
    )


@dataclass(slots=True)
class LoanBook:
    """One loan's effective schedule as payments arrive; events must come in date order."""

    loan: LoanTerms
    product: ProductTerms
    lines: list[Line]
    last_event: date = date.min
    allocations: list[Allocation] = field(default_factory=list)

    @classmethod
    def open(
        cls, loan: LoanTerms, product: ProductTerms, instalments: Sequence[Instalment]
    ) -> LoanBook:
        grace = timedelta(days=product.grace_days)
        lines = [
            Line(
                i.seq,
                i.due_date,
                i.due_date + grace,
                {
                    Component.PENALTY: 0,
                    Component.FEE: i.fee,
                    Component.INTEREST: i.interest,
                    Component.PRINCIPAL: i.principal,
                },
            )
            for i in sorted(instalments, key=lambda i: i.seq)
        ]
        return cls(loan, product, lines)

    def advance(self, t: date) -> None:
        """Charge late fees whose deadline ended before ``t`` and accrue penalty to ``t``."""
        product = self.product
        prev = self.last_event
        for line in self.lines:
            if prev <= line.deadline < t and line.unpaid_total > 0:
                line.unpaid[Component.FEE] += product.late_fee
            days = max(0, (t - max(prev, line.deadline)).days)
            line.unpaid[Component.PENALTY] += div_round(
                line.unpaid[Component.PRINCIPAL] * days * product.penalty_rate_bp,
                BP_PER_UNIT * product.day_count,
                product.rounding,
            )
        self.last_event = t

    def pay(self, payment: Payment) -> None:
        t = payment.paid_on
        self.advance(t)
        due = [line for line in self.lines if line.due_date <= t]
        if self.product.waterfall is WaterfallOrder.INSTALMENT_FIRST:
            order = [(line, c) for line in due for c in self.product.components]
        else:
            order = [(line, c) for c in self.product.components for line in due]
        left = payment.amount
        for line, component in order:
            amount = min(left, line.unpaid[component])
            if amount > 0:
                line.unpaid[component] -= amount
                left -= amount
                self._record(payment, line.seq, component.value, amount)
        if left > 0:
            self._prepay(payment, left, due)

    def _prepay(self, payment: Payment, excess: int, due: list[Line]) -> None:
        t = payment.paid_on
        future = [line for line in self.lines if line.due_date > t]
        owed = sum(line.unpaid[Component.PRINCIPAL] for line in future)
        if excess >= owed:
            self._record(payment, None, Component.PRINCIPAL.value, owed)
            self._record(payment, None, CREDIT, excess - owed)
            self.lines = due
            return
        self._record(payment, None, Component.PRINCIPAL.value, excess)
        loan, product = self.loan, self.product
        balance, count = owed - excess, len(future)
        shorten = shortens(product)
        if shorten:
            level = level_for(
                product.method,
                loan.principal,
                loan.annual_rate_bp,
                loan.term_months,
                product.rounding,
            )
        else:
            level = level_for(product.method, balance, loan.annual_rate_bp, count, product.rounding)
        rows = amortise(
            balance,
            level,
            product.method,
            loan.annual_rate_bp,
            count,
            product.rounding,
            shorten=shorten,
        )
        for line, (principal, interest) in zip(future, rows, strict=False):
            line.unpaid[Component.PRINCIPAL] = principal
            line.unpaid[Component.INTEREST] = interest
        self.lines = due + future[: len(rows)]

    def _record(self, payment: Payment, seq: int | None, component: str, amount: int) -> None:
        if amount > 0:
            self.allocations.append(
                Allocation(payment.payment_id, payment.loan_id, seq, component, amount)
            )


# ---------------------------------------------------------------------------- vectorised

# Internal line frame (one row per instalment of the effective schedule), sorted by
# (loan_id, seq): dates are Int32 days since the epoch so that day arithmetic is integer.
U = {c: f"u_{c.value}" for c in COMPONENTS}
POS = {c: f"pos_{c.value}" for c in COMPONENTS}
NO_EVENT = -(2**30)  # "before any event": earlier than every date the ledger sees


def unpaid_total() -> pl.Expr:
    return pl.sum_horizontal(*(pl.col(U[c]) for c in COMPONENTS))


def advance_expr(t: pl.Expr, prev: pl.Expr) -> list[pl.Expr]:
    """Late fee and penalty accrual between ``prev`` and ``t`` (see :meth:`LoanBook.advance`)."""
    deadline = pl.col("deadline")
    late = (prev <= deadline) & (deadline < t) & (unpaid_total() > 0)
    days = pl.max_horizontal(t - pl.max_horizontal(prev, deadline), 0).cast(pl.Int64)
    penalty = div_round_expr(
        pl.col(U[Component.PRINCIPAL]) * days * pl.col("penalty_rate_bp"),
        pl.col("penalty_den"),
        pl.col("rounding"),
    )
    return [
        (pl.col(U[Component.FEE]) + pl.when(late).then(pl.col("late_fee")).otherwise(0)).alias(
            U[Component.FEE]
        ),
        (pl.col(U[Component.PENALTY]) + penalty).alias(U[Component.PENALTY]),
    ]


def _before_expr(component: Component) -> pl.Expr:
    """Money a payment spends before reaching ``component`` of this line (waterfall)."""
    earlier_here = pl.sum_horizontal(
        *(
            pl.when(pl.col(POS[o]) < pl.col(POS[component]))
            .then(pl.col(f"o_{o.value}"))
            .otherwise(0)
            for o in COMPONENTS
            if o is not component
        )
    )
    earlier_all = pl.sum_horizontal(
        *(
            pl.when(pl.col(POS[o]) < pl.col(POS[component]))
            .then(pl.col(f"o_{o.value}").sum().over("loan_id"))
            .otherwise(0)
            for o in COMPONENTS
            if o is not component
        )
    )
    owed = pl.col(f"o_{component.value}")
    line_total = pl.col("o_total")
    instalment_first = line_total.cum_sum().over("loan_id") - line_total + earlier_here
    component_first = owed.cum_sum().over("loan_id") - owed + earlier_all
    return (
        pl.when(pl.col("waterfall") == WaterfallOrder.INSTALMENT_FIRST.value)
        .then(instalment_first)
        .otherwise(component_first)
    )


def pay_step(
    lines: pl.DataFrame, pay: pl.DataFrame, loans: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Apply one payment per loan (``pay``: loan_id, payment_id, t, prev, amount).

    ``lines`` holds only the lines of these loans that may still change. Returns the
    updated lines, the lines now settled for good (due and fully paid), and the
    allocation rows.
    """
    x = lines.join(pay, on="loan_id", how="inner", maintain_order="left")
    x = x.with_columns(advance_expr(pl.col("t"), pl.col("prev")))
    is_due = pl.col("due") <= pl.col("t")
    x = x.with_columns(
        [pl.when(is_due).then(pl.col(U[c])).otherwise(0).alias(f"o_{c.value}") for c in COMPONENTS]
    ).with_columns(o_total=pl.sum_horizontal(*(pl.col(f"o_{c.value}") for c in COMPONENTS)))
    x = x.with_columns(
        [
            pl.min_horizontal(
                pl.max_horizontal(pl.col("amount") - _before_expr(c), 0), pl.col(f"o_{c.value}")
            ).alias(f"a_{c.value}")
            for c in COMPONENTS
        ]
    ).with_columns([(pl.col(U[c]) - pl.col(f"a_{c.value}")).alias(U[c]) for c in COMPONENTS])
    allocs = (
        x.select(
            "payment_id",
            "loan_id",
            "seq",
            *(pl.col(f"a_{c.value}").alias(c.value) for c in COMPONENTS),
        )
        .unpivot(
            index=["payment_id", "loan_id", "seq"], variable_name="component", value_name="amount"
        )
        .filter(pl.col("amount") > 0)
    )

    # Loan level: what is left after everything due, and the principal not yet due.
    future = ~is_due
    per_loan = x.group_by("loan_id").agg(
        owed=pl.col("o_total").sum(),
        future_principal=pl.when(future).then(pl.col(U[Component.PRINCIPAL])).otherwise(0).sum(),
        future_count=future.sum().cast(pl.Int32),
    )
    level = (
        pay.join(per_loan, on="loan_id", how="left")
        .with_columns(pl.col("owed", "future_principal", "future_count").fill_null(0))
        .with_columns(excess=pl.max_horizontal(pl.col("amount") - pl.col("owed"), 0))
        .filter(pl.col("excess") > 0)
        .with_columns(payoff=pl.col("excess") >= pl.col("future_principal"))
    )
    prepaid = level.select(
        "payment_id",
        "loan_id",
        pl.lit(None, dtype=pl.Int32).alias("seq"),
        pl.lit(Component.PRINCIPAL.value).alias("component"),
        pl.min_horizontal("excess", "future_principal").alias("amount"),
    )
    credit = level.select(
        "payment_id",
        "loan_id",
        pl.lit(None, dtype=pl.Int32).alias("seq"),
        pl.lit(CREDIT).alias("component"),
        (pl.col("excess") - pl.col("future_principal")).alias("amount"),
    )
    schema = pl.Schema(ALLOCATIONS)
    allocs = pl.concat([allocs.cast(schema), prepaid.cast(schema), credit.cast(schema)]).filter(
        pl.col("amount") > 0
    )

    if not level.is_empty():
        x = _reamortise(x, level, loans, future)

    settled = is_due & (unpaid_total() == 0)
    keep = lines.columns
    x = x.select(*keep, settled.alias("_settled"))
    done = x.filter(pl.col("_settled")).drop("_settled")
    x = x.filter(~pl.col("_settled")).drop("_settled")
    return x, done, allocs


def _reamortise(
    x: pl.DataFrame, level: pl.DataFrame, loans: pl.DataFrame, future: pl.Expr
) -> pl.DataFrame:
    """Drop the not-yet-due lines of paid-off loans; re-amortise those of prepaying loans."""
    partial = level.filter(~pl.col("payoff")).join(loans, on="loan_id", how="inner")
    shorten = (pl.col("prepayment") == PrepaymentRule.SHORTEN_TERM.value) & (pl.col("method") != IO)
    partial = partial.with_columns(
        balance=pl.col("future_principal") - pl.col("excess"),
        count=pl.col("future_count"),
        shorten=shorten,
    ).with_columns(
        lvl_balance=pl.when("shorten").then(pl.col("principal")).otherwise(pl.col("balance")),
        lvl_count=pl.when("shorten").then(pl.col("term_months")).otherwise(pl.col("count")),
    )
    partial = with_level(partial, balance="lvl_balance", count="lvl_count")
    rows = amortise_frame(partial).rename({"k": "_j", "principal": "_p", "interest": "_i"})
    flags = level.select("loan_id", pl.col("payoff").alias("_payoff"))
    x = (
        x.join(flags, on="loan_id", how="left", maintain_order="left")
        .with_columns(_j=future.cast(pl.Int32).cum_sum().over("loan_id"))
        .join(rows, on=["loan_id", "_j"], how="left", maintain_order="left")
    )
    touched = future & pl.col("_payoff").is_not_null()
    drop = touched & (pl.col("_payoff") | pl.col("_p").is_null())
    x = x.filter(~drop.fill_null(False))
    redo = touched & pl.col("_p").is_not_null()
    return x.with_columns(
        pl.when(redo)
        .then(pl.col("_p"))
        .otherwise(pl.col(U[Component.PRINCIPAL]))
        .alias(U[Component.PRINCIPAL]),
        pl.when(redo)
        .then(pl.col("_i"))
        .otherwise(pl.col(U[Component.INTEREST]))
        .alias(U[Component.INTEREST]),
    ).drop("_payoff", "_j", "_p", "_i")
