"""The web app over a real database: a small demo book built once per backend.

- ``web_engine`` (parametrised: sqlite, postgresql): a database of its own (a temp SQLite
  file; a PostgreSQL database created for the session and dropped after), migrated, with
  the demo book of 1,000 borrowers imported through the real import path, account states,
  a behaviour model trained, activated and scored, the daily run of :data:`AS_OF`, and
  one staff account per role (plus scoped variants), all committed.
- ``db``: per test, the app's transactions become SAVEPOINTs inside one outer transaction
  that is rolled back when the test ends: each test sees the book as built and leaves it so.
- ``client`` / ``sign_in``: FastAPI's TestClient over ``create_app(db, clock=...)`` on
  ``https://testserver`` (cookies are Secure outside development), made by
  :func:`app_for_test`: each test's app is its own, on the routing table and compiled
  templates of the process's first (resolving them is most of a second per app).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Connection, Engine, insert, select

from clocks import SETUP_AT
from databases import shared_pg, shared_sqlite
from forbear.batch.daily import run_day
from forbear.domain.scoring.artefact import ModelKind
from forbear.services import contacts, models, staff
from forbear.services.credentials import new_token, sha256_hex
from forbear.settings import Environment, Settings
from forbear.sim.demo import build_demo
from forbear.sim.products import load_products
from forbear.store import migrate
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from forbear.store.runs import WorkQueueItem
from forbear.store.web import StaffSession, StaffUser
from forbear.web import create_app, sessions
from forbear.web.deps import SESSION_COOKIE

AS_OF = date(2026, 11, 20)
# 10:00 in Shanghai on the run date: inside the lender's contact hours (08:00-21:00)
MORNING = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TEST_KEY = bytes(range(32))
PG_URL = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery staple"
SETUP_TIME = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)

# username -> (role, extra fields)
STAFF: dict[str, tuple[str, dict[str, object]]] = {
    "agent1": ("agent", {"agent_ref": "zh-001", "team_id": "phone-zh"}),
    "agent.noref": ("agent", {}),
    "agent.m1": ("agent", {"agent_ref": "zh-001", "scope_buckets": ["M1"]}),
    "super1": ("supervisor", {"team_id": "phone-zh"}),
    "compliance1": ("compliance_officer", {}),
    "legal1": ("legal", {}),
    "agency1": ("agency_agent", {"agency_id": 7}),
    "agency2": ("agency_agent", {"agency_id": 8}),
    "admin1": ("admin", {}),
}


@dataclass
class Book:
    """What the tests need to know about the built book."""

    queue_loan: int  # the first item of agent zh-001's queue
    placed_loan: int  # placed with agency 7 (debtor notified)
    other_loan: int  # not placed with any agency
    m1_loan: int | None
    m2_plus_loan: int
    loans: list[int] = field(default_factory=list)


def build_book(engine: Engine, directory: Path, vault: PiiVault | None = None) -> Book:
    """Build the test book into ``engine``'s database (committed)."""
    vault = vault or PiiVault(TEST_KEY)
    build_demo(
        engine.begin,
        vault,
        directory=directory / "demo",
        products=load_products(),
        borrowers=1_000,
        seed=20261129,
        as_of=AS_OF,
        zone="Asia/Shanghai",
        with_models=False,
        with_run=False,
        data_dir=directory,
        now=SETUP_AT,
    )
    with engine.begin() as conn:
        trained = models.train_on_book(
            conn, ModelKind.BEHAVIOUR, as_of=AS_OF, months=6, now=SETUP_AT
        )
        models.activate(conn, trained.model.id, now=SETUP_AT)
        models.score_book(conn, AS_OF)
    with engine.begin() as conn:
        run_day(conn, AS_OF, data_dir=directory)
    with engine.begin() as conn:
        return _people_and_placements(conn)


def _people_and_placements(conn: Connection) -> Book:
    from forbear.store.models import AccountState

    for username, (role, extra) in STAFF.items():
        staff.add_staff(
            conn,
            username=username,
            display_name=f"测试 {username}",
            role=role,
            password=PASSWORD,
            actor="test",
            now=SETUP_TIME,
            **extra,  # type: ignore[arg-type]
        )
    staff.add_staff(
        conn,
        username="service1",
        display_name="核心系统",
        role="supervisor",
        actor="test",
        now=SETUP_TIME,
    )
    queue = (
        conn.execute(
            select(WorkQueueItem.loan_id)
            .where(WorkQueueItem.as_of == AS_OF, WorkQueueItem.agent_id == "zh-001")
            .order_by(WorkQueueItem.rank)
        )
        .scalars()
        .all()
    )
    assert queue, "the test book must give agent zh-001 some work"
    states = conn.execute(
        select(AccountState.loan_id, AccountState.bucket)
        .where(AccountState.as_of == AS_OF)
        .order_by(AccountState.loan_id)
    ).all()
    overdue = [loan for loan, bucket in states if bucket not in ("C", "M1")]
    m1 = [loan for loan, bucket in states if bucket == "M1"]
    placed = next(loan for loan in overdue if loan != queue[0])
    contacts.notify_agency(conn, loan_id=placed, agency_id=7, at=SETUP_TIME, actor="test")
    contacts.assign_agency(conn, loan_id=placed, agency_id=7, at=SETUP_TIME, actor="test")
    other = next(loan for loan in overdue if loan not in (placed, queue[0]))
    return Book(
        queue_loan=int(queue[0]),
        placed_loan=int(placed),
        other_loan=int(other),
        m1_loan=int(m1[0]) if m1 else None,
        m2_plus_loan=int(overdue[0]),
        loans=[int(loan) for loan, _ in states],
    )


def _build(engine: Engine, directory: Path) -> dict[str, object]:
    migrate.upgrade(engine)
    return asdict(build_book(engine, directory))


def shared_sqlite_book(tmp_path_factory: pytest.TempPathFactory, into: Path) -> Book:
    """The SQLite test book as a file at ``into``: built once per test run and copied for
    each xdist worker (and the end-to-end tests), under a lock in the run's shared
    temporary directory."""
    return Book(**shared_sqlite(tmp_path_factory, "web-book", _build, into))


@pytest.fixture(scope="session")
def sqlite_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Book]]:
    path = tmp_path_factory.mktemp("web-sqlite") / "web.db"
    book = shared_sqlite_book(tmp_path_factory, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine, book
    engine.dispose()


@pytest.fixture(scope="session")
def pg_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Book]]:
    """The PostgreSQL test book: built once per test run into a template database, and a
    database of this worker's own created from it (dropped at the end)."""
    with shared_pg(tmp_path_factory, "web_book", _build, prefix="forbear_web") as (engine, built):
        yield engine, Book(**built)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> tuple[Engine, Book]:
    found: tuple[Engine, Book] = request.getfixturevalue(
        "sqlite_book" if request.param == "sqlite" else "pg_book"
    )
    return found


@pytest.fixture
def book(built: tuple[Engine, Book]) -> Book:
    return built[1]


class RolledBackDatabase:
    """:class:`forbear.web.deps.Database` over one connection: each ``transaction()`` is a
    SAVEPOINT (released on success, rolled back on error) inside the test's outer
    transaction, which the fixture rolls back at the end."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.vault = PiiVault(TEST_KEY)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn

    def reading(self) -> AbstractContextManager[Connection]:
        """A read, on the same connection (the test's one snapshot)."""
        return self.transaction()


@pytest.fixture
def db(built: tuple[Engine, Book], tmp_path: Path) -> Iterator[RolledBackDatabase]:
    engine = built[0]
    settings = Settings(environment=Environment.TEST, data_dir=tmp_path)
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield RolledBackDatabase(conn, settings)
        finally:
            outer.rollback()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MORNING)


_RESOLVED: dict[str, Any] = {}  # "router": the routes of the process's first app, and their shape


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates kept in memory for the test process, keyed (by Jinja)
    by the template's name and the checksum of its source: a changed template compiles
    anew."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


def _route_shape(app: FastAPI) -> tuple[tuple[str, str, str], ...]:
    """What ``create_app`` put in the app's routing table: each route's kind, path, and
    the router it includes (the same module-level object in every app of the process) or
    its endpoint's name."""
    shape = []
    for route in app.router.routes:
        included = getattr(route, "original_router", None)
        endpoint = getattr(route, "endpoint", None)
        what = f"router {id(included)}" if included is not None else endpoint_name(endpoint)
        shape.append((type(route).__name__, str(getattr(route, "path", "")), what))
    return tuple(shape)


def endpoint_name(endpoint: object) -> str:
    return f"{getattr(endpoint, '__module__', '')}.{getattr(endpoint, '__qualname__', '')}"


def app_for_test(forbear: Any, clock: Clock) -> FastAPI:
    """``create_app(forbear, clock=clock)`` on the routing table every test's app shares,
    its templates compiled once per process.

    FastAPI resolves an included router's routes (dependants, pydantic fields) on the
    first request an app serves, and Jinja compiles each template on its first use in an
    app: together a second or more of CPU that every test would pay again with its own
    app. Each test keeps an app of its own (its database, clock, cookie signer, assistant,
    templates environment, exception handlers, middleware and its own routes); only the
    included routers' route objects, built by the same code from the same routers, are
    the ones the first app of this process resolved (an app whose routes differ keeps its
    own; they carry the first app as dependency-overrides provider, and no test overrides
    dependencies), and the templates' compiled code comes from a cache checked against
    their source.
    """
    app = create_app(forbear, clock=clock)
    app.state.templates.env.bytecode_cache = _COMPILED
    shared = _RESOLVED.get("router")
    if shared is None:
        _RESOLVED["router"] = (list(app.router.routes), _route_shape(app))
    elif shared[1] == _route_shape(app):
        # only the included routers' routes are shared (what FastAPI resolves lazily); the
        # app's own routes (its OpenAPI description, docs) answer for this app, and a route
        # a test adds (``add_api_route``) goes to this app's own list
        app.router.routes[:] = [
            theirs if getattr(theirs, "original_router", None) is not None else mine
            for mine, theirs in zip(app.router.routes, shared[0], strict=True)
        ]
    return app


@pytest.fixture
def app(db: RolledBackDatabase, clock: Clock) -> FastAPI:
    return app_for_test(db, clock)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=True) as c:
        yield c


def sign_in_form(client: TestClient, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    """Open the sign-in page (for its CSRF token) and post the form."""
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    data = {"username": username, "password": password, "csrf_token": token.group(1)}
    data.update(extra)
    return client.post("/sign-in", data=data, follow_redirects=False)


@pytest.fixture
def sign_in(
    client: TestClient, db: RolledBackDatabase, clock: Clock
) -> Callable[[str], TestClient]:
    """Give ``client`` a session of ``username`` (returned with ``X-CSRF-Token`` set).

    The session row and its signed cookie are made as the sign-in makes them, without the
    argon2 check each time (the sign-in itself is tested in test_auth.py): argon2 is slow
    on purpose, and most tests are about what happens after it.
    """

    def do(username: str) -> TestClient:
        user_id = db.conn.execute(
            select(StaffUser.id).where(StaffUser.username == username)
        ).scalar_one()
        token, csrf = new_token(), new_token()
        db.conn.execute(
            insert(StaffSession).values(
                token_sha256=sha256_hex(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=clock.now,
                last_seen_at=clock.now,
                expires_at=clock.now + sessions.ABSOLUTE,
            )
        )
        signer = client.app.state.web.signer  # type: ignore[attr-defined]
        client.cookies.set(SESSION_COOKIE, signer.sign(token))
        client.headers["X-CSRF-Token"] = csrf
        return client

    return do
