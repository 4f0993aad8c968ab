"""Account state as of a date: days past due, bucket, overdue and outstanding amounts.

- dpd counts from the oldest instalment with anything unpaid (penalty included) whose
  due date is before ``as_of``: ``days = as_of - due_date``; dpd is ``days`` once past
  grace (``days > grace_days``), else 0.
- Overdue amounts are the unpaid amounts (and penalty) of instalments past their deadline
  (``due_date + grace_days < as_of``); ``oldest_unpaid_due_date`` is the due date dpd
  counts from (NULL when nothing due before ``as_of`` is unpaid).
- ``next_due_date`` / ``next_due_amount``: the first due date on or after ``as_of`` with
  anything unpaid, and all that is unpaid on that date.
- ``status``: written_off once ``written_off_on <= as_of``; else paid_off when nothing at
  all is unpaid; else active. ``credit`` is money paid beyond payoff, owed back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from forbear.domain.ledger.allocation import COMPONENTS, CREDIT, LoanBook
from forbear.domain.ledger.model import AccountState, Allocation, Payment
from forbear.domain.ledger.schema import STATES
from forbear.domain.products import Component


@dataclass(frozen=True, slots=True)
class BucketScheme:
    """Delinquency buckets: dpd ``<= edges[0]`` is ``labels[0]``; ``edges[i-1] < dpd <=
    edges[i]`` is ``labels[i]``; above the last edge is ``labels[-1]``."""

    edges: tuple[int, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError("a bucket scheme needs one label more than it has edges")
        if list(self.edges) != sorted(set(self.edges)):
            raise ValueError("bucket edges must be strictly increasing")

    def label(self, dpd: int) -> str:
        for edge, label in zip(self.edges, self.labels, strict=False):
            if dpd <= edge:
                return label
        return self.labels[-1]

    def expr(self, dpd: pl.Expr) -> pl.Expr:
        chain = pl.lit(self.labels[-1])
        for edge, label in reversed(list(zip(self.edges, self.labels, strict=False))):
            chain = pl.when(dpd <= edge).then(pl.lit(label)).otherwise(chain)
        return chain


DEFAULT_BUCKETS = BucketScheme(
    edges=(0, 30, 60, 90, 120, 150, 180),
    labels=("C", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"),
)

ACTIVE, PAID_OFF, WRITTEN_OFF = "active", "paid_off", "written_off"


def state_of(
    book: LoanBook, as_of: date, payments: Sequence[Payment], buckets: BucketScheme
) -> AccountState:
    """The state of a loan whose ``book`` has taken ``payments`` and been advanced to ``as_of``."""
    grace = book.product.grace_days
    lines = book.lines
    behind = [ln for ln in lines if ln.unpaid_total > 0 and ln.due_date < as_of]
    oldest = min((ln.due_date for ln in behind), default=None)
    days = (as_of - oldest).days if oldest is not None else 0
    dpd = days if days > grace else 0
    late = [ln for ln in lines if ln.deadline < as_of]
    overdue = {c: sum(ln.unpaid[c] for ln in late) for c in COMPONENTS}
    upcoming = [ln for ln in lines if ln.due_date >= as_of and ln.unpaid_total > 0]
    next_due = min((ln.due_date for ln in upcoming), default=None)
    next_amount = (
        sum(ln.unpaid_total for ln in upcoming if ln.due_date == next_due)
        if next_due is not None
        else None
    )
    loan = book.loan
    if loan.written_off_on is not None and loan.written_off_on <= as_of:
        status = WRITTEN_OFF
    elif all(ln.unpaid_total == 0 for ln in lines):
        status = PAID_OFF
    else:
        status = ACTIVE
    return AccountState(
        loan_id=loan.loan_id,
        as_of=as_of,
        status=status,
        dpd=dpd,
        bucket=buckets.label(dpd),
        overdue_principal=overdue[Component.PRINCIPAL],
        overdue_interest=overdue[Component.INTEREST],
        overdue_fee=overdue[Component.FEE],
        overdue_penalty=overdue[Component.PENALTY],
        overdue_total=sum(overdue.values()),
        outstanding_principal=sum(ln.unpaid[Component.PRINCIPAL] for ln in lines),
        oldest_unpaid_due_date=oldest,
        next_due_date=next_due,
        next_due_amount=next_amount,
        last_payment_date=max((p.paid_on for p in payments), default=None),
        paid_total=sum(p.amount for p in payments),
        credit=_credit(book.allocations),
    )


def _credit(allocations: Sequence[Allocation]) -> int:
    return sum(a.amount for a in allocations if a.component == CREDIT)


def states_frame(
    figures: pl.DataFrame,
    loans: pl.DataFrame,
    as_of: date,
    buckets: BucketScheme,
) -> pl.LazyFrame:
    """``schema.STATES`` from the per-loan figures of a walked book (``allocation.walk.
    FIGURES``: what :func:`state_of` sums over one loan's lines, for every loan).

    ``loans``: the same loans in the same order, with ``grace_days`` and
    ``written_off_on``.
    """
    days = (pl.lit(as_of) - pl.col("oldest_unpaid_due_date")).dt.total_days()
    return (
        figures.lazy()
        .with_columns(loans.select("grace_days", "written_off_on"))
        .with_columns(
            dpd=pl.when(days > pl.col("grace_days")).then(days).otherwise(0).fill_null(0),
        )
        .with_columns(
            as_of=pl.lit(as_of),
            status=pl.when(pl.col("written_off_on") <= pl.lit(as_of))
            .then(pl.lit(WRITTEN_OFF))
            .when(pl.col("unpaid") == 0)
            .then(pl.lit(PAID_OFF))
            .otherwise(pl.lit(ACTIVE)),
            bucket=buckets.expr(pl.col("dpd")),
            overdue_total=pl.sum_horizontal(
                "overdue_principal", "overdue_interest", "overdue_fee", "overdue_penalty"
            ),
        )
        .select(list(STATES))
        .cast(pl.Schema(STATES))
    )
