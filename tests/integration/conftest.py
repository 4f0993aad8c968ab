"""Database fixtures: every integration test runs on SQLite and on PostgreSQL.

- ``engine``: parametrised over ``sqlite`` (a migrated temp file) and ``postgresql``
  (a database of its own per test session, created at ``FORBEAR_TEST_PG_URL``, migrated,
  and dropped at the end; skipped with the reason when the server cannot be reached).
- ``connection``: a connection in a transaction that is rolled back after the test.
- ``session_factory`` / ``uow``: sessions joined to that transaction through a SAVEPOINT,
  so ``uow.commit()`` works and still leaves nothing behind.
- ``vault``: a :class:`PiiVault` with a fixed test key.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from databases import migrated_pg, migrated_sqlite
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from uow import SqlAlchemyUnitOfWork, make_session_factory

TEST_KEY = bytes(range(32))


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "forbear-test.db"
    migrated_sqlite(tmp_path_factory, path)  # a copy of the run's migrated database
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # A database per test session, so parallel runs (xdist workers, developers) never meet;
    # a copy of the run's migrated template rather than migrated again.
    with migrated_pg(tmp_path_factory, "forbear_test") as engine:
        yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine, once per backend."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return make_session_factory(connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(session_factory)


@pytest.fixture
def vault() -> PiiVault:
    return PiiVault(TEST_KEY)
