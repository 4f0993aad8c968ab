"""Book-level use cases: compute and store account states, roll-rate matrices, and the
book of one day as the daily run reads it (:func:`load_day`: every table once) with its
one ledger run (:func:`day_ledger`), which the states, the scoring features, the ACCOUNT
frame and the legal queue all share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Connection

from forbear.domain import portfolio
from forbear.domain.errors import ValidationError
from forbear.domain.ledger import (
    DEFAULT_BUCKETS,
    SMALL_BOOK,
    BucketScheme,
    Settled,
    account_states,
    account_states_partitioned,
)
from forbear.domain.ledger import schema as ledger_schema
from forbear.domain.ledger.schedules import products_frame
from forbear.domain.plans.ledger import apply_plans, governing_plans, restore_totals
from forbear.domain.products import ProductTerms
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
    terms = bulk.read_products_terms(conn)
    instalments = bulk.read_instalments(conn, loan_ids)
    return _effective(conn, as_of, loans, terms, instalments, payments, loan_ids)


def _effective(
    conn: Connection,
    as_of: date,
    loans: pl.DataFrame,
    terms: list[ProductTerms],
    instalments: pl.DataFrame,
    payments: pl.DataFrame,
    loan_ids: Sequence[int] | None = None,
) -> LedgerInputs:
    """The ledger's inputs from the contract book: each loan on its contract version, each
    loan a repayment plan governs on the plan's schedule."""
    loans, products = ledger_products(conn, loans, terms, loan_ids)
    periods = read_plan_periods(conn)
    if loan_ids is not None:
        periods = periods.filter(pl.col("loan_id").is_in(loans["loan_id"]))
    governing = governing_plans(periods, as_of)
    lines = read_plan_lines(conn, governing["plan_id"].to_list())
    eff_loans, eff_instalments, eff_payments = apply_plans(
        loans, instalments, payments, governing, lines
    )
    return LedgerInputs(eff_loans, products, eff_instalments, eff_payments, payments, governing)


@dataclass(frozen=True)
class BookDay:
    """The book of one day as the daily run reads it, every table once: the contract
    book (``loans`` is ``LOANS`` plus ``borrower_id``; ``products`` the current terms;
    ``instalments`` the contract schedules; ``payments`` those paid on or before
    ``as_of``) and what the ledger runs on (``inputs``: contract versions and plans
    applied)."""

    as_of: date
    loans: pl.DataFrame
    products: pl.DataFrame
    instalments: pl.DataFrame
    payments: pl.DataFrame
    inputs: LedgerInputs

    @property
    def borrowers(self) -> pl.DataFrame:
        """``loan_id, borrower_id`` of every loan (``bulk.LOAN_BORROWERS``)."""
        return self.loans.select("loan_id", "borrower_id")

    def rebased(self) -> pl.Series:
        """The loans whose ledger inputs differ from their contract book's: governed by a
        plan, or made under an older contract version (their product key differs)."""
        keyed = self.inputs.loans.select("loan_id", "product_code").join(
            self.loans.select("loan_id", pl.col("product_code").alias("_contract")),
            on="loan_id",
            how="left",
        )
        versioned = keyed.filter(pl.col("product_code") != pl.col("_contract"))["loan_id"]
        return pl.concat([versioned, self.inputs.governing["loan_id"]]).unique().sort()


# The daily run reads and computes the book in contiguous ranges of loan ids of at least
# this many loans (index range scans on both databases; memory holds the ranges being
# computed, two at a time, and the next one being read). 40,000 loans of a demo book are
# about 580,000 instalments. With the compiled ledger a range costs little beyond its
# rows, so smaller ranges let the reader (its own process on SQLite) read the next one
# while these are computed: on the 100,000-borrower book (124,016 loans) reading and
# computing took 3.8-5.9 s wall in ranges of 40,000 against 6.8-8.0 s as one range of
# 250,000, the same CPU (load 6-8); with two ranges computed at once, the whole run took
# 7.38-7.67 s in ranges of 25,000 against 7.69-8.14 s in ranges of 40,000 and 7.44-7.92 s
# in ranges of 15,000 (quiet machine, three runs each).
LOANS_PER_BUCKET = 25_000
# A bigger book has ranges of up to this many loans, about RANGES of them: each range pays
# fixed costs (its queries, the ledger's and the features' plans), and on the 1M book
# (1,232,600 loans, PostgreSQL) ranges of 80,000 took 58-60 s against 62 s in ranges of
# 40,000 (quiet machine).
MAX_LOANS_PER_BUCKET = 100_000
RANGES = 16


def loans_per_range(loans: int) -> int:
    """The daily run's range size for a book of ``loans`` loans."""
    return min(MAX_LOANS_PER_BUCKET, max(LOANS_PER_BUCKET, -(-loans // RANGES)))


@dataclass(frozen=True)
class BookHead:
    """What the day reads once for the whole book, before its loan ranges: every loan
    (``LOANS`` plus ``borrower_id``) and its ledger key (contract version), the products
    (current terms, and the ledger's with the older versions), the governing plans and
    their lines."""

    as_of: date
    loans: pl.DataFrame
    keyed: pl.DataFrame
    contract_products: pl.DataFrame
    products: pl.DataFrame
    governing: pl.DataFrame
    lines: pl.DataFrame

    def buckets(self, per_bucket: int = LOANS_PER_BUCKET) -> list[tuple[int, int]]:
        """Contiguous ``(first, last)`` loan-id ranges of at most ``per_bucket`` loans, the
        first of them a quarter of that: nothing is computed until the first range is
        read, and a small one is read soon (about 0.5 s of waiting saved on the 100,000
        book); the reader then keeps ahead of the computing."""
        ids = self.loans["loan_id"]  # ordered by loan_id
        n = ids.len()
        first = max(1, per_bucket // 4)
        starts = [0, *range(first, n, per_bucket)] if n > first else [0]
        ends = [*starts[1:], n]
        return [(int(ids[a]), int(ids[b - 1])) for a, b in zip(starts, ends, strict=True) if b > a]


def read_head(conn: Connection, as_of: date) -> BookHead:
    loans = bulk.read_loans_with_borrowers(conn)
    terms = bulk.read_products_terms(conn)
    keyed, products = ledger_products(conn, loans.select(list(ledger_schema.LOANS)), terms)
    governing = governing_plans(read_plan_periods(conn), as_of)
    lines = read_plan_lines(conn, governing["plan_id"].to_list())
    return BookHead(as_of, loans, keyed, products_frame(terms), products, governing, lines)


def load_bucket(conn: Connection, head: BookHead, first: int, last: int) -> BookDay:
    """The loans with ids ``first..last`` of the day's book: their instalments and
    payments read (a range scan each), the rest cut from ``head``."""
    mine = pl.col("loan_id").is_between(first, last)
    instalments = bulk.read_instalments(conn, between=(first, last))
    payments = bulk.read_payments(conn, up_to=head.as_of, between=(first, last))
    governing = head.governing.filter(mine)
    lines = head.lines.join(governing.select("plan_id"), on="plan_id", how="semi")
    eff_loans, eff_instalments, eff_payments = apply_plans(
        head.keyed.filter(mine), instalments, payments, governing, lines
    )
    inputs = LedgerInputs(
        eff_loans, head.products, eff_instalments, eff_payments, payments, governing
    )
    loans = head.loans.filter(mine)
    return BookDay(head.as_of, loans, head.contract_products, instalments, payments, inputs)


def load_day(conn: Connection, as_of: date) -> BookDay:
    """Every table the day's ledger and scoring read, read once (:class:`BookDay`), the
    whole book as one range."""
    head = read_head(conn, as_of)
    if head.loans.is_empty():
        return load_bucket(conn, head, 0, -1)
    return load_bucket(conn, head, int(head.loans["loan_id"][0]), int(head.loans["loan_id"][-1]))


def iter_days(conn: Connection, head: BookHead, per_bucket: int | None = None) -> Iterator[BookDay]:
    """:func:`load_bucket` over every range of the book, the next range read (by a
    thread on ``conn``, which the caller must not use meanwhile) while the caller works
    on the current one."""
    ranges = head.buckets(per_bucket or loans_per_range(head.loans.height))
    if not ranges:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="book-reader") as reader:
        pending = reader.submit(load_bucket, conn, head, *ranges[0])
        for following in [*ranges[1:], None]:
            day = pending.result()
            if following is not None:
                pending = reader.submit(load_bucket, conn, head, *following)
            yield day
            del day


@dataclass(frozen=True)
class DayLedger:
    """The day's one ledger run: ``states`` (``STATES``, what is stored) and, for the
    scoring features, the settlement history of every loan on its contract book
    (``contract_settled``; the plan-governed and older-version loans run again on their
    contract, as the features have always seen them; every other loan's is the day's
    run's). ``contract_settled`` is None when the run was not asked for it."""

    states: pl.DataFrame
    contract_settled: Settled | None


def day_ledger(
    day: BookDay, buckets: BucketScheme = DEFAULT_BUCKETS, *, contract: bool = True
) -> DayLedger:
    """Run the ledger over the day's book once (plus, when ``contract``, the few rebased
    loans again on their contract book; see :class:`DayLedger`)."""
    inputs = day.inputs
    result = account_states_partitioned(
        inputs.loans.lazy(),
        inputs.products.lazy(),
        inputs.instalments.lazy(),
        inputs.payments.lazy(),
        day.as_of,
        buckets,
        partitions=partitions_for(inputs.loans.height),
        settle=contract,
    )
    raw_states = result.states.collect()
    states = restore_totals(raw_states, inputs.all_payments, inputs.governing)
    if not contract or result.settled is None:
        return DayLedger(states, None)
    settled = result.settled
    rebased = day.rebased()
    if rebased.len():
        mine = pl.col("loan_id").is_in(rebased.implode())
        again = account_states(
            day.loans.lazy().filter(mine).drop("borrower_id"),
            day.products.lazy(),
            day.instalments.lazy().filter(mine),
            day.payments.lazy().filter(mine),
            day.as_of,
            buckets,
            settle=True,
        )
        assert again.settled is not None  # (asked for)
        settled = settled.replacing(again.settled, rebased)
    return DayLedger(states, settled)


def run_ledger_on(
    inputs: LedgerInputs, as_of: date, buckets: BucketScheme, *, small: int = SMALL_BOOK
) -> pl.DataFrame:
    """Account states (``STATES``) of every loan of ``inputs`` (up to ``small`` loans on
    the scalar path: :func:`forbear.domain.ledger.account_states`)."""
    result = account_states_partitioned(
        inputs.loans.lazy(),
        inputs.products.lazy(),
        inputs.instalments.lazy(),
        inputs.payments.lazy(),
        as_of,
        buckets,
        partitions=partitions_for(inputs.loans.height),
        small=small,
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
