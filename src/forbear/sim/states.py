"""Account states of the demo book on several dates from one read of the book.

``forbear demo`` stores the states of five dates (two month ends and today before the
collection history, today again and the dashboard's first day after it). Reading the
schedules and payments once for the dates that share them, instead of once per date, is
most of what each date cost. The ledger's inputs are built as the daily run builds them
(:func:`forbear.services.book.read_head`: contract versions and governing plans of the
date), so the states are the same as :func:`forbear.services.book.compute_states` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Connection

from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.domain.plans.ledger import apply_plans
from forbear.services import book
from forbear.store import bulk


@dataclass(frozen=True)
class BookRead:
    """Every loan's schedule and its payments up to a date, read once."""

    instalments: pl.DataFrame
    payments: pl.DataFrame

    @classmethod
    def of(cls, conn: Connection, up_to: date) -> BookRead:
        return cls(bulk.read_instalments(conn), bulk.read_payments(conn, up_to=up_to))

    def with_payments_of(self, conn: Connection, loans: list[int], up_to: date) -> BookRead:
        """The same read with the payments of ``loans`` read again (new ones were made)."""
        mine = pl.col("loan_id").is_in(pl.Series(loans, dtype=pl.Int64).implode())
        fresh = bulk.read_payments(conn, up_to=up_to, loan_ids=loans)
        payments = pl.concat([self.payments.filter(~mine), fresh])
        return BookRead(self.instalments, payments.sort("loan_id", "paid_on", "payment_id"))

    def inputs(
        self, conn: Connection, day: date, loans: pl.Series | None = None
    ) -> book.LedgerInputs:
        """The ledger's inputs on ``day`` (every loan, or ``loans``), as
        :func:`forbear.services.book.ledger_inputs` gives them."""
        head = book.read_head(conn, day)
        keyed, instalments, paid = (
            head.keyed,
            self.instalments,
            self.payments.filter(pl.col("paid_on") <= day),
        )
        governing, lines = head.governing, head.lines
        if loans is not None:
            mine = pl.col("loan_id").is_in(loans.implode())
            keyed, instalments, paid = (
                keyed.filter(mine),
                instalments.filter(mine),
                paid.filter(mine),
            )
            governing = governing.filter(mine)
            lines = lines.join(governing.select("plan_id"), on="plan_id", how="semi")
        eff_loans, eff_instalments, eff_payments = apply_plans(
            keyed, instalments, paid, governing, lines
        )
        return book.LedgerInputs(
            eff_loans, head.products, eff_instalments, eff_payments, paid, governing
        )

    def store_states(self, conn: Connection, day: date) -> book.StatesResult:
        """Run the ledger over the whole book on ``day`` and store the snapshot (replacing
        that date's), as :func:`forbear.services.book.compute_states` does."""
        frame = book.run_ledger_on(self.inputs(conn, day), day, DEFAULT_BUCKETS)
        book.store_states(conn, day, frame)
        return book.StatesResult(as_of=day, states=frame, buckets=DEFAULT_BUCKETS)
