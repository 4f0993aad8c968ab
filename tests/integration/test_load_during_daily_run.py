"""A small collection floor at work while the daily run runs, on SQLite and PostgreSQL.

Eight staff users, each with a connection of their own to a real uvicorn server (in a
thread of this process, so requests are truly concurrent), sign in through the sign-in
form, ask the gate for calls and record their outcomes through ``/api/v1``, and sign in
again now and then -- while ``forbear run --as-of`` runs in a subprocess on the same data
directory and database. Half the calls go to two debtors, so their daily caps are
reached and raced for.

What must hold: no answer is a 5xx (SQLite used to fail simultaneous writes with
"database is locked"), every request is answered, the run completes, and no debtor got
more conversations, and no number more unanswered dials, than the caps allow
(CN.FREQ.CONNECTED, CN.FREQ.UNANSWERED). No timing is asserted.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy import select

from clocks import SETUP_AT
from forbear.bootstrap import Forbear, bootstrap
from forbear.domain.compliance.schema import UNANSWERED
from forbear.domain.errors import StorageUnavailable
from forbear.services import staff
from forbear.services.contacts import lender_rules
from forbear.settings import Settings
from forbear.sim.demo import build_demo
from forbear.sim.products import load_products
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.db import make_engine, normalise_url, ping
from forbear.store.models import Borrower, ContactPoint, Loan
from forbear.store.runs import Run
from forbear.web import create_app

DAY = date(2026, 3, 10)
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: contact hours
PG_URL = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 8
PASSWORD = "load test password 2026"
BORROWERS = 150
WARM_UP_S = 1.0  # clients at work before the run starts
AFTER_RUN_S = 1.0  # and after it ends
GIVE_UP_S = 240.0  # a hung run or client fails the test rather than the session


@dataclass
class Floor:
    data_dir: Path
    env: dict[str, str]
    app: Forbear
    hot: list[int]
    every: list[int]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def floor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Floor]:
    """A demo book (no daily run yet) with eight agents, on the backend of the param."""
    url: str | None = None
    admin = None
    name = f"forbear_load_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if request.param == "postgresql":
        admin = make_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
        try:
            ping(admin)
        except StorageUnavailable as exc:
            admin.dispose()
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = normalise_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")}
    env["FORBEAR_DATA_DIR"] = str(data_dir)
    if url:
        env["FORBEAR_DATABASE_URL"] = url
    app = bootstrap(Settings(data_dir=data_dir, database_url=url))
    try:
        build_demo(
            app.transaction,
            app.vault,
            directory=data_dir / "demo",
            products=load_products(),
            borrowers=BORROWERS,
            seed=20260310,
            as_of=DAY,
            zone="Asia/Shanghai",
            with_models=False,
            with_run=False,
            data_dir=data_dir,
            now=SETUP_AT,
        )
        with app.transaction() as conn:
            for i in range(USERS):
                staff.add_staff(
                    conn,
                    username=f"load.agent{i}",
                    display_name=f"负载 {i}",
                    role="agent",
                    password=PASSWORD,
                    actor="test",
                    now=START - timedelta(days=1),
                )
            hot, every = _loans(conn)
        yield Floor(data_dir=data_dir, env=env, app=app, hot=hot, every=every)
    finally:
        app.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def _loans(conn: Any) -> tuple[list[int], list[int]]:
    """One loan per debtor with a phone of their own; two of them without holds, hammered."""
    phones = set(
        conn.execute(
            select(ContactPoint.borrower_id).where(
                ContactPoint.kind == "phone", ContactPoint.owner_type == "debtor"
            )
        ).scalars()
    )
    held = set(conn.execute(select(Hold.borrower_id)).scalars())
    first: dict[int, int] = {}
    for loan_id, borrower_id in conn.execute(select(Loan.id, Loan.borrower_id).order_by(Loan.id)):
        if borrower_id in phones:
            first.setdefault(borrower_id, loan_id)
    calm = [loan for b, loan in first.items() if b not in held]
    return calm[:2], sorted(first.values())


# ----------------------------------------------------------------------------- the server


class Server:
    """uvicorn serving the app on a free port in a thread of this process."""

    def __init__(self, app: Forbear) -> None:
        began = time.monotonic()

        def clock() -> datetime:
            return START + timedelta(seconds=time.monotonic() - began)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(
            create_app(app, clock=clock),
            host="127.0.0.1",
            port=self.port,
            access_log=False,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ErrorLog(logging.Handler):
    """The app's error lines (type and place only, never a message with data)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines[re.sub(r" [0-9a-f]{8}:", ":", record.getMessage())] += 1


# ----------------------------------------------------------------------------- a user


@dataclass
class User:
    """One staff member's browser-like client: its own connection and cookies."""

    port: int
    username: str
    seed: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    status: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    stamps: list[float] = field(default_factory=list)  # when each answer came (monotonic)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.rng = random.Random(self.seed)

    def request(
        self, kind: str, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, bytes]:
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.transport_errors += 1
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return 0, b""
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie = rest.split(";", 1)[0]
                if cookie in ("", '""') or "max-age=0" in value.lower():
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie
        self.status[f"{kind} {response.status}"] += 1
        self.stamps.append(time.monotonic())
        return response.status, data

    def sign_in(self) -> bool:
        self.cookies.clear()
        status, page = self.request("sign-in page", "GET", "/sign-in")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or token is None:
            return False
        form = urlencode(
            {"username": self.username, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        status, _ = self.request(
            "sign-in",
            "POST",
            "/sign-in",
            form.encode(),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 303:
            return False
        status, me = self.request("me", "GET", "/api/v1/me")
        if status != 200:
            return False
        self.csrf = json.loads(me)["csrf_token"]
        return True

    def post(self, kind: str, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, raw = self.request(
            kind,
            "POST",
            path,
            json.dumps(payload).encode(),
            **{"Content-Type": "application/json", "X-CSRF-Token": self.csrf},
        )
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, {}

    def work(self, floor: Floor, stop: threading.Event) -> None:
        signed_in = self.sign_in()
        done = 0
        while not stop.is_set():
            if not signed_in or done % 12 == 11:
                signed_in = self.sign_in()
                if not signed_in:
                    continue
            done += 1
            hot = self.rng.random() < 0.5
            loan = self.rng.choice(floor.hot if hot else floor.every)
            status, answer = self.post(
                "contact", f"/api/v1/accounts/{loan}/contacts", {"channel": "call"}
            )
            if status == 201 and answer.get("allowed"):
                outcome = "right_party" if self.rng.random() < 0.5 else "no_answer"
                attempt = answer["attempt_id"]
                self.post("outcome", f"/api/v1/contacts/{attempt}/outcome", {"outcome": outcome})
        self.conn.close()


# ----------------------------------------------------------------------------- the caps


def over_the_caps(floor: Floor) -> tuple[list[str], int]:
    """Debtor-days over CN.FREQ.CONNECTED and number-days over CN.FREQ.UNANSWERED among the
    recorded outcomes of allowed calls; and the most conversations any debtor had."""
    rules = lender_rules(floor.data_dir)
    (connected_rule,) = rules.active("cap_connected_per_debtor_per_day")
    (unanswered_rule,) = rules.active("cap_unanswered_per_number_per_day")
    a = ContactAttempt
    with floor.app.transaction() as conn:
        rows = conn.execute(
            select(a.borrower_id, a.contact_point_id, a.channel, a.at, a.outcome, Borrower.timezone)
            .join(Borrower, Borrower.id == a.borrower_id)
            .where(a.allowed.is_(True))
        ).all()
    connected: Counter[tuple[int, date]] = Counter()
    unanswered: Counter[tuple[int, int, date]] = Counter()
    for r in rows:
        day = r.at.astimezone(ZoneInfo(r.timezone)).date()
        if r.channel in connected_rule.params["channels"] and r.outcome == "connected":
            connected[(r.borrower_id, day)] += 1
        if r.channel in unanswered_rule.params["channels"] and r.outcome in UNANSWERED:
            unanswered[(r.borrower_id, r.contact_point_id, day)] += 1
    cap_c, cap_u = connected_rule.params["max_connected"], unanswered_rule.params["max_attempts"]
    over = [f"debtor {b} on {d}: {n} conversations" for (b, d), n in connected.items() if n > cap_c]
    over += [
        f"number {p} of debtor {b} on {d}: {n} unanswered"
        for (b, p, d), n in unanswered.items()
        if n > cap_u
    ]
    return over, max(connected.values(), default=0)


# ----------------------------------------------------------------------------- the test


def test_eight_users_and_the_daily_run_at_once_no_5xx_caps_held(floor: Floor) -> None:
    errors = ErrorLog()
    logging.getLogger("forbear").addHandler(errors)
    stop = threading.Event()
    try:
        with Server(floor.app) as server:
            users = [User(server.port, f"load.agent{i}", seed=i) for i in range(USERS)]
            threads = [
                threading.Thread(target=u.work, args=(floor, stop), daemon=True) for u in users
            ]
            for t in threads:
                t.start()
            time.sleep(WARM_UP_S)
            run_began = time.monotonic()
            run = subprocess.run(
                [sys.executable, "-m", "forbear.cli", "run", "--as-of", DAY.isoformat()],
                env=floor.env | {"COLUMNS": "200"},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=GIVE_UP_S,
                check=False,
            )
            run_ended = time.monotonic()
            time.sleep(AFTER_RUN_S)
            stop.set()
            for t in threads:
                t.join(timeout=GIVE_UP_S)
                assert not t.is_alive(), "a user is stuck on a request"
    finally:
        logging.getLogger("forbear").removeHandler(errors)

    status: Counter[str] = Counter()
    for u in users:
        status.update(u.status)
    seen = f"answers {dict(sorted(status.items()))}; app errors {dict(errors.lines)}"
    assert run.returncode == 0, f"the daily run failed: {run.stderr[-2000:]}; {seen}"
    five = {k: n for k, n in status.items() if k.split()[-1].startswith("5")}
    assert not five, f"5xx answers while the run ran: {seen}"
    assert sum(u.transport_errors for u in users) == 0, seen
    during = sum(run_began <= s <= run_ended for u in users for s in u.stamps)
    assert during > 0, "no request was answered while the run ran: the test proved nothing"
    assert status["sign-in 303"] >= USERS and status["contact 201"] > 0, seen
    assert status["outcome 200"] > 0, seen
    with floor.app.transaction() as conn:
        runs = conn.execute(select(Run.status).where(Run.as_of == DAY)).scalars().all()
    assert "completed" in runs, runs
    over, most = over_the_caps(floor)
    assert not over, f"caps exceeded: {over[:10]}; {seen}"
    assert most >= 1, "no conversation was recorded: the caps were not exercised"
