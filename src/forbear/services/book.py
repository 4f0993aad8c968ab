"""Book-level use cases: compute and store account states, roll-rate matrices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Connection

from forbear.domain import portfolio
from forbear.domain.errors import ValidationError
from forbear.domain.ledger import (
    DEFAULT_BUCKETS,
    BucketScheme,
    account_states_partitioned,
)
from forbear.domain.plans.ledger import apply_plans, governing_plans, restore_totals
from forbear.services.contracts import ledger_products
from forbear.store import bulk
from forbear.store.plans import read_plan_lines, read_plan_periods

# The ledger's working memory grows with the slice it works on: 1M loans in one piece
# peaked at 5.7 GB (benchmarks/README.md); slices of this many loans keep it bounded.
LOANS_PER_PARTITION = 200_000


def partitions_for(loans: int) -> int:
    return max(1, -(-loans // LOANS_PER_PARTITION))


@dataclass(frozen=True)
class StatesResult:
    as_of: date
    states: pl.DataFrame
    buckets: BucketScheme

    def summary(self) -> pl.DataFrame:
        return portfolio.bucket_summary(self.states.lazy(), self.buckets.labels)


@dataclass(frozen=True)
class LedgerInputs:
    """The ledger's input frames for a date, with each loan on its own contract version and
    each loan governed by a repayment plan on the plan's schedule (``governing``)."""

    loans: pl.DataFrame
    products: pl.DataFrame
    instalments: pl.DataFrame
    payments: pl.DataFrame
    all_payments: pl.DataFrame
    governing: pl.DataFrame


def ledger_inputs(
    conn: Connection, as_of: date, loan_ids: Sequence[int] | None = None
) -> LedgerInputs:
    """What :func:`compute_states` gives the ledger for ``as_of`` (docs/plans.md); only
    ``loan_ids`` when given."""
    loans = bulk.read_loans(conn, loan_ids)
    payments = bulk.read_payments(conn, up_to=as_of, loan_ids=loan_ids)
    loans, products = ledger_products(conn, loans, bulk.read_products_terms(conn), loan_ids)
    instalments = bulk.read_instalments(conn, loan_ids)
    periods = read_plan_periods(conn)
    if loan_ids is not None:
        periods = periods.filter(pl.col("loan_id").is_in(loans["loan_id"]))
    governing = governing_plans(periods, as_of)
    lines = read_plan_lines(conn, governing["plan_id"].to_list())
    eff_loans, eff_instalments, eff_payments = apply_plans(
        loans, instalments, payments, governing, lines
    )
    return LedgerInputs(eff_loans, products, eff_instalments, eff_payments, payments, governing)


def run_ledger_on(inputs: LedgerInputs, as_of: date, buckets: BucketScheme) -> pl.DataFrame:
    """Account states (``STATES``) of every loan of ``inputs``."""
    result = account_states_partitioned(
        inputs.loans.lazy(),
        inputs.products.lazy(),
        inputs.instalments.lazy(),
        inputs.payments.lazy(),
        as_of,
        buckets,
        partitions=partitions_for(inputs.loans.height),
    )
    return restore_totals(result.states.collect(), inputs.all_payments, inputs.governing)


def compute_states(
    conn: Connection, as_of: date, buckets: BucketScheme = DEFAULT_BUCKETS
) -> StatesResult:
    """Run the ledger over the whole book as of ``as_of`` and store the snapshot.

    Recomputing a date replaces that date's snapshot, so the command is idempotent.
    """
    frame = ledger_states(conn, as_of, buckets)
    store_states(conn, as_of, frame)
    return StatesResult(as_of=as_of, states=frame, buckets=buckets)


def ledger_states(
    conn: Connection, as_of: date, buckets: BucketScheme = DEFAULT_BUCKETS
) -> pl.DataFrame:
    """The ledger over the whole book as of ``as_of``; reads only (the daily run computes
    it on a read-only snapshot and stores it in a short write, :func:`store_states`)."""
    return run_ledger_on(ledger_inputs(conn, as_of), as_of, buckets)


def store_states(conn: Connection, as_of: date, frame: pl.DataFrame) -> None:
    """Store ``frame`` as the snapshot of ``as_of``, replacing that date's."""
    bulk.replace_states(conn, as_of, frame)


def states_for(
    conn: Connection, as_of: date, buckets: BucketScheme = DEFAULT_BUCKETS
) -> StatesResult:
    """The stored snapshot for ``as_of``, computed and stored first if there is none."""
    stored = bulk.read_states(conn, as_of)
    if stored.height == 0:
        return compute_states(conn, as_of, buckets)
    return StatesResult(as_of=as_of, states=stored, buckets=buckets)


def roll_rate_matrix(
    conn: Connection,
    start: date,
    end: date,
    buckets: BucketScheme = DEFAULT_BUCKETS,
    *,
    by_balance: bool = False,
) -> pl.DataFrame:
    if end <= start:
        raise ValidationError("--to", "must be after --from")
    first = states_for(conn, start, buckets)
    last = states_for(conn, end, buckets)
    return portfolio.roll_rates(
        first.states.lazy(), last.states.lazy(), buckets.labels, by_balance=by_balance
    )
