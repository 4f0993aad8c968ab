"""The allocation rule for one loan, payment by payment (:class:`LoanBook`): the readable
specification the compiled walk (:mod:`.compiled`) is tested against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from forbear.domain.ledger.allocation.components import CREDIT
from forbear.domain.ledger.model import Allocation, Instalment, LoanTerms, Payment
from forbear.domain.ledger.schedules import (
    amortise,
    level_for,
)
from forbear.domain.money import BP_PER_UNIT, div_round
from forbear.domain.products import (
    Component,
    EarlyPayment,
    PrepaymentRule,
    ProductTerms,
    RepaymentMethod,
    WaterfallOrder,
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

    def owed_at(self, t: date) -> list[Line]:
        """The lines a payment on ``t`` pays (a prefix of ``lines``): the due ones, and under
        ``current_instalment`` the current one (the first with ``due_date > t``)."""
        due = sum(1 for line in self.lines if line.due_date <= t)
        if self.product.early_payment is EarlyPayment.CURRENT_INSTALMENT:
            return self.lines[: due + 1]
        return self.lines[:due]

    def pay(self, payment: Payment) -> None:
        t = payment.paid_on
        self.advance(t)
        owed = self.owed_at(t)
        due = [line for line in owed if line.due_date <= t]
        current = owed[len(due) :]
        components = self.product.components
        if self.product.waterfall is WaterfallOrder.INSTALMENT_FIRST:
            order = [(line, c) for line in due for c in components]
        else:
            order = [(line, c) for c in components for line in due]
        order += [(line, c) for line in current for c in components]
        left = payment.amount
        for line, component in order:
            amount = min(left, line.unpaid[component])
            if amount > 0:
                line.unpaid[component] -= amount
                left -= amount
                self._record(payment, line.seq, component.value, amount)
        if left > 0:
            self._prepay(payment, left, owed)

    def _prepay(self, payment: Payment, excess: int, owed_lines: list[Line]) -> None:
        future = self.lines[len(owed_lines) :]
        owed = sum(line.unpaid[Component.PRINCIPAL] for line in future)
        if excess >= owed:
            self._record(payment, None, Component.PRINCIPAL.value, owed)
            self._record(payment, None, CREDIT, excess - owed)
            self.lines = owed_lines
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
        self.lines = owed_lines + future[: len(rows)]

    def _record(self, payment: Payment, seq: int | None, component: str, amount: int) -> None:
        if amount > 0:
            self.allocations.append(
                Allocation(payment.payment_id, payment.loan_id, seq, component, amount)
            )
