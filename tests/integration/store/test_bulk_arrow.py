"""The daily run's bulk reads: the Arrow reader of a read-only snapshot reads exactly what
the caller's connection reads, on one snapshot, and the same-connection path types SQLite's
values as the contracts say."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, delete, insert, select

from factories import make_product
from forbear.batch.daily import snapshot
from forbear.domain.ledger import schema as contracts
from forbear.store import bulk
from forbear.store import snapshot as arrow_reader
from forbear.store.contacts import Hold, read_history, read_holds
from forbear.store.models import AccountState, Borrower, Instalment, Loan, Payment, Product
from forbear.store.runs import Decision, Run

AS_OF = date(2031, 1, 1)  # a date no other test writes decisions for
ACTIONS = 1_500  # more than ADBC's default first batch (1,024 rows)
B1, B2 = 9_100_001, 9_100_002  # borrower and loan ids no other test uses
REF = "ARROWTEST"


def add_product(conn: Connection, code: str) -> int:
    terms = make_product(code=code)
    stmt = insert(Product).values(
        code=code,
        version=1,
        name_zh=terms.name_zh,
        name_en=terms.name_en,
        terms=terms.model_dump(mode="json"),
    )
    return int(conn.execute(stmt.returning(Product.id)).scalar_one())


@pytest.fixture(autouse=True)
def no_spare_workers() -> Iterator[None]:
    """Each test starts and ends without reader processes waiting (a snapshot's worker
    is kept as a spare when it ends)."""
    arrow_reader.close_spare_readers()
    yield
    arrow_reader.close_spare_readers()


@pytest.fixture
def book(engine: Engine) -> Iterator[Engine]:
    """Two loans, committed (the snapshot reader reads on a connection of its own);
    decisions whose nullable columns are null in the first 1,500 rows and set after
    (SQLite keeps no column types: an inferring reader would type them too early); holds
    with and without an end. Removed again after the test."""
    with engine.begin() as conn:
        product = add_product(conn, REF)
        conn.execute(
            insert(Borrower),
            [{"id": i, "external_ref": f"{REF}-{i}", "name_enc": b"\x01"} for i in (B1, B2)],
        )
        conn.execute(
            insert(Loan),
            [
                {
                    "id": i,
                    "external_ref": f"{REF}-{i}",
                    "borrower_id": i,
                    "product_id": product,
                    "principal": 100_000,
                    "term_months": 3,
                    "annual_rate_bp": 1800,
                    "start_date": date(2026, 1, 1),
                    "first_due_date": date(2026, 2, 1),
                }
                for i in (B1, B2)
            ],
        )
        conn.execute(
            insert(Instalment),
            [
                {
                    "loan_id": i,
                    "seq": k,
                    "due_date": date(2026, 1 + k, 1),
                    "principal": 33_333,
                    "interest": 1_500,
                    "fee": 0,
                }
                for i in (B1, B2)
                for k in (1, 2, 3)
            ],
        )
        conn.execute(
            insert(Payment),
            [
                {
                    "external_ref": f"{REF}-P{k}",
                    "loan_id": B1 + k % 2,
                    "paid_on": date(2026, 2, 1) + timedelta(days=k),
                    "paid_at": datetime(2026, 2, 1, 2, tzinfo=UTC) + timedelta(days=k),
                    "amount": 1_000 + k,
                    "channel": "app",
                }
                for k in range(200)
            ],
        )
        conn.execute(
            insert(Hold),
            [
                {
                    "borrower_id": B1,
                    "loan_id": None,
                    "kind": "dispute",
                    "since": datetime(2026, 6, 1, tzinfo=UTC),
                    "until": None,
                    "created_by": "test",
                },
                {
                    "borrower_id": B2,
                    "loan_id": B2,
                    "kind": "vulnerable",
                    "since": datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC),
                    "until": datetime(2026, 7, 1, tzinfo=UTC),
                    "created_by": "test",
                },
            ],
        )
        run_id = conn.execute(
            insert(Run)
            .values(as_of=AS_OF, engine="local", status="running", started_at=datetime.now(UTC))
            .returning(Run.id)
        ).scalar_one()
        bulk.write_frame(conn, Decision.__tablename__, _decisions(int(run_id)))
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            conn.execute(delete(Decision).where(Decision.as_of == AS_OF))
            conn.execute(delete(Run).where(Run.as_of == AS_OF))
            conn.execute(delete(Hold).where(Hold.borrower_id.in_([B1, B2])))
            conn.execute(delete(Payment).where(Payment.loan_id.in_([B1, B2])))
            conn.execute(delete(Instalment).where(Instalment.loan_id.in_([B1, B2])))
            conn.execute(delete(Loan).where(Loan.id.in_([B1, B2])))
            conn.execute(delete(Borrower).where(Borrower.id.in_([B1, B2])))
            conn.execute(delete(Product).where(Product.code == REF))


def _decisions(run_id: int) -> pl.DataFrame:
    n = ACTIONS
    late = [k >= n - 5 for k in range(n)]
    return pl.DataFrame(
        {
            "as_of": [AS_OF] * n,
            "loan_id": [B1 + k % 2 for k in range(n)],
            "action_index": list(range(n)),
            "run_id": [run_id] * n,
            "borrower_id": [B1 + k % 2 for k in range(n)],
            "segment": ["s"] * n,
            "arm": ["a"] * n,
            "treatment": ["t"] * n,
            "channel": ["sms"] * n,
            "template": ["T1" if x else None for x in late],
            "purpose": ["remind"] * n,
            "is_demand": [k % 3 == 0 for k in range(n)],
            "priority": [1] * n,
            "ew_pd": [0.25 if x else None for x in late],
            "reason_codes": ["[]"] * n,
            "allowed": [True] * n,
            "blocked_by": ["[]"] * n,
            "earliest_allowed_at": [
                datetime(2031, 1, 2, 2, tzinfo=UTC) if x else None for x in late
            ],
            "scheduled": [False] * n,
            "carried": [False] * n,
        },
        schema_overrides={"earliest_allowed_at": pl.Datetime("us", "UTC")},
    )


DECISIONS = {
    "loan_id": pl.Int64(),
    "action_index": pl.Int64(),
    "template": pl.String(),
    "is_demand": pl.Boolean(),
    "ew_pd": pl.Float64(),
    "earliest_allowed_at": pl.Datetime("us", "UTC"),
}


def _reads(conn: Connection) -> dict[str, pl.DataFrame]:
    d = Decision
    return {
        "loans": bulk.read_loans_with_borrowers(conn),
        "some_instalments": bulk.read_instalments(conn, [B1]),
        "payments": bulk.read_payments(conn, up_to=date(2026, 4, 1)),
        "holds": read_holds(conn),
        "history": read_history(conn, before=datetime(2026, 6, 15, tzinfo=UTC)),
        "decisions": bulk.read_frame(
            conn,
            select(
                d.loan_id, d.action_index, d.template, d.is_demand, d.ew_pd, d.earliest_allowed_at
            )
            .where(d.as_of == AS_OF)
            .order_by(d.loan_id, d.action_index),
            DECISIONS,
        ),
    }


def test_the_snapshot_reader_reads_what_the_connection_reads(book: Engine) -> None:
    engine = book
    with engine.connect() as conn, conn.begin():
        plain = _reads(conn)
    with snapshot(engine) as conn:
        arrow = _reads(conn)
        attached = arrow_reader._SNAPSHOT in conn.info
    assert attached  # the worker process on SQLite, the ADBC connection on PostgreSQL
    for name, frame in plain.items():
        assert arrow[name].equals(frame), name
    late = plain["decisions"].filter(pl.col("action_index") >= ACTIONS - 5)
    assert late["template"].to_list() == ["T1"] * 5
    assert late["ew_pd"].to_list() == [0.25] * 5
    assert late["earliest_allowed_at"].to_list() == [datetime(2031, 1, 2, 2, tzinfo=UTC)] * 5
    assert plain["decisions"]["is_demand"].dtype == pl.Boolean
    assert plain["payments"].schema == pl.Schema(contracts.PAYMENTS)
    assert plain["payments"].filter(pl.col("loan_id") == B1).height == 30
    holds = plain["holds"].filter(pl.col("borrower_id") == B2)
    assert holds["since"].to_list() == [datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)]


def test_a_commit_during_the_read_phase_is_not_seen(book: Engine) -> None:
    """Both readers of the phase (the connection and, on SQLite, ADBC) see the database as
    it was when the phase began, whatever commits meanwhile."""
    engine = book
    committed = threading.Event()

    def writer() -> None:
        with engine.begin() as other:
            other.execute(
                insert(Payment).values(
                    external_ref=f"{REF}-LATE",
                    loan_id=B1,
                    paid_on=date(2026, 3, 1),
                    paid_at=datetime(2026, 3, 1, tzinfo=UTC),
                    amount=5,
                    channel="app",
                )
            )
        committed.set()

    with snapshot(engine) as conn:
        before = bulk.read_payments(conn)
        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(timeout=60)
        assert committed.is_set()  # the phase holds no lock that stops a writer
        after = bulk.read_payments(conn)
        counted = conn.execute(
            select(Payment.id).where(Payment.external_ref == f"{REF}-LATE")
        ).all()
    assert after.equals(before)
    assert counted == []
    with engine.connect() as conn, conn.begin():
        assert bulk.read_payments(conn).height == before.height + 1


def test_a_write_transaction_reads_its_own_writes_not_a_snapshot(book: Engine) -> None:
    """The Arrow reader attaches to read-only transactions only: a write transaction
    must read what it wrote (and must not wait for its own write lock)."""
    with book.begin() as conn:
        conn.execute(delete(Payment).where(Payment.loan_id == B2))
        with arrow_reader.arrow_snapshot(conn) as attached:
            assert attached is False
            assert arrow_reader._SNAPSHOT not in conn.info
            mine = bulk.read_payments(conn, loan_ids=[B1, B2])
        assert set(mine["loan_id"].to_list()) == {B1}
        conn.rollback()


def test_the_worker_reader_and_a_writer_on_the_same_sqlite_file(book: Engine) -> None:
    """The ADBC reader runs in a process of its own: while it reads (and when it ends),
    another connection keeps writing to the same SQLite file, each commit lands (no "disk
    I/O error", no lost write, a checkpoint included), and the reader keeps reading the
    snapshot its phase began with."""
    engine = book
    if engine.dialect.name != "sqlite":
        pytest.skip("the worker process reads SQLite files only")
    writes = 40
    errors: list[BaseException] = []
    started, done = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            for k in range(writes):
                with engine.begin() as other:
                    other.execute(
                        insert(Payment).values(
                            external_ref=f"{REF}-W{k}",
                            loan_id=B2,
                            paid_on=date(2026, 3, 1),
                            paid_at=datetime(2026, 3, 1, tzinfo=UTC),
                            amount=k + 1,
                            channel="app",
                        )
                    )
                if k == writes // 2:  # a checkpoint while the reader holds its snapshot
                    database = engine.url.database
                    assert database is not None
                    with closing(sqlite3.connect(database, isolation_level=None)) as raw:
                        raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                started.set()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            started.set()
            done.set()

    with snapshot(engine) as conn:
        assert arrow_reader._SNAPSHOT in conn.info  # the worker process reads
        before = bulk.read_payments(conn)
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait(timeout=60)
        reads = 0
        while not done.is_set() or reads < 3:
            assert bulk.read_payments(conn).equals(before)
            reads += 1
    # the worker has ended (its handle closed): the file's locks still hold for writers
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert errors == []
    with engine.begin() as other:
        other.execute(delete(Payment).where(Payment.external_ref == f"{REF}-W0"))
        other.execute(
            insert(Payment).values(
                external_ref=f"{REF}-W0",
                loan_id=B2,
                paid_on=date(2026, 3, 1),
                paid_at=datetime(2026, 3, 1, tzinfo=UTC),
                amount=1,
                channel="app",
            )
        )
    with engine.connect() as conn, conn.begin():
        after = bulk.read_payments(conn, loan_ids=[B2])
        integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    assert after.height == before.filter(pl.col("loan_id") == B2).height + writes
    assert sorted(after.filter(pl.col("amount") <= writes)["amount"].to_list()) == list(
        range(1, writes + 1)
    )
    assert integrity == "ok"


def test_a_prewarmed_reader_reads_the_snapshot_of_its_phase(book: Engine) -> None:
    """A worker started ahead (during the write before a read phase) holds no snapshot:
    what commits after it started is seen by the phase that uses it; one left unused is
    ended by close_spare_readers."""
    engine = book
    arrow_reader.prewarm_snapshot_reader(engine)
    assert bool(_spares()) == (engine.dialect.name == "sqlite")
    with engine.begin() as conn:
        conn.execute(delete(Payment).where(Payment.loan_id == B2))
    with snapshot(engine) as conn:
        assert _spares() == []  # the phase took the spare
        assert bulk.read_payments(conn, loan_ids=[B2]).height == 0
    arrow_reader.prewarm_snapshot_reader(engine)
    workers = _spares()
    arrow_reader.close_spare_readers()
    assert _spares() == []
    assert all(w.poll() is not None for w in workers)


def test_one_reader_serves_the_snapshots_one_after_the_other(book: Engine) -> None:
    """A snapshot's worker is kept (rolled back) as the spare for the next one: the next
    snapshot is read by the same process, and sees what committed in between."""
    engine = book
    if engine.dialect.name != "sqlite":
        pytest.skip("the worker process reads SQLite files only")
    with snapshot(engine) as conn:
        first = conn.info[arrow_reader._SNAPSHOT]._worker
        before = bulk.read_payments(conn, loan_ids=[B2]).height
    assert _spares() == [first]  # kept, holding no snapshot
    with engine.begin() as conn:  # a writer is not blocked by the idle worker
        conn.execute(delete(Payment).where(Payment.loan_id == B2))
    arrow_reader.prewarm_snapshot_reader(engine)  # nothing to start: the spare is there
    assert _spares() == [first]
    with snapshot(engine) as conn:
        assert conn.info[arrow_reader._SNAPSHOT]._worker is first
        assert before > 0 and bulk.read_payments(conn, loan_ids=[B2]).height == 0
    arrow_reader.close_spare_readers()
    assert _spares() == [] and first.poll() is not None


def _spares() -> list[Any]:
    """The worker processes waiting, whatever their file."""
    return [w for workers in arrow_reader._SPARES.values() for w in workers]


def _stored(engine: Engine, table: str, columns: list[str], where: str) -> list[tuple[Any, ...]]:
    """Rows as SQLite stores them (``quote()`` shows each value's storage type)."""
    database = engine.url.database
    assert database is not None
    listed = ", ".join(f"quote({c})" for c in columns)
    with closing(sqlite3.connect(database)) as raw:
        return raw.execute(
            f"SELECT {listed} FROM {table} WHERE {where} ORDER BY 1, 2, 3"
        ).fetchall()


def _states(as_of: date, loan_ids: list[int]) -> pl.DataFrame:
    rows = [
        {
            "loan_id": i,
            "as_of": as_of,
            "status": "active",
            "dpd": 12,
            "bucket": "M1",
            "overdue_principal": 33_333,
            "overdue_interest": 1_500,
            "overdue_fee": 0,
            "overdue_penalty": 7,
            "overdue_total": 34_840,
            "outstanding_principal": 66_667,
            "oldest_unpaid_due_date": date(2026, 2, 1),
            "next_due_date": None,
            "next_due_amount": None,
            "last_payment_date": date(2026, 2, 3),
            "paid_total": 2_000,
            "credit": 0,
        }
        for i in loan_ids
    ]
    return pl.DataFrame(rows, schema=contracts.STATES)


def _as_replace_stores(engine: Engine, states: bulk.Replacement, where: str) -> list[Any]:
    """The states rows a worker stored, checked equal (value and storage type) to what
    ``replace`` stores on the caller's connection; the rows."""
    via_worker = _stored(engine, "account_states", list(contracts.STATES), where)
    with engine.begin() as conn:
        bulk.replace(conn, [states])
    assert _stored(engine, "account_states", list(contracts.STATES), where) == via_worker
    return via_worker


def test_staged_parts_store_what_the_connection_stores(book: Engine) -> None:
    """``StagedReplace``: states staged in two parts, and decisions given whole at the
    commit, are stored as ``replace`` stores them (values and storage types), replacing
    the rows each ``where`` selects; nothing is written before the commit, and no write
    lock is held while parts are staged."""
    engine = book
    if engine.dialect.name != "sqlite":
        pytest.skip("the worker process writes SQLite files only")
    columns = list(_decisions(0).columns)
    where = f"as_of = '{AS_OF.isoformat()}'"
    before = _stored(engine, "decisions", columns, where)  # written by the fixture
    run_id = int(before[0][columns.index("run_id")])
    states = bulk.states_replacement(AS_OF, _states(AS_OF, [B1, B2]))
    staged = bulk.StagedReplace(engine)
    try:
        staged.add("states", states.table, states.frame.head(1))
        staged.add("states", states.table, states.frame.tail(1))
        staged.add("states", states.table, states.frame.clear())  # an empty part
        assert _stored(engine, "account_states", ["loan_id", "as_of", "dpd"], where) == []
        with engine.begin() as conn:  # a writer is not blocked by the staging
            conn.execute(delete(AccountState).where(AccountState.as_of == AS_OF))
        decisions = bulk.Replacement("decisions", Decision.as_of == AS_OF, _decisions(run_id))
        empty = bulk.states_replacement(AS_OF, states.frame.clear())
        staged.commit([(empty, "states"), (decisions, "decisions")])
        assert _stored(engine, "decisions", columns, where) == before
        assert len(_as_replace_stores(engine, states, where)) == 2
    finally:
        arrow_reader.close_spare_readers()
        with engine.begin() as conn:
            conn.execute(delete(AccountState).where(AccountState.as_of == AS_OF))


def test_staged_parts_that_fail_or_are_discarded_write_nothing(book: Engine) -> None:
    """A staged part refused at the commit (a loan that does not exist: foreign keys are
    enforced in the worker as on the application's connections) and nothing of the commit
    is kept, another replacement's delete included; parts discarded are never written; a
    part with other columns and a stage name that is not an identifier are refused."""
    engine = book
    if engine.dialect.name != "sqlite":
        pytest.skip("the worker process writes SQLite files only")
    later = AS_OF + timedelta(days=1)
    probe = "1 = 1 AND loan_id IN (9100001, 9100002)"
    good = bulk.states_replacement(later, _states(later, [B1, B2]))
    unknown = bulk.states_replacement(later, _states(later, [9_199_999]))
    try:
        where = f"as_of = '{AS_OF.isoformat()}'"
        before = _stored(engine, "decisions", ["loan_id", "action_index", "run_id"], where)
        emptied = bulk.Replacement("decisions", Decision.as_of == AS_OF, _decisions(0).clear())
        staged = bulk.StagedReplace(engine)
        staged.add("states", good.table, good.frame)
        staged.add("states", unknown.table, unknown.frame)
        with pytest.raises(arrow_reader.SnapshotReaderFailed):
            staged.commit(
                [
                    (emptied, "decisions"),  # its delete is rolled back with the rest
                    (bulk.states_replacement(later, good.frame.clear()), "states"),
                ]
            )
        assert _stored(engine, "account_states", ["loan_id", "as_of", "dpd"], probe) == []
        assert _stored(engine, "decisions", ["loan_id", "action_index", "run_id"], where) == before
        assert before

        discarded = bulk.StagedReplace(engine)
        discarded.add("states", good.table, good.frame)
        discarded.discard()
        assert _stored(engine, "account_states", ["loan_id", "as_of", "dpd"], probe) == []

        mixed = bulk.StagedReplace(engine)
        mixed.add("states", good.table, good.frame.drop("last_payment_date"))
        with pytest.raises(ValueError, match="same columns"):
            mixed.add("states", good.table, good.frame)
        mixed.discard()
        named = bulk.StagedReplace(engine)
        with pytest.raises(arrow_reader.SnapshotReaderFailed):  # the worker refuses it
            named.add("no such name;", good.table, good.frame)
    finally:
        arrow_reader.close_spare_readers()


def test_staged_rows_replace_a_scope_that_holds_rows_already(book: Engine) -> None:
    """A date run again: the staged rows replace the rows the scope holds (changed rows
    changed, equal rows left, rows not staged deleted, new rows added), exactly as
    ``replace`` stores them, values and storage types; rows outside the scope stay; with
    nothing staged the scope is emptied; a staged row that breaks a foreign key is refused
    and the scope's rows are as they were."""
    engine = book
    if engine.dialect.name != "sqlite":
        pytest.skip("the worker process writes SQLite files only")
    day, other = AS_OF + timedelta(days=2), AS_OF + timedelta(days=3)
    columns = list(contracts.STATES)
    here, there = f"as_of = '{day.isoformat()}'", f"as_of = '{other.isoformat()}'"

    def commit(frame: pl.DataFrame, *, parts: int = 1) -> None:
        staged = bulk.StagedReplace(engine)
        for k in range(parts):
            staged.add("states", "account_states", frame.gather_every(parts, offset=k))
        staged.commit([(bulk.states_replacement(day, frame.clear()), "states")])

    try:
        with engine.begin() as conn:
            bulk.replace(conn, [bulk.states_replacement(other, _states(other, [B1, B2]))])
        outside = _stored(engine, "account_states", columns, there)
        commit(_states(day, [B1, B2]))  # the date's first run: inserted
        assert len(_stored(engine, "account_states", columns, here)) == 2
        # run again: B1 changed (a null set, a date moved), B2 gone
        again = _states(day, [B1]).with_columns(
            dpd=pl.lit(40), bucket=pl.lit("M2"), next_due_date=pl.lit(date(2031, 2, 1))
        )
        commit(again)
        stored = _as_replace_stores(engine, bulk.states_replacement(day, again), here)
        assert [row[columns.index("loan_id")] for row in stored] == [str(B1)]
        assert "40" in stored[0] and "'M2'" in stored[0] and "'2031-02-01'" in stored[0]
        # and again: B1 the same, B2 back (two parts)
        both = pl.concat([again, _states(day, [B2])])
        commit(both, parts=2)
        assert len(_as_replace_stores(engine, bulk.states_replacement(day, both), here)) == 2
        assert _stored(engine, "account_states", columns, there) == outside

        before = _stored(engine, "account_states", columns, here)
        with pytest.raises(arrow_reader.SnapshotReaderFailed):  # no such loan: refused
            commit(pl.concat([both, _states(day, [9_199_999])]))
        assert _stored(engine, "account_states", columns, here) == before
        twice = pl.concat([both, both.head(1).with_columns(dpd=pl.lit(99))])
        with pytest.raises(arrow_reader.SnapshotReaderFailed):  # a loan staged twice
            commit(twice)
        assert _stored(engine, "account_states", columns, here) == before

        staged = bulk.StagedReplace(engine)  # nothing staged: the scope is emptied
        staged.commit([(bulk.states_replacement(day, both.clear()), "states")])
        assert _stored(engine, "account_states", columns, here) == []
        assert _stored(engine, "account_states", columns, there) == outside
    finally:
        arrow_reader.close_spare_readers()
        with engine.begin() as conn:
            conn.execute(delete(AccountState).where(AccountState.as_of.in_([day, other])))
