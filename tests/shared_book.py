"""A book imported once per test module and backend, each test in a transaction of its
own that is rolled back: the tests see the book as imported and leave it so.

Importing a generated book takes seconds; doing it once per module instead of once per
test (as a ``book`` fixture over ``connection`` did) keeps the suite fast. Use::

    @pytest.fixture(scope="module", params=BACKENDS)
    def book_engine(request, tmp_path_factory, book_files) -> Iterator[Engine]:
        with book_database(request.param, tmp_path_factory, "legal") as engine:
            with engine.begin() as conn:
                ...  # import the book
            yield engine


    @pytest.fixture
    def book(book_engine: Engine) -> Iterator[Connection]:
        with rolled_back(book_engine) as conn:
            yield conn
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine

from databases import migrated_pg, migrated_sqlite
from forbear.store.db import make_engine

TEST_KEY = bytes(range(32))  # the ``vault`` fixture's key
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def book_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[Engine]:
    """A migrated, empty database of its own on ``backend`` ("sqlite": a temp file;
    "postgresql": a database created at ``FORBEAR_TEST_PG_URL`` and dropped after, the
    test skipped when the server is not there). Both are copies of a database migrated
    once per test run (:mod:`databases`)."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp(name) / "book.db"
        migrated_sqlite(tmp_path_factory, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with migrated_pg(tmp_path_factory, f"forbear_{name}") as engine:
        yield engine


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back at the end."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()
