"""The phased daily run stores the day's states as the single-transaction run computes
them, on both backends: on PostgreSQL range by range while the book is computed (one
transaction of its own, committed after the scores), on SQLite staged range by range by
the worker process and written in one transaction after the computing. A run that fails
while computing stores nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from clocks import SETUP_AT, SETUP_DAY
from forbear.batch import book_day, daily
from forbear.domain.scoring.artefact import ModelKind
from forbear.services import book, models
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import bulk
from forbear.store.crypto import PiiVault
from forbear.store.snapshot import SnapshotReaderFailed
from parallel import parallel
from shared_book import BACKENDS, TEST_KEY, book_database

pytestmark = pytest.mark.xdist_group("test_phased_run_store")

AS_OF = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    demo = generate_book(400, AS_OF, 20261207, load_products())
    loans, payments = write_files(demo, tmp_path_factory.mktemp("phased"), fmt="parquet")
    with book_database(request.param, tmp_path_factory, "phased") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), loans, now=SETUP_AT)
            import_payments(conn, payments, zone="Asia/Shanghai", now=SETUP_AT)
        yield engine


def _stored_states(engine: Engine, as_of: date) -> pl.DataFrame:
    with engine.connect() as conn:
        return bulk.read_states(conn, as_of)


def test_the_phased_run_stores_the_states_the_ledger_computes(
    book_engine: Engine, tmp_path: Path
) -> None:
    engine = book_engine
    daily.run_day_phased(engine, AS_OF, data_dir=tmp_path, now=NOW)
    stored = _stored_states(engine, AS_OF)
    with engine.connect() as conn:
        expected = book.ledger_states(conn, AS_OF)
    assert stored.height == expected.height > 0
    assert_frame_equal(stored.sort("loan_id"), expected.sort("loan_id"), check_dtypes=False)
    daily.run_day_phased(engine, AS_OF, data_dir=tmp_path, now=NOW)  # a rerun replaces
    assert_frame_equal(_stored_states(engine, AS_OF), stored)


def test_a_run_that_fails_while_computing_stores_no_states(
    book_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure comes after the first range's states were handed to the store: on
    PostgreSQL its transaction is rolled back and its connection given back; on SQLite
    what its worker staged is dropped and the database is left unlocked."""
    engine = book_engine
    day = date(2026, 11, 26)
    handed: list[int] = []

    def fail_after(store: book_day.StatesStore, states: pl.DataFrame) -> None:
        original(store, states)
        handed.append(states.height)
        raise RuntimeError("killed while computing")

    original = book_day.StatesStore.add
    monkeypatch.setattr(book_day.StatesStore, "add", fail_after)
    with pytest.raises(RuntimeError, match="killed while computing"):
        daily.run_day_phased(engine, day, data_dir=tmp_path, now=NOW)
    assert _stored_states(engine, day).height == 0
    assert handed
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:  # no write lock left behind
            conn.execute(text("CREATE TABLE after_failure (x INTEGER)"))
            conn.execute(text("DROP TABLE after_failure"))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            idle = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%'"
                )
            ).scalar_one()
        assert idle == 0


def test_two_runs_of_one_date_store_their_states_one_after_the_other(
    book_engine: Engine,
) -> None:
    """Two stores of the same date at once: on PostgreSQL the second waits for the first
    to commit, then replaces its rows; on SQLite each stages its rows and the one that
    commits last replaces the other's; neither fails on the other's rows."""
    engine = book_engine
    day = date(2026, 11, 24)
    with engine.connect() as conn:
        states = book.ledger_states(conn, day)
    half = states.height // 2

    def run(_: int) -> None:  # one run's store, as the daily run drives it
        store = book_day.states_store(engine, day)
        assert store is not None
        store.add(states.head(half))
        store.add(states.tail(states.height - half))
        store.finish(None)

    assert parallel(2, run, timeout=120) == [None, None]
    stored = _stored_states(engine, day)
    assert stored.height == states.height
    assert_frame_equal(stored.sort("loan_id"), states.sort("loan_id"), check_dtypes=False)


def test_a_run_and_forbear_states_store_one_date_one_after_the_other(
    book_engine: Engine,
) -> None:
    """The run's store of a date and ``forbear states`` (or a page computing a missing
    snapshot: :func:`forbear.services.book.store_states`) of the same date at once: on
    PostgreSQL the run's store holds the date's lock, so the other waits for its commit
    and then replaces its rows; on SQLite the one that commits last replaces the other's.
    Either way neither fails and the date holds one writer's rows, whole."""
    engine = book_engine
    day = date(2026, 11, 21)
    with engine.connect() as conn:
        states = book.ledger_states(conn, day).sort("loan_id")
    theirs = states.with_columns(dpd=pl.col("dpd") + 3)
    half = states.height // 2
    store = book_day.states_store(engine, day)
    assert store is not None
    store.add(states.head(half))
    if engine.dialect.name == "postgresql":  # the run's store holds the date's lock
        for _ in range(300):
            with engine.connect() as conn:
                held = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_database d "
                        "ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted "
                        "AND d.datname = current_database()"
                    )
                ).scalar_one()
            if held:
                break
            threading.Event().wait(0.1)
        assert held
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with engine.begin() as conn:
                book.store_states(conn, day, theirs)
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=other)
    writer.start()
    writer.join(timeout=1.0)  # on PostgreSQL it waits for the run's store
    store.add(states.tail(states.height - half))
    store.finish(None)
    writer.join(timeout=120)
    assert not writer.is_alive()
    assert errors == []
    stored = _stored_states(engine, day).sort("loan_id")
    if engine.dialect.name == "postgresql":
        assert_frame_equal(stored, theirs, check_dtypes=False)
    else:
        assert any(stored.equals(f) for f in (states, theirs.cast(states.schema)))


def test_two_forbear_states_of_one_date_at_once_both_succeed(book_engine: Engine) -> None:
    """Two stores of a date with no snapshot at once (``forbear states``, or two pages
    asking for it): the second waits for the first's commit and replaces its rows,
    instead of failing on the primary key."""
    engine = book_engine
    day = date(2026, 11, 20)
    with engine.connect() as conn:
        states = book.ledger_states(conn, day).sort("loan_id")

    def store(_: int) -> None:
        with engine.begin() as conn:
            book.store_states(conn, day, states)

    assert parallel(2, store, timeout=120) == [None, None]
    assert_frame_equal(_stored_states(engine, day).sort("loan_id"), states, check_dtypes=False)


def test_a_date_run_again_stores_exactly_the_rows_computed_now(book_engine: Engine) -> None:
    """A date stored before and stored again: changed rows changed, rows no longer
    computed deleted, new rows added, another date's rows untouched (PostgreSQL merges
    each part into the stored rows, SQLite upserts the staged ones); a loan handed over
    twice, in one part or in two, refuses the whole write and leaves the date as it was."""
    engine = book_engine
    day, other = date(2026, 11, 23), date(2026, 11, 22)
    with engine.connect() as conn:
        states = book.ledger_states(conn, day).sort("loan_id")
        elsewhere = book.ledger_states(conn, other)
    with engine.begin() as conn:
        bulk.replace_states(conn, other, elsewhere)
    before_other = _stored_states(engine, other)

    def store(*parts: pl.DataFrame) -> None:
        sink = book_day.states_store(engine, day)
        assert sink is not None
        for part in parts:
            sink.add(part)
        sink.finish(None)

    n = states.height
    assert n > 60
    store(states.slice(0, n - 10))  # the date's first run: the last ten loans not yet
    changed = states.slice(0, 20).with_columns(dpd=pl.col("dpd") + 7, bucket=pl.lit("M7+"))
    again = pl.concat([changed, states.slice(40, n - 40)])  # 20 changed, 20 gone, 10 new
    store(again.slice(0, 30), again.slice(30, again.height - 30))
    assert_frame_equal(_stored_states(engine, day), again, check_dtypes=False)
    assert_frame_equal(_stored_states(engine, other), before_other)

    repeated = again.head(1).with_columns(dpd=pl.lit(99))
    for parts in ([pl.concat([again, repeated])], [again, repeated]):
        with pytest.raises((ValueError, DBAPIError, SnapshotReaderFailed)):
            store(*parts)
        assert_frame_equal(_stored_states(engine, day), again, check_dtypes=False)


def test_scores_stored_range_by_range_are_those_of_the_whole_book(
    book_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each range's scores are handed to the store as they are computed, but
    for the loans whose borrower has loans in another range (their ``other_loans`` counts
    every range), scored at the end on the whole book's features; on SQLite every score
    is staged at the end. Either way the frames and the stored rows are those of scoring
    the whole book at once. (Last in the module: it activates models.)"""
    engine = book_engine
    with engine.begin() as conn:
        for kind in (ModelKind.BEHAVIOUR, ModelKind.EARLY_WARNING):
            trained = models.train_on_book(conn, kind, as_of=AS_OF, months=6, now=NOW)
            models.activate(conn, trained.model.id, now=NOW)
    whole_ranges = book.iter_days
    monkeypatch.setattr(book, "iter_days", lambda conn, head: whole_ranges(conn, head, 60))
    spread: list[int] = []  # loans of borrowers with loans in another range, per range
    whole_borrowers = book_day._whole_borrowers

    def spy(loans: pl.DataFrame, owned: pl.DataFrame) -> pl.Series:
        here = whole_borrowers(loans, owned)
        spread.append(int((~here).sum()))
        return here

    monkeypatch.setattr(book_day, "_whole_borrowers", spy)
    day = date(2026, 11, 25)
    store = book_day.states_store(engine, day)
    assert store is not None
    with daily.snapshot(engine) as conn:
        ranged = book_day.compute_book(conn, day, store=store)
    store.finish(ranged.scores)
    monkeypatch.setattr(book, "iter_days", whole_ranges)
    with daily.snapshot(engine) as conn:
        whole = book_day.compute_book(conn, day)
    assert ranged.scores is not None and whole.scores is not None
    assert set(ranged.scores) == set(whole.scores) == {"behaviour", "early_warning"}
    for kind, frame in whole.scores.items():
        assert frame.height > 0
        assert_frame_equal(ranged.scores[kind], frame)
    if store.scores_by_range:  # PostgreSQL; SQLite stages every score at the end
        assert sum(spread) > 0  # some borrowers had loans in two ranges: scored at the end
    with engine.connect() as conn:
        stored = bulk.read_scores(conn, day)
    assert_frame_equal(stored, bulk.scores_frame(list(whole.scores.values())))
    assert_frame_equal(_stored_states(engine, day), whole.states, check_dtypes=False)
