"""A committed copy of the web test book for race tests (the shared conftest stays untouched).

The ``db`` fixture of the web tests runs every request in SAVEPOINTs of one connection,
which cannot show a race. Here each test gets its own copy of the built book (a copy of
the SQLite file; on PostgreSQL a database made from the book's as a template), the app
runs over it with real, committed transactions (as ``forbear serve`` does), and
:func:`parallel` sends requests from many threads at once, each with its own client.
A test module imports ``live_fixture`` to use the ``live`` fixture.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert, select

from forbear.services.credentials import new_token, sha256_hex
from forbear.settings import Environment, Settings
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine, normalise_url, read_only
from forbear.store.web import StaffSession, StaffUser
from forbear.web import sessions
from forbear.web.deps import SESSION_COOKIE
from web.conftest import (
    MORNING,
    PG_URL,
    TEST_KEY,
    Book,
    Clock,
    app_for_test,
    shared_sqlite_book,
)

T = TypeVar("T")


class LiveDatabase:
    """:class:`forbear.web.deps.Database` with committed transactions (like
    :class:`forbear.bootstrap.Forbear`)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.vault = PiiVault(TEST_KEY)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with read_only(self.engine.connect()) as conn, conn.begin():
            yield conn


@dataclass
class Live:
    db: LiveDatabase
    book: Book
    clock: Clock
    tmp_path: Path

    def app(self, **settings: Any) -> FastAPI:
        """The web app over this database; ``settings`` override the test settings."""
        if settings:
            self.db.settings = Settings(
                environment=Environment.TEST, data_dir=self.tmp_path, **settings
            )
        return app_for_test(self.db, self.clock)

    def read(self, statement: Any) -> Any:
        with self.db.engine.connect() as conn:
            return conn.execute(statement)

    def scalar(self, statement: Any) -> Any:
        with self.db.engine.connect() as conn:
            return conn.execute(statement).scalar_one()


def _copy_pg(engine: Engine) -> tuple[Engine, Callable[[], None]]:
    """A new database with ``engine``'s as its template; and how to drop it."""
    url = engine.url
    name = f"forbear_race_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    engine.dispose()  # a template must have no other connection
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    copy = make_engine(url.set(database=name))

    def drop() -> None:
        copy.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return copy, drop


@pytest.fixture(name="live")
def live_fixture(
    built: tuple[Engine, Book],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    """A committed copy of the test book, on the backend of ``built``."""
    engine, book = built
    settings = Settings(environment=Environment.TEST, data_dir=tmp_path)
    if engine.dialect.name == "sqlite":
        path = tmp_path / "live.db"
        book = shared_sqlite_book(tmp_path_factory, path)
        copy = make_engine(f"sqlite:///{path}")
        try:
            yield Live(LiveDatabase(copy, settings), book, Clock(MORNING), tmp_path)
        finally:
            copy.dispose()
    else:
        copy, drop = _copy_pg(engine)
        try:
            yield Live(LiveDatabase(copy, settings), book, Clock(MORNING), tmp_path)
        finally:
            drop()


def staff_client(app: FastAPI, live: Live, username: str) -> TestClient:
    """A client with a committed session of ``username`` and its ``X-CSRF-Token``."""
    token, csrf = new_token(), new_token()
    with live.db.transaction() as conn:
        user_id = conn.execute(
            select(StaffUser.id).where(StaffUser.username == username)
        ).scalar_one()
        conn.execute(
            insert(StaffSession).values(
                token_sha256=sha256_hex(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=live.clock.now,
                last_seen_at=live.clock.now,
                expires_at=live.clock.now + sessions.ABSOLUTE,
            )
        )
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set(SESSION_COOKIE, app.state.web.signer.sign(token))
    client.headers["X-CSRF-Token"] = csrf
    return client


def parallel(tasks: list[Callable[[], T]]) -> list[T]:
    """Run ``tasks`` in as many threads, released together; their results in order (an
    exception in a task is raised here)."""
    barrier = threading.Barrier(len(tasks))
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException] = []

    def run(i: int, task: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = task()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return results
