"""When each instalment of a book was settled: the ledger's history as of its date.

A ledger run at ``last`` knows, besides each loan's state, how every payment was
allocated. Two facts of that history are what the behaviour features and the training
targets (:mod:`forbear.domain.scoring`) need for any day up to ``last``:

- ``lines`` (``schema.SETTLED_LINES``): every instalment with the day it became settled
  (``settled_on``), the day of the last payment that put money on it (penalty included).
  Which instalments are settled at all, the state at ``last`` says: every one of a loan
  paid off, and those due before its ``oldest_unpaid_due_date`` (the ledger settles
  instalments in seq order, under both waterfalls and early payment). A settled line that
  no payment reached lost its principal to a prepayment (payoff, shortened term): it was
  settled on the loan's last prepayment (a line of nothing at all, on the loan's start).
- ``principal`` (``schema.PRINCIPAL_PAID``): the principal each payment paid, its
  instalments' and prepaid, with the payment's day.

Both paths of the ledger give them (``settle=True``): the scalar one from each loan's
allocations (:func:`settled_rows`), the compiled walk from its arrays in the same loop
(:func:`forbear.domain.ledger.allocation.walk_book`). The tests check that they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from forbear.domain.ledger.model import Instalment, LedgerResult, LoanTerms, Payment
from forbear.domain.ledger.schema import PRINCIPAL_PAID, SETTLED_LINES
from forbear.domain.products import Component

EPOCH = date(1970, 1, 1).toordinal()
PAID_OFF = "paid_off"  # (``state.PAID_OFF``; state imports the allocation rule, this not)

LineRow = tuple[int, int, int, int, int, int, int | None, int, int | None]
PrincipalRow = tuple[int, int, int]


def day_number(value: date) -> int:
    return value.toordinal() - EPOCH


@dataclass(frozen=True, slots=True)
class Settled:
    """A book's settlement history as of ``last`` (see the module's description):
    ``lines`` (``SETTLED_LINES``; a loan's lines together, by seq), ``principal``
    (``PRINCIPAL_PAID``)."""

    last: date
    lines: pl.DataFrame
    principal: pl.DataFrame

    @classmethod
    def of_rows(
        cls, last: date, lines: Sequence[LineRow], principal: Sequence[PrincipalRow]
    ) -> Settled:
        return cls(
            last,
            pl.DataFrame(list(lines), schema=SETTLED_LINES, orient="row"),
            pl.DataFrame(list(principal), schema=PRINCIPAL_PAID, orient="row"),
        )

    @classmethod
    def concat(cls, last: date, parts: Sequence[Settled]) -> Settled:
        """The parts (of other loans each) as one history."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            last,
            pl.concat([p.lines for p in parts]),
            pl.concat([p.principal for p in parts]),
        )

    def replacing(self, other: Settled, loan_ids: pl.Series) -> Settled:
        """This history with the loans ``loan_ids`` taken from ``other`` instead (theirs
        come last)."""
        mine = pl.col("loan_id").is_in(loan_ids.implode())
        return Settled(
            self.last,
            pl.concat([self.lines.filter(~mine), other.lines]),
            pl.concat([self.principal.filter(~mine), other.principal]),
        )


def settled_rows(
    loan: LoanTerms,
    grace_days: int,
    instalments: Sequence[Instalment],
    payments: Sequence[Payment],
    result: LedgerResult,
    as_of: date,
) -> tuple[list[LineRow], list[PrincipalRow]]:
    """One loan's rows of :class:`Settled` from its :func:`~forbear.domain.ledger.
    run_ledger` result at ``as_of`` (``instalments`` by seq; ``payments`` those the run
    took)."""
    day_of = {p.payment_id: day_number(p.paid_on) for p in payments}
    line_paid: dict[int, int] = {}
    prepaid: int | None = None
    principal: dict[int, int] = {}
    for a in result.allocations:
        day = day_of[a.payment_id]
        if a.seq is not None:
            line_paid[a.seq] = max(line_paid.get(a.seq, day), day)
        elif a.component == Component.PRINCIPAL:
            prepaid = day if prepaid is None else max(prepaid, day)
        if a.component == Component.PRINCIPAL:
            principal[a.payment_id] = principal.get(a.payment_id, 0) + a.amount
    state = result.state
    closed = state.status == PAID_OFF
    oldest = state.oldest_unpaid_due_date
    start = day_number(loan.start_date)
    written_off = day_number(loan.written_off_on) if loan.written_off_on is not None else None
    lines: list[LineRow] = []
    for line in instalments:
        settled = closed or (line.due_date < as_of and (oldest is None or line.due_date < oldest))
        paid = line_paid.get(line.seq, prepaid if prepaid is not None else start)
        due = day_number(line.due_date)
        lines.append(
            (
                loan.loan_id,
                line.seq,
                due,
                due + grace_days,
                grace_days,
                line.principal + line.interest + line.fee,
                paid if settled else None,
                start,
                written_off,
            )
        )
    rows = [(loan.loan_id, day_of[pid], amount) for pid, amount in principal.items() if amount]
    return lines, rows
