"""Steps 1-3 of the daily run: plans settled, the book read once and its ledger run once
(states and scoring features), then states and scores stored and promises matched."""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine

from forbear.batch.engines import ACTOR
from forbear.domain.errors import NotFound
from forbear.domain.ledger import schema as contracts
from forbear.services import book
from forbear.store import bulk
from forbear.store.locks import lock_states_of
from forbear.store.snapshot import sqlite_worker_available


@dataclass
class Prepared:
    """What steps 1-3 leave for the compute phase."""

    started: datetime
    notes: list[str]
    collection: dict[str, dict[str, int]]


@dataclass
class BookDay:
    """Steps 2-3 computed, not yet stored: the ledger's states, the models' scores (None
    when no book model is active) and each loan's borrower, from the book read once."""

    states: pl.DataFrame
    scores: dict[str, pl.DataFrame] | None
    borrowers: pl.DataFrame
    last_due: pl.DataFrame  # loan_id, last_due_date: each loan's last contract instalment


def load_scoring() -> None:
    """Import the scoring use cases, which steps 2-3 need, while the snapshot reader
    starts. (scikit-learn, which a propensity model's estimator needs, is imported later,
    beside the reading and the ledger: :func:`forbear.services.models.warm_up`.)"""
    import forbear.services.models  # noqa: F401


def settle_plans(conn: Connection, as_of: date) -> dict[str, int]:
    """Step 1: plans first (an activated or broken plan changes what the ledger counts)."""
    from forbear.services import plans

    return plans.daily_update(conn, as_of, ACTOR)


def compute_book(conn: Connection, as_of: date, store: StatesStore | None = None) -> BookDay:
    """Steps 2-3 on the book as it stands; reads only. Every table of the book is read
    once, range of loan ids by range (:func:`forbear.services.book.iter_days`: memory
    holds one range, and the next one being read), and the ledger runs once
    (:func:`forbear.services.book.day_ledger`); the scoring features come from that same
    run, and the states and scores computed here are what the ACCOUNT frame reads.
    ``store`` (PostgreSQL) is handed each range's states as soon as they are computed."""
    from forbear.services import models

    head = book.read_head(conn, as_of)
    scoring = models.has_active_book_model(conn)
    warmup = models.warm_up(conn) if scoring else None  # beside the reading and the ledger
    states: list[pl.DataFrame] = []
    features: list[pl.DataFrame] = []
    last_due: list[pl.DataFrame] = []
    days = (
        book.iter_days(conn, head)
        if head.loans.height
        else iter([book.load_bucket(conn, head, 0, -1)])
    )
    # scores stored range by range too, where the store gains by it (PostgreSQL)
    live = store is not None and store.scores_by_range and warmup is not None
    owned = head.loans.group_by("borrower_id").agg(_all=pl.len())  # loans per borrower
    kept: list[dict[str, pl.DataFrame]] = []  # the ranges' scores of whole borrowers
    spanning: list[pl.Series] = []  # loans of borrowers with loans in another range

    def compute(day: book.BookDay) -> _Range:
        ledger = book.day_ledger(day, contract=scoring)
        last = day.instalments.group_by("loan_id").agg(last_due_date=pl.col("due_date").max())
        feats = models.day_features(day, ledger) if scoring else None
        return _Range(day.loans, ledger.states, last, feats)

    def take(done: _Range) -> None:
        nonlocal live
        states.append(done.states)
        if store is not None:
            store.add(done.states)
        last_due.append(done.last_due)
        if done.features is None:
            return
        features.append(done.features)
        if live and store is not None:
            here = _whole_borrowers(done.loans, owned)
            spanning.append(done.loans.filter(~here)["loan_id"])
            mine = done.features.join(
                done.loans.filter(here).select("loan_id"), on="loan_id", how="semi"
            )
            try:
                part = models.book_scores(conn, as_of, features=mine, warmup=warmup)
            except NotFound:
                live = False
            else:
                kept.append(part)
                store.add_scores(part)

    # ranges are computed COMPUTING at a time (the ledger's compiled walk and Polars work
    # outside the interpreter lock), the next one being read meanwhile; their results are
    # taken in order
    with ThreadPoolExecutor(max_workers=COMPUTING, thread_name_prefix="book-range") as pool:
        pending: deque[Future[_Range]] = deque()
        for day in days:
            pending.append(pool.submit(compute, day))
            del day
            if len(pending) >= COMPUTING:
                take(pending.popleft().result())
        while pending:
            take(pending.popleft().result())
    borrowers = head.loans.select("loan_id", "borrower_id")
    scores: dict[str, pl.DataFrame] | None = None
    if scoring:
        whole = models.whole_book(features, borrowers)
        try:
            if live and store is not None and kept:
                # the loans of borrowers spread over several ranges, on the whole book's
                # features (their other_loans counts every range): stored last
                rest = whole.filter(pl.col("loan_id").is_in(pl.concat(spanning).implode()))
                again = models.book_scores(conn, as_of, features=rest, warmup=warmup)
                store.add_scores(again)
                scores = {
                    kind: pl.concat([*(p[kind] for p in kept), again[kind]]).sort("loan_id")
                    for kind in kept[0]
                }
            else:
                scores = models.book_scores(conn, as_of, features=whole, warmup=warmup)
        except NotFound:
            scores = None
    return BookDay(
        pl.concat(states).sort("loan_id"), scores, borrowers, pl.concat(last_due).sort("loan_id")
    )


COMPUTING = 2  # ranges computed at once


@dataclass
class _Range:
    """One range of loans computed: its loans, states, last due dates and features."""

    loans: pl.DataFrame
    states: pl.DataFrame
    last_due: pl.DataFrame
    features: pl.DataFrame | None


def _whole_borrowers(loans: pl.DataFrame, owned: pl.DataFrame) -> pl.Series:
    """For each of a range's ``loans``, whether every loan of its borrower is in the range:
    then every feature of the loan, ``other_loans`` (the borrower's other active loans)
    included, is the one the whole book gives it, and its scores can be stored with the
    range's. Scores are per loan (a scorecard's points, a model's probability)."""
    here = loans.group_by("borrower_id").agg(_here=pl.len())
    return (
        loans.select("borrower_id")
        .join(here, on="borrower_id", how="left", maintain_order="left")
        .join(owned, on="borrower_id", how="left", maintain_order="left")
        .select(pl.col("_here") == pl.col("_all"))
        .to_series()
    )


def store_book(
    conn: Connection,
    as_of: date,
    book_day: BookDay,
    plan_counts: dict[str, int],
    started: datetime,
) -> Prepared:
    """Store the day's states and scores, then match promises to payments; each
    idempotent for the date. (The legal review queue is assessed on the next snapshot,
    which sees the promises matched here, and refreshed in the run's last write.)"""
    store_day(conn, as_of, book_day)
    return match_promises(conn, as_of, plan_counts, started, scoring_notes(book_day))


def match_promises(
    conn: Connection,
    as_of: date,
    plan_counts: dict[str, int],
    started: datetime,
    notes: list[str],
) -> Prepared:
    """Promises to pay matched to the payments (idempotent for the date). It reads no
    stored state or score, so the phased run stores those beside the next step."""
    from forbear.services import promises

    collection = {"plans": plan_counts}
    collection["promises"] = promises.daily_update(conn, as_of, ACTOR)
    return Prepared(started, notes, collection)


def store_day(conn: Connection, as_of: date, book_day: BookDay) -> None:
    """Store the day's states and scores, each replacing the date's."""
    bulk.replace(conn, day_replacements(as_of, book_day))


class StatesStore:
    """The day's states stored range by range while the book is computed, then its
    scores, committed by :meth:`finish` as ONE write; nothing is seen by others before.

    - PostgreSQL (:class:`_PgSink`): one transaction on a connection of its own (a
      thread). A million-borrower book's 1.2 million states cost the server about 20 s to
      insert (its indexes and write-ahead log), which then overlaps the reading and the
      ledger instead of following them.
    - SQLite (:class:`_SqliteSink`): SQLite has one writer at a time, so the rows are
      staged by a worker process outside any transaction
      (:class:`forbear.store.bulk.StagedReplace`) and written in one short transaction at
      the end, beside the day's deciding: the write lock is held for that moment only (the
      100,000-borrower book: about 1 s), not while the book is computed."""

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        # hand each range's scores over as computed (PostgreSQL: the server inserts them
        # beside the computing); SQLite stages them all at the end: scoring range by
        # range costs each range the models' fixed costs (about 0.07 s a range on the
        # 100,000 book), and staging is cheap
        self.scores_by_range = sink.scores_by_range
        self._queue: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="daily-run-states", daemon=True)
        self._thread.start()

    def add(self, states: pl.DataFrame) -> None:
        self._queue.put(("states", states))

    def add_scores(self, scores: dict[str, pl.DataFrame]) -> None:
        """Scores of some loans, by kind (each loan once): the first of a kind replaces
        the date's."""
        self._queue.put(("scores", scores))

    def finish(self, scores: dict[str, pl.DataFrame] | None) -> None:
        """Store the kinds of ``scores`` not stored yet (range by range), commit, and
        wait; raise the store's error."""
        self._queue.put(("final", scores or {}))
        self._queue.put(None)
        self._wait()

    def abort(self) -> None:
        """Roll back what was stored, and wait (the caller's error goes on; the store's
        own error, if any, is dropped)."""
        self._queue.put(("abort", None))
        self._thread.join()

    def _wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        sink = self._sink
        kinds: set[str] = set()  # score kinds stored range by range
        ended = False  # the caller's end marker taken (nothing more will come)
        try:
            sink.open()
            try:
                while (item := self._queue.get()) is not None:
                    what, payload = item
                    if what == "abort":
                        raise _Aborted
                    if what == "states":
                        sink.states(payload)
                    else:  # "scores" (a range's) or "final" (the kinds not streamed)
                        for kind, frame in payload.items():
                            if what == "final" and kind in kinds:
                                continue
                            sink.scores(kind, frame, first=kind not in kinds)
                            kinds.add(kind)
                ended = True
                sink.commit(kinds)
            except BaseException:
                sink.rollback()
                raise
        except _Aborted:
            pass
        except BaseException as error:  # raised in the caller's thread by finish()
            self._error = error
            # what the caller still hands over is dropped until it finishes (a commit
            # that failed came after its end: waiting for another would never return)
            while not ended and (item := self._queue.get()) is not None and item[0] != "abort":
                pass


class _Sink:
    """Where a :class:`StatesStore` puts the day's rows (all calls on its thread)."""

    scores_by_range = False

    def open(self) -> None: ...
    def states(self, frame: pl.DataFrame) -> None: ...
    def scores(self, kind: str, frame: pl.DataFrame, *, first: bool) -> None: ...
    def commit(self, kinds: set[str]) -> None: ...
    def rollback(self) -> None: ...


class _PgSink(_Sink):
    """One transaction on a connection of its own, rows inserted as they come. Where the
    date holds rows already (a date run again), each kind of rows is merged instead
    (:class:`forbear.store.bulk.PgMerge`: only rows that differ are written, and the rows
    no longer computed deleted at the end)."""

    scores_by_range = True

    def __init__(self, db: Engine, as_of: date) -> None:
        self._db, self._as_of = db, as_of
        self._conn: Connection | None = None
        self._merges: dict[str, bulk.PgMerge] = {}  # by kind of rows: "states", a score kind

    def open(self) -> None:
        conn = self._db.connect()
        conn.begin()
        self._conn = conn
        # two runs of one date store one after the other: the second replaces what the
        # first committed (without it, its inserts would meet the first's uncommitted
        # rows and fail on the primary key)
        lock_states_of(conn, self._as_of)
        scope = bulk.states_replacement(self._as_of, contracts.empty(contracts.STATES))
        if bulk.holds_rows(conn, scope):
            self._merges["states"] = bulk.PgMerge(conn, scope, "states")

    def _connection(self) -> Connection:
        assert self._conn is not None
        return self._conn

    def states(self, frame: pl.DataFrame) -> None:
        part = bulk.states_replacement(self._as_of, frame)
        if "states" in self._merges:
            self._merges["states"].add(part.frame)
        else:
            bulk.replace(self._connection(), [part], delete_first=False)

    def scores(self, kind: str, frame: pl.DataFrame, *, first: bool) -> None:
        conn = self._connection()
        part = bulk.scores_replacement(self._as_of, kind, frame)
        if first and bulk.holds_rows(conn, part):
            self._merges[kind] = bulk.PgMerge(conn, part, f"scores_{kind}")
        if kind in self._merges:
            self._merges[kind].add(part.frame)
        else:
            bulk.replace(conn, [part], delete_first=False)

    def commit(self, kinds: set[str]) -> None:
        conn = self._connection()
        for merge in self._merges.values():
            merge.finish()
        conn.commit()
        conn.close()
        self._conn = None

    def rollback(self) -> None:
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None


class _SqliteSink(_Sink):
    """Rows staged by a worker process, written in one transaction by :meth:`commit`."""

    def __init__(self, db: Engine, as_of: date) -> None:
        self._db, self._as_of = db, as_of
        self._staged: bulk.StagedReplace | None = None

    def open(self) -> None:
        self._staged = bulk.StagedReplace(self._db)

    def _stage(self) -> bulk.StagedReplace:
        assert self._staged is not None
        return self._staged

    def states(self, frame: pl.DataFrame) -> None:
        part = bulk.states_replacement(self._as_of, frame)
        self._stage().add("states", part.table, part.frame)

    def scores(self, kind: str, frame: pl.DataFrame, *, first: bool) -> None:
        part = bulk.scores_replacement(self._as_of, kind, frame)
        self._stage().add(f"scores_{kind}", part.table, part.frame)

    def commit(self, kinds: set[str]) -> None:
        no_states, no_scores = contracts.empty(contracts.STATES), contracts.empty(bulk.SCORES)
        parts = [(bulk.states_replacement(self._as_of, no_states), "states")]
        parts += [
            (bulk.scores_replacement(self._as_of, kind, no_scores), f"scores_{kind}")
            for kind in sorted(kinds)
        ]
        self._stage().commit(parts)
        self._staged = None

    def rollback(self) -> None:
        if self._staged is not None:
            self._staged.discard()
            self._staged = None


class _Aborted(Exception):
    pass


def states_store(db: Engine, as_of: date) -> StatesStore | None:
    """A :class:`StatesStore` on PostgreSQL, and on a SQLite file the worker can write;
    None elsewhere (an in-memory database: :func:`store_day_beside` then stores)."""
    if db.dialect.name == "postgresql":
        return StatesStore(_PgSink(db, as_of))
    if sqlite_worker_available(db):
        return StatesStore(_SqliteSink(db, as_of))
    return None


def store_day_beside(db: Engine, as_of: date, book_day: BookDay) -> None:
    """:func:`store_day` in a transaction of its own on a connection of ``db`` (where no
    :class:`StatesStore` serves: an in-memory SQLite database)."""
    with db.begin() as conn:
        store_day(conn, as_of, book_day)


def day_replacements(as_of: date, book_day: BookDay) -> list[bulk.Replacement]:
    """The day's states, then its scores of each kind (:func:`store_day`)."""
    states = [bulk.states_replacement(as_of, book_day.states)]
    scores = book_day.scores or {}
    return states + [bulk.scores_replacement(as_of, k, f) for k, f in scores.items()]


def scoring_notes(book_day: BookDay) -> list[str]:
    """The run's notes on scoring: the accounts each active model scores."""
    if book_day.scores is None:
        return ["no active book model: scoring skipped (accounts are unscored)"]
    return [f"{kind}: {frame.height:,} accounts scored" for kind, frame in book_day.scores.items()]
