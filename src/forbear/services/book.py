"""Book-level use cases: compute and store account states, roll-rate matrices."""

from __future__ import annotations

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
    products_frame,
)
from forbear.store import bulk

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


def compute_states(
    conn: Connection, as_of: date, buckets: BucketScheme = DEFAULT_BUCKETS
) -> StatesResult:
    """Run the ledger over the whole book as of ``as_of`` and store the snapshot.

    Recomputing a date replaces that date's snapshot, so the command is idempotent.
    """
    loans = bulk.read_loans(conn)
    products = products_frame(bulk.read_products_terms(conn))
    instalments = bulk.read_instalments(conn)
    payments = bulk.read_payments(conn, up_to=as_of)
    result = account_states_partitioned(
        loans.lazy(),
        products.lazy(),
        instalments.lazy(),
        payments.lazy(),
        as_of,
        buckets,
        partitions=partitions_for(loans.height),
    )
    frame = result.states.collect()
    bulk.replace_states(conn, as_of, frame)
    return StatesResult(as_of=as_of, states=frame, buckets=buckets)


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
