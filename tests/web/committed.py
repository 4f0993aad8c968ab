"""A committed copy of the web test book, for tests whose clients run in parallel.

The ``db`` fixture of :mod:`tests.web.conftest` puts every request on one connection
inside one rolled-back transaction: right for route tests, useless for races. Here each
test gets a database of its own, copied from the built book (the SQLite file; a
PostgreSQL database created from the book's database as a template), and the app runs
on the real composition root (:func:`forbear.bootstrap.bootstrap`): every request has
its own connection and commits, as in production.

:func:`burst` sends ``n`` requests at once from ``n`` threads, each with its own
``TestClient`` (its own event loop), released together by a barrier.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from tests.web.conftest import (
    MORNING,
    PG_URL,
    TEST_KEY,
    Book,
    Clock,
    app_for_test,
    shared_sqlite_book,
)

from forbear.bootstrap import Forbear, bootstrap
from forbear.services import staff
from forbear.settings import Environment, Settings
from forbear.store.db import make_engine, normalise_url


@dataclass
class Committed:
    forbear: Forbear
    book: Book
    app: FastAPI

    def token(self, username: str) -> str:
        """A bearer token of ``username``, used once so later requests write nothing
        for it (the token's last use is touched at most every few minutes)."""
        with self.forbear.transaction() as conn:
            issued = staff.issue_api_token(
                conn, username, name="race test", actor="test", now=MORNING
            )
        with self.client(issued.token) as c:
            assert c.get("/api/v1/me").status_code == 200
        return issued.token

    def client(self, token: str | None = None) -> TestClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(
            self.app, base_url="https://testserver", headers=headers, raise_server_exceptions=False
        )


@contextmanager
def committed_book(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[Committed]:
    """A database of this test's own with the book in it, and the app over it."""
    if backend == "sqlite":
        path = tmp_path / "committed.db"
        book = shared_sqlite_book(request.getfixturevalue("tmp_path_factory"), path)
        url = f"sqlite:///{path}"
        drop: Callable[[], None] = lambda: None  # noqa: E731
    else:
        engine: Engine
        engine, book = request.getfixturevalue("pg_book")
        template = engine.url.database
        engine.dispose()  # a template database must have no other connection
        admin = make_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
        name = f"forbear_race_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = normalise_url(PG_URL).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    settings = Settings(
        environment=Environment.TEST,
        data_dir=tmp_path / "data",
        database_url=url,
        encryption_key=SecretStr(base64.b64encode(TEST_KEY).decode("ascii")),
    )
    forbear = bootstrap(settings)
    try:
        yield Committed(forbear, book, app_for_test(forbear, Clock(MORNING)))
    finally:
        forbear.close()
        drop()


def burst(committed: Committed, n: int, send: Callable[[TestClient], Any]) -> list[Any]:
    """``send`` run by ``n`` threads at once, each with its own client."""
    barrier = threading.Barrier(n)
    answers: list[Any] = [RuntimeError("no answer")] * n

    def run(i: int, client: TestClient) -> None:
        barrier.wait()
        try:
            answers[i] = send(client)
        except BaseException as exc:  # reported below, not swallowed
            answers[i] = exc

    clients = [committed.client() for _ in range(n)]
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    failed = [a for a in answers if isinstance(a, BaseException)]
    if failed:
        raise failed[0]
    return answers
