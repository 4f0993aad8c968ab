"""A loan's ledger position on a date, line by line, from the ledger's own scalar path.

The plan calculators need more than the account state: what is unpaid of each
instalment, by component. :func:`position_of` replays the payments with the ledger's
:class:`~forbear.domain.ledger.allocation.LoanBook` (the executable specification of the
ledger), so a plan starts from exactly the amounts the ledger says are owed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from forbear.domain.errors import ValidationError
from forbear.domain.ledger.allocation import LoanBook
from forbear.domain.ledger.model import Instalment, LoanTerms, Payment
from forbear.domain.ledger.state import ACTIVE, PAID_OFF, WRITTEN_OFF
from forbear.domain.plans.model import Amounts, OpenLine, Position
from forbear.domain.products import Component, EarlyPayment, ProductTerms


def position_of(
    loan: LoanTerms,
    product: ProductTerms,
    instalments: Sequence[Instalment],
    payments: Sequence[Payment],
    as_of: date,
) -> Position:
    """``loan``'s position at the end of ``as_of``: its payments up to that day allocated
    and penalty and late fees accrued to it, as the ledger does."""
    if loan.start_date > as_of:
        raise ValidationError("as_of", "the loan starts after this date")
    if not instalments:
        raise ValidationError("instalments", f"loan {loan.loan_id} has no schedule")
    book = LoanBook.open(loan, product, instalments)
    for payment in sorted(
        (p for p in payments if p.paid_on <= as_of and p.loan_id == loan.loan_id),
        key=lambda p: (p.paid_on, p.payment_id),
    ):
        book.pay(payment)
    book.advance(as_of)
    scheduled = {i.seq: i.principal + i.interest + i.fee for i in instalments}
    overdue: list[OpenLine] = []
    future: list[OpenLine] = []
    for line in book.lines:
        unpaid = Amounts(
            principal=line.unpaid[Component.PRINCIPAL],
            interest=line.unpaid[Component.INTEREST],
            fee=line.unpaid[Component.FEE],
            penalty=line.unpaid[Component.PENALTY],
        )
        if unpaid.total == 0:
            continue
        open_line = OpenLine(line.seq, line.due_date, scheduled[line.seq], unpaid)
        (overdue if line.due_date < as_of else future).append(open_line)
    if loan.written_off_on is not None and loan.written_off_on <= as_of:
        status = WRITTEN_OFF
    elif not overdue and not future:
        status = PAID_OFF
    else:
        status = ACTIVE
    oldest = min((ln.due_date for ln in overdue), default=None)
    days = (as_of - oldest).days if oldest is not None else 0
    # the usual instalment: the next one's as scheduled, else the last one's
    ordered = sorted(instalments, key=lambda i: i.seq)
    regular_source = next((i for i in ordered if i.due_date >= as_of), ordered[-1])
    return Position(
        loan_id=loan.loan_id,
        as_of=as_of,
        status=status,
        annual_rate_bp=loan.annual_rate_bp,
        first_due_date=loan.first_due_date,
        overdue=tuple(overdue),
        future=tuple(future),
        current_owed=product.early_payment is EarlyPayment.CURRENT_INSTALMENT,
        regular_payment=scheduled[regular_source.seq],
        dpd=days if days > product.grace_days else 0,
    )
