"""``forbear db copy``: the embedded SQLite database into an empty PostgreSQL one.

A small book is built on SQLite through the real paths (the demo: import, states,
promises, plans, legal cases, the daily run; then contacts with outcomes, a hold, a
complaint with its free text, a staff account and an API token), copied into a fresh
PostgreSQL database, and compared table by table, row by row; the audit chain verifies on
the copy, and ``forbear run`` and ``forbear audit verify`` work against it. Refusals
(a non-empty target, a schema at another revision, a target that is not PostgreSQL)
are one line and change nothing; a failure in the middle of the copy leaves the target
exactly as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import URL

from clirun import assert_one_clear_line, forbear
from clocks import SETUP_AT
from forbear.bootstrap import bootstrap
from forbear.domain.errors import Conflict, StorageUnavailable, ValidationError
from forbear.services import complaints, contacts, staff
from forbear.settings import Settings
from forbear.sim.demo import build_demo
from forbear.sim.products import load_products
from forbear.store import audit, migrate
from forbear.store.contacts import ContactAttempt
from forbear.store.copy import copy_database, open_target, tables
from forbear.store.db import make_engine, normalise_url, ping
from forbear.store.models import Loan

pytestmark = pytest.mark.postgres

DAY = date(2026, 3, 10)
MORNING = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
PG_URL = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Source:
    data_dir: Path
    engine: Engine


@pytest.fixture(scope="module")
def admin() -> Iterator[Engine]:
    engine = make_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        ping(engine)
    except StorageUnavailable as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def new_database(admin: Engine) -> Iterator[Callable[[], URL]]:
    """Empty PostgreSQL databases for one test, dropped after it."""
    made: list[str] = []

    def make() -> URL:
        name = f"forbear_copy_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        made.append(name)
        return normalise_url(PG_URL).set(database=name)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, admin: Engine) -> Iterator[Source]:
    """A small book on SQLite with something in every area the copy must carry."""
    data_dir = tmp_path_factory.mktemp("copy-source")
    app = bootstrap(Settings(data_dir=data_dir))
    build_demo(
        app.transaction,
        app.vault,
        directory=data_dir / "demo",
        products=load_products(),
        borrowers=60,
        seed=20261129,
        as_of=DAY,
        zone="Asia/Shanghai",
        with_models=False,
        with_run=True,
        data_dir=data_dir,
        now=SETUP_AT,
    )
    with app.transaction() as conn:
        rules = contacts.lender_rules(data_dir, conn)
        loans = conn.execute(select(Loan.id, Loan.borrower_id).order_by(Loan.id).limit(3)).all()
        attempts = []
        for i, (loan_id, _) in enumerate(loans):
            decision = contacts.request_contact(
                conn,
                loan_id=loan_id,
                channel="call",
                at=MORNING + timedelta(minutes=i),
                actor="test",
                rules=rules,
            )
            attempts.append(decision.attempt_id)
            if decision.allowed:
                contacts.record_outcome(conn, decision.attempt_id, "connected", "test")
        complaints.file_complaint(
            conn,
            app.vault,
            borrower_id=loans[0].borrower_id,
            loan_id=loans[0].id,
            source="regulator",
            category="attitude",
            description="催收员态度不好，电话里大声说话。",
            actor="test",
            now=MORNING + timedelta(hours=1),
            contact_attempt_ids=[a for a in attempts[:1] if a is not None],
        )
        staff.add_staff(
            conn,
            username="copy.agent",
            display_name="复制测试",
            role="agent",
            password="correct horse battery staple",
            actor="test",
            now=MORNING,
        )
        staff.issue_api_token(conn, "copy.agent", name="copy test", actor="test", now=MORNING)
    yield Source(data_dir=data_dir, engine=app.engine)
    app.close()


def rows_of(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order, through the declared types."""
    found = {}
    with engine.connect() as conn:
        for t in tables():
            order = list(t.primary_key.columns) or list(t.columns)
            found[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*order))]
    return found


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables()
        }


def test_copy_carries_every_row_and_the_copy_runs(
    source: Source, new_database: Callable[[], URL]
) -> None:
    url = new_database()  # entirely empty: the copy migrates it in its own transaction
    target = open_target(url.render_as_string(hide_password=False))
    try:
        report = copy_database(source.engine, target, batch_rows=50)
        assert report.migrated_target
        expected = rows_of(source.engine)
        copied = rows_of(target)
        assert report.rows == {name: len(rows) for name, rows in expected.items()}
        for name, rows in expected.items():
            assert copied[name] == rows, f"table {name} differs"
        for name in ("contact_attempts", "complaints", "audit_events", "staff_users", "runs"):
            assert expected[name], f"the source book has no {name}: the test proves nothing"
        with target.connect() as conn:
            verified = audit.verify(conn)
        assert verified.ok and verified.checked == len(expected["audit_events"])
        assert verified.head_hash == report.audit_head
        # sequences were set past the copied ids: a new row gets a fresh id
        with target.begin() as conn:
            top = conn.execute(select(func.max(ContactAttempt.id))).scalar_one()
            loan = conn.execute(select(Loan.id).order_by(Loan.id.desc()).limit(1)).scalar_one()
            made = contacts.request_contact(
                conn,
                loan_id=loan,
                channel="sms",
                at=MORNING + timedelta(days=1),
                actor="test",
                rules=contacts.lender_rules(source.data_dir, conn),
            )
            assert made.attempt_id == top + 1
    finally:
        target.dispose()
    env = {"FORBEAR_DATABASE_URL": url.render_as_string(hide_password=False)}
    run = forbear(source.data_dir, "run", "--as-of", (DAY + timedelta(days=1)).isoformat(), **env)
    assert run.returncode == 0, run.stderr
    verify = forbear(source.data_dir, "audit", "verify", **env)
    assert verify.returncode == 0, verify.stderr
    assert "chain intact" in verify.stdout


def test_the_command_copies_then_refuses_a_target_that_is_no_longer_empty(
    source: Source, new_database: Callable[[], URL]
) -> None:
    url = new_database().render_as_string(hide_password=False)
    done = forbear(source.data_dir, "db", "copy", "--to", url)
    assert done.returncode == 0, done.stderr
    assert "audit chain verified" in done.stdout
    target = make_engine(url)
    try:
        before = counts(target)
        with pytest.raises(Conflict, match="not empty"):
            copy_database(source.engine, target)
        again = forbear(source.data_dir, "db", "copy", "--to", url)
        assert_one_clear_line(again, "not empty")
        assert counts(target) == before
    finally:
        target.dispose()


def test_a_target_at_another_revision_is_refused_and_left_alone(
    source: Source, new_database: Callable[[], URL]
) -> None:
    url = new_database()
    older = make_engine(url)
    try:
        migrate.upgrade(older, "0015")
        with pytest.raises(StorageUnavailable, match="revision '0015'"):
            copy_database(source.engine, older)
        assert migrate.current_revision(older) == "0015"
        result = forbear(
            source.data_dir, "db", "copy", "--to", url.render_as_string(hide_password=False)
        )
        assert_one_clear_line(result, "revision")
        assert migrate.current_revision(older) == "0015"
    finally:
        older.dispose()


def test_a_target_that_is_not_postgresql_is_refused_without_touching_it(
    source: Source, tmp_path: Path
) -> None:
    path = tmp_path / "other.db"
    with pytest.raises(ValidationError, match="PostgreSQL"):
        open_target(f"sqlite:///{path}")
    result = forbear(source.data_dir, "db", "copy", "--to", f"sqlite:///{path}")
    assert_one_clear_line(result, "PostgreSQL")
    assert not path.exists()


def test_a_failure_in_the_middle_leaves_the_target_as_it_was(
    source: Source, new_database: Callable[[], URL]
) -> None:
    """A trigger on the target refuses the rows of the last table copied that has any: the
    tables copied before it must not keep theirs."""
    filled = [name for name, n in counts(source.engine).items() if n]
    late = filled[-1]
    assert len(filled) > 10
    url = new_database()
    target = make_engine(url)
    try:
        migrate.upgrade(target)
        with target.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_copy() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused for the test'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_copy BEFORE INSERT ON {late} "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_copy()"
                )
            )
        with pytest.raises(StorageUnavailable, match=f"copying table {late} failed") as err:
            copy_database(source.engine, target)
        assert "refused for the test" not in str(err.value)  # a driver message is not shown
        assert set(counts(target).values()) == {0}
    finally:
        target.dispose()
