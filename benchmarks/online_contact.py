"""Benchmark: contact requests through the web API, on SQLite and PostgreSQL, at rising concurrency.

Run from the repository root::

    .venv/bin/python benchmarks/online_contact.py        # 2,000 borrowers; 1/8/32 clients, 30 s
    .venv/bin/python benchmarks/online_contact.py --seconds 10 --concurrency 8,32
    .venv/bin/python benchmarks/online_contact.py --backends sqlite
    .venv/bin/python benchmarks/online_contact.py --smoke     # 60 borrowers; 1 and 8 clients, 3 s
    .venv/bin/python benchmarks/online_contact.py --json out.json  # also write the figures

To measure another version of the code (the commit before a change, say), put its
``src`` first on the path: ``PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/...``;
every child process (the demo book, the staff commands, the web app) inherits it.

Per backend (SQLite: ``forbear.db`` in a temporary data directory; PostgreSQL: a
throwaway database created at ``--pg-url`` and dropped afterwards, skipped with a note
when the server cannot be reached):

1. a demo book through the real import path: ``forbear demo --borrowers N --no-run
   --no-models --no-staff``; an agent account with an API token (``forbear staff add``,
   ``forbear staff token``);
2. for each concurrency level, a fresh ``forbear serve``-equivalent uvicorn in a
   subprocess on 127.0.0.1 and a free port (``_live_server.py``), whose clock starts at
   10:00 in Shanghai on a day of its own (so the daily caps start fresh at each level and
   contacts fall inside the contact hours whenever the benchmark runs);
3. C client threads, each with its own keep-alive HTTP connection and the bearer token,
   for S seconds: ``POST /api/v1/accounts/{loan}/contacts`` with ``{"channel": "call"}``
   and, when the gate allows it, ``POST /api/v1/contacts/{attempt}/outcome`` with
   ``right_party`` or ``no_answer`` (half each). A share of the contacts (``--hot-share``,
   default 30%) hammer a few debtors (``--hot``, default 3) so the daily caps are
   reached and raced for; the rest spread over every debtor;
4. after each level, the caps are checked in the database: per debtor and local day,
   the recorded ``connected`` outcomes of allowed voice attempts against
   CN.FREQ.CONNECTED, and per contact number and local day the recorded unanswered ones
   (``no_answer``, ``busy``) against CN.FREQ.UNANSWERED (the caps as the lender's rules
   state them). Anything over a cap is an **overshoot** and must be zero. Attempts
   allowed but left without an outcome (a failed outcome request) are reported as
   *pending*.

With ``--with-run C`` one more level runs on each backend: C clients from 2 s before
``forbear run --as-of DAY`` starts (a subprocess on the same data directory and
database) until 1 s after it ends; printed: whether the run completed, its seconds, and
the requests answered while it ran (p50, p99, slowest, 5xx). ``--models`` trains the
demo's risk models first, so that the run plans contacts and writes work queues and the
outbox (without a model it computes states and decisions only).

Printed per level: requests (contacts + outcomes), requests/s, p50 / p99 latency of all
requests, contacts allowed / blocked by the gate (a blocked contact is a 201 with
``allowed: false``), expected refusals (409 conflict, 429), other 4xx, 5xx (500 and 503
separately), transport errors (no answer at all), overshoot, pending; the error lines of
the app's log, counted. The named baseline is **the same backend with one client**
(``x 1 client``: requests/s at this concurrency over requests/s with one client), and
PostgreSQL is set against SQLite at each concurrency. Targets (issue 11): at least 150
requests/s at 8 clients on PostgreSQL with p99 under 100 ms, zero errors, zero overshoot;
on SQLite zero errors at 8 clients. Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _live_server import LiveServer
from _measure import print_table

DAY = date(2026, 3, 10)  # the book's date; level i runs on DAY + i days
PG_URL = os.environ.get("FORBEAR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHANGHAI = ZoneInfo("Asia/Shanghai")
EXPECTED_4XX = frozenset({409, 429})  # a conflict or a rate limit: an answer, not an error
TARGET_PG_RPS = 150.0
TARGET_PG_P99_MS = 100.0
UNANSWERED = ("no_answer", "busy")
RUN_GIVE_UP_S = 1800.0


# ------------------------------------------------------------------------- the book


def forbear_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """This process's environment without Forbear's own variables, plus the data dir
    (and database URL) of this run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")}
    env["FORBEAR_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "200"
    if database_url:
        env["FORBEAR_DATABASE_URL"] = database_url
    return env


def cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "forbear.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"forbear {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


# ``forbear`` commands one after the other in one process (``--smoke``: one start of the
# application instead of three); a record separator line after each command's output
_IN_ONE_PROCESS = """
import json, sys
from forbear.cli import main
for args in json.loads(sys.argv[1]):
    sys.argv = ["forbear", *args]
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise
    print("\\x1e", flush=True)
"""


def cli_in_one_process(env: dict[str, str], commands: list[list[str]]) -> list[str]:
    """Each command's stdout, the commands run in order in one ``forbear`` process."""
    proc = subprocess.run(
        [sys.executable, "-c", _IN_ONE_PROCESS, json.dumps(commands)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        names = ", ".join(" ".join(c[:2]) for c in commands)
        raise RuntimeError(f"forbear ({names}) failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.split("\x1e\n")[: len(commands)]


def build_book(
    env: dict[str, str], borrowers: int, *, models: bool, one_process: bool = False
) -> tuple[str, float]:
    """The demo book and an agent's API token; returns the token and the build seconds.
    ``one_process``: the three commands in one process (the smoke mode)."""
    t0 = time.perf_counter()
    commands = [
        [
            "demo",
            "--borrowers",
            str(borrowers),
            "--as-of",
            DAY.isoformat(),
            "--no-run",
            "--models" if models else "--no-models",
            "--no-staff",
        ],
        ["staff", "add", "bench.agent", "--role", "agent", "--agent", "zh-001", "--no-password"],
        ["staff", "token", "bench.agent", "--name", "online-contact-benchmark"],
    ]
    if one_process:
        out = cli_in_one_process(env, commands)[-1]
    else:
        out = [cli(env, *command) for command in commands][-1]
    found = re.search(r"fbr_\S+", out)
    if found is None:
        raise RuntimeError("forbear staff token printed no token")
    return found.group(0), time.perf_counter() - t0


def pick_loans(url: str, hot: int, seed: int) -> tuple[list[int], list[int]]:
    """One loan per debtor that has a phone of its own: ``hot`` of them without any hold
    (hammered), and all of them (spread over)."""
    from sqlalchemy import select

    from forbear.store.contacts import Hold
    from forbear.store.db import make_engine
    from forbear.store.models import ContactPoint, Loan

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            phones = set(
                conn.execute(
                    select(ContactPoint.borrower_id).where(
                        ContactPoint.kind == "phone", ContactPoint.owner_type == "debtor"
                    )
                ).scalars()
            )
            held = set(conn.execute(select(Hold.borrower_id)).scalars())
            first: dict[int, int] = {}
            for loan_id, borrower_id in conn.execute(
                select(Loan.id, Loan.borrower_id).order_by(Loan.id)
            ):
                if borrower_id in phones:
                    first.setdefault(int(borrower_id), int(loan_id))
    finally:
        engine.dispose()
    every = sorted(first.values())
    calm = [loan for b, loan in first.items() if b not in held]
    rng = random.Random(seed)
    return sorted(rng.sample(calm, min(hot, len(calm)))), every


# ------------------------------------------------------------------------- the load


@dataclass
class Tally:
    """What one client thread saw (merged afterwards)."""

    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"contact": [], "outcome": []}
    )
    status: Counter[int] = field(default_factory=Counter)
    allowed: int = 0
    blocked: int = 0
    transport: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[float, float, int]] = field(default_factory=list)  # (when, s, status)

    def merge(self, other: Tally) -> None:
        for kind, values in other.latencies.items():
            self.latencies[kind].extend(values)
        self.status.update(other.status)
        self.allowed += other.allowed
        self.blocked += other.blocked
        self.transport += other.transport
        self.error_codes.update(other.error_codes)
        self.answers.extend(other.answers)


def _post(
    conn: http.client.HTTPConnection, path: str, body: dict[str, Any], token: str
) -> tuple[int, dict[str, Any]]:
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    response = conn.getresponse()
    raw = response.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return response.status, data if isinstance(data, dict) else {}


def client(
    port: int,
    token: str,
    hot: list[int],
    every: list[int],
    hot_share: float,
    deadline: float,
    seed: int,
    tally: Tally,
    stop: threading.Event | None = None,
) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(kind: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        nonlocal conn
        t0 = time.perf_counter()
        try:
            status, data = _post(conn, path, body, token)
        except (OSError, http.client.HTTPException):
            tally.transport += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            return None
        took = time.perf_counter() - t0
        tally.latencies[kind].append(took)
        tally.answers.append((time.monotonic(), took, status))
        tally.status[status] += 1
        if status >= 300:
            error = data.get("error")
            code = str(error.get("code") if isinstance(error, dict) else "?")[:40]
            tally.error_codes[f"{kind} {status} {code}"] += 1
        return status, data

    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        loan = rng.choice(hot) if hot and rng.random() < hot_share else rng.choice(every)
        answer = call("contact", f"/api/v1/accounts/{loan}/contacts", {"channel": "call"})
        if answer is None or answer[0] != 201:
            continue
        if not answer[1].get("allowed"):
            tally.blocked += 1
            continue
        tally.allowed += 1
        outcome = "right_party" if rng.random() < 0.5 else "no_answer"
        call("outcome", f"/api/v1/contacts/{answer[1]['attempt_id']}/outcome", {"outcome": outcome})
    conn.close()


def run_level(
    port: int,
    token: str,
    hot: list[int],
    every: list[int],
    *,
    clients: int,
    seconds: float,
    hot_share: float,
    seed: int,
    daily_run: tuple[dict[str, str], date] | None = None,
) -> dict[str, Any]:
    """``clients`` threads for ``seconds``; or, with ``daily_run`` (the environment and the
    date), from 2 s before ``forbear run --as-of DATE`` starts until 1 s after it ends."""
    tallies = [Tally() for _ in range(clients)]
    stop = threading.Event()
    deadline = time.monotonic() + (RUN_GIVE_UP_S if daily_run else seconds)
    threads = [
        threading.Thread(
            target=client,
            args=(port, token, hot, every, hot_share, deadline, seed * 1000 + i, tallies[i], stop),
            daemon=True,
        )
        for i in range(clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    run: dict[str, Any] | None = None
    if daily_run is not None:
        env, day = daily_run
        time.sleep(2.0)
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "forbear.cli", "run", "--as-of", day.isoformat()],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_GIVE_UP_S,
            check=False,
        )
        ended = time.monotonic()
        time.sleep(1.0)
        stop.set()
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        run = {
            "as_of": day.isoformat(),
            "seconds": ended - began,
            "completed": proc.returncode == 0,
            "error": lines[-1][:200] if proc.returncode and lines else None,
            "began": began,
            "ended": ended,
        }
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    total = Tally()
    for t in tallies:
        total.merge(t)
    figures = summarise(total, wall)
    if run is not None:
        during = [
            (took, status)
            for at, took, status in total.answers
            if run["began"] <= at <= run["ended"]
        ]
        took = [x for x, _ in during]
        run.update(
            requests_during=len(during),
            p50_ms=_pct(took, 0.50),
            p99_ms=_pct(took, 0.99),
            max_ms=1000 * max(took) if took else None,
            errors_during=sum(1 for _, status in during if status >= 500),
        )
        del run["began"], run["ended"]
        figures["daily_run"] = run
    return figures


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(t: Tally, wall: float) -> dict[str, Any]:
    everything = t.latencies["contact"] + t.latencies["outcome"]
    requests = len(everything) + t.transport
    five = sum(n for s, n in t.status.items() if s >= 500)
    expected = sum(n for s, n in t.status.items() if s in EXPECTED_4XX)
    other_4xx = sum(n for s, n in t.status.items() if 400 <= s < 500 and s not in EXPECTED_4XX)
    return {
        "seconds": wall,
        "requests": requests,
        "requests_per_s": requests / wall if wall else 0.0,
        "p50_ms": _pct(everything, 0.50),
        "p99_ms": _pct(everything, 0.99),
        "contact_p50_ms": _pct(t.latencies["contact"], 0.50),
        "contact_p99_ms": _pct(t.latencies["contact"], 0.99),
        "outcome_p50_ms": _pct(t.latencies["outcome"], 0.50),
        "outcome_p99_ms": _pct(t.latencies["outcome"], 0.99),
        "contacts": len(t.latencies["contact"]),
        "outcomes": len(t.latencies["outcome"]),
        "allowed": t.allowed,
        "blocked": t.blocked,
        "status": {str(k): v for k, v in sorted(t.status.items())},
        "refused_4xx": expected,
        "other_4xx": other_4xx,
        "5xx": five,
        "500": t.status.get(500, 0),
        "503": t.status.get(503, 0),
        "transport_errors": t.transport,
        "errors": other_4xx + five + t.transport,
        "error_codes": dict(t.error_codes.most_common(8)),
    }


# ------------------------------------------------------------------------- the caps


def caps(data_dir: Path) -> dict[str, tuple[int, list[str]]]:
    """The daily voice caps of the lender's rules: kind -> (cap, channels)."""
    from forbear.services.contacts import lender_rules

    rules = lender_rules(data_dir)
    found: dict[str, tuple[int, list[str]]] = {}
    for r in rules.active("cap_connected_per_debtor_per_day"):
        found["connected"] = (int(r.params["max_connected"]), sorted(r.params["channels"]))
    for r in rules.active("cap_unanswered_per_number_per_day"):
        found["unanswered"] = (int(r.params["max_attempts"]), sorted(r.params["channels"]))
    return found


def overshoot(url: str, data_dir: Path, day: date, hot: list[int]) -> dict[str, Any]:
    """Count the day's allowed voice attempts against the daily caps (see the module
    docstring). Written here, apart from the gate, from the stored attempts."""
    from sqlalchemy import select

    from forbear.store.contacts import ContactAttempt
    from forbear.store.db import make_engine
    from forbear.store.models import Borrower, Loan

    limits = caps(data_dir)
    engine = make_engine(url)
    a = ContactAttempt
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    a.borrower_id, a.contact_point_id, a.channel, a.at, a.outcome, Borrower.timezone
                )
                .join(Borrower, Borrower.id == a.borrower_id)
                .where(
                    a.allowed.is_(True),
                    a.at >= datetime.combine(day, datetime.min.time(), UTC) - timedelta(days=1),
                    a.at < datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=2),
                )
            ).all()
            hot_borrowers = set(
                conn.execute(select(Loan.borrower_id).where(Loan.id.in_(hot or [0]))).scalars()
            )
    finally:
        engine.dispose()
    connected: Counter[tuple[int, date]] = Counter()
    unanswered: Counter[tuple[int, int | None, date]] = Counter()
    pending = 0
    voice_attempts: Counter[tuple[int, date]] = Counter()
    for r in rows:
        local_day = r.at.astimezone(ZoneInfo(r.timezone)).date()
        if local_day != day:
            continue
        if r.outcome is None:
            pending += 1
        if "connected" in limits and r.channel in limits["connected"][1]:
            voice_attempts[(r.borrower_id, local_day)] += 1
            if r.outcome == "connected":
                connected[(r.borrower_id, local_day)] += 1
        unanswered_cap = limits.get("unanswered")
        if unanswered_cap and r.channel in unanswered_cap[1] and r.outcome in UNANSWERED:
            unanswered[(r.borrower_id, r.contact_point_id, local_day)] += 1
    cap_c = limits.get("connected", (None, []))[0]
    cap_u = limits.get("unanswered", (None, []))[0]
    over_c = {k: n - cap_c for k, n in connected.items() if cap_c is not None and n > cap_c}
    over_u = {k: n - cap_u for k, n in unanswered.items() if cap_u is not None and n > cap_u}
    return {
        "day": day.isoformat(),
        "cap_connected": cap_c,
        "cap_unanswered": cap_u,
        "voice_attempts_allowed": sum(voice_attempts.values()),
        "connected_over": sum(over_c.values()),
        "connected_over_debtor_days": len(over_c),
        "unanswered_over": sum(over_u.values()),
        "unanswered_over_number_days": len(over_u),
        "overshoot": sum(over_c.values()) + sum(over_u.values()),
        "max_connected_per_debtor": max(connected.values(), default=0),
        "max_unanswered_per_number": max(unanswered.values(), default=0),
        "hot_debtors_at_connected_cap": sum(
            1 for (b, _), n in connected.items() if b in hot_borrowers and cap_c and n >= cap_c
        ),
        "pending": pending,
    }


# ------------------------------------------------------------------------- a backend


def pg_database(admin_url: str) -> tuple[str, Any] | None:
    """A new, empty PostgreSQL database: ``(url, drop)``, or None when unreachable."""
    from forbear.domain.errors import StorageUnavailable
    from forbear.store.db import make_engine, normalise_url, ping

    admin = make_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        ping(admin)
    except StorageUnavailable as exc:
        admin.dispose()
        print(f"PostgreSQL skipped: {exc}")
        return None
    name = f"forbear_bench_online_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    url = normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    data_dir = work / backend / "data"
    data_dir.mkdir(parents=True)
    drop = None
    url: str | None = None
    if backend == "postgresql":
        made = pg_database(args.pg_url)
        if made is None:
            return None
        url, drop = made
    try:
        env = forbear_env(data_dir, url)
        print(f"[{backend}] building a demo book of {args.borrowers:,} borrowers ...", flush=True)
        token, built_s = build_book(env, args.borrowers, models=args.models, one_process=args.smoke)
        db_url = url or f"sqlite:///{(data_dir / 'forbear.db').resolve()}"
        hot, every = pick_loans(db_url, args.hot, args.seed)
        print(
            f"[{backend}] book built in {built_s:.0f} s; {len(every):,} debtors with a phone, "
            f"{len(hot)} hammered (loans {', '.join(map(str, hot))})",
            flush=True,
        )
        levels = []
        plan = [(c, False) for c in args.concurrency]
        if args.with_run:
            plan.append((args.with_run, True))
        for i, (clients, with_run) in enumerate(plan):
            day = DAY + timedelta(days=i)
            start = datetime.combine(day, datetime.min.time(), SHANGHAI).replace(hour=10)
            log = work / backend / f"app-{i}-{clients}.log"
            with LiveServer(env, start.astimezone(UTC), log) as server:
                how_long = (
                    f"while `forbear run --as-of {day}` runs"
                    if with_run
                    else (f"for {args.seconds:g} s")
                )
                print(
                    f"[{backend}] {clients} client(s) {how_long} "
                    f"(app clock from {start:%Y-%m-%d %H:%M} Shanghai) ...",
                    flush=True,
                )
                figures = run_level(
                    server.port,
                    token,
                    hot,
                    every,
                    clients=clients,
                    seconds=args.seconds,
                    hot_share=args.hot_share,
                    seed=args.seed + i,
                    daily_run=(env, day) if with_run else None,
                )
            figures["clients"] = clients
            figures["log_errors"] = dict(server.errors().most_common(8))
            figures["caps"] = overshoot(db_url, data_dir, day, hot)
            levels.append(figures)
        return {"backend": backend, "borrowers": args.borrowers, "levels": levels}
    finally:
        if drop is not None:
            drop()


# ------------------------------------------------------------------------- report


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    base: dict[str, float] = {}
    for r in results:
        plain = [x for x in r["levels"] if "daily_run" not in x]
        for lv in plain:
            if lv["clients"] == min(x["clients"] for x in plain):
                base[r["backend"]] = lv["requests_per_s"]
    for r in results:
        for lv in r["levels"]:
            c = lv["caps"]
            one = base.get(r["backend"])
            rows.append(
                [
                    r["backend"],
                    f"{lv['clients']} + run" if "daily_run" in lv else str(lv["clients"]),
                    f"{lv['requests']:,}",
                    f"{lv['requests_per_s']:,.1f}",
                    _ms(lv["p50_ms"]),
                    _ms(lv["p99_ms"]),
                    f"{lv['allowed']:,} / {lv['blocked']:,}",
                    f"{lv['refused_4xx']:,}",
                    f"{lv['other_4xx']:,}",
                    f"{lv['500']:,} / {lv['503']:,}"
                    + (
                        f" +{lv['5xx'] - lv['500'] - lv['503']}"
                        if lv["5xx"] > lv["500"] + lv["503"]
                        else ""
                    ),
                    f"{lv['transport_errors']:,}",
                    f"{c['overshoot']:,}",
                    f"{c['pending']:,}",
                    f"{lv['requests_per_s'] / one:.1f}x" if one and "daily_run" not in lv else "—",
                ]
            )
    headers = [
        "backend",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "allowed / blocked",
        "409/429",
        "other 4xx",
        "500 / 503",
        "no answer",
        "over cap",
        "pending",
        "x 1 client",
    ]
    print_table(
        "Contacts and outcomes through /api/v1 (requests = contacts + outcomes; latency of all "
        "requests; 'over cap' = recorded outcomes beyond CN.FREQ.CONNECTED / UNANSWERED)",
        headers,
        rows,
        width=170,
    )
    for r in results:
        for lv in r["levels"]:
            c = lv["caps"]
            print(
                f"  {r['backend']} {lv['clients']} client(s), day {c['day']}: contacts p50/p99 "
                f"{_ms(lv['contact_p50_ms'])}/{_ms(lv['contact_p99_ms'])} ms, outcomes "
                f"{_ms(lv['outcome_p50_ms'])}/{_ms(lv['outcome_p99_ms'])} ms; "
                f"{c['voice_attempts_allowed']:,} calls allowed; most conversations with one "
                f"debtor {c['max_connected_per_debtor']} (cap {c['cap_connected']}), most "
                f"unanswered on one number {c['max_unanswered_per_number']} (cap "
                f"{c['cap_unanswered']}); hammered debtors at the conversation cap: "
                f"{c['hot_debtors_at_connected_cap']}; over the caps: {c['connected_over']} "
                f"conversations in {c['connected_over_debtor_days']} debtor-days, "
                f"{c['unanswered_over']} unanswered in {c['unanswered_over_number_days']} "
                "number-days"
            )
            run = lv.get("daily_run")
            if run:
                state = "completed" if run["completed"] else f"FAILED ({run['error']})"
                print(
                    f"    the daily run as of {run['as_of']} {state} in {run['seconds']:.1f} s; "
                    f"{run['requests_during']:,} requests answered while it ran: p50 "
                    f"{_ms(run['p50_ms'])} ms, p99 {_ms(run['p99_ms'])} ms, slowest "
                    f"{_ms(run['max_ms'])} ms; 5xx while it ran: {run['errors_during']:,}"
                )
            for what, n in lv["error_codes"].items():
                print(f"      answer {what}: {n:,}")
            for line, n in lv["log_errors"].items():
                print(f"      app log {line}: {n:,}")
    by = {
        r["backend"]: {lv["clients"]: lv for lv in r["levels"] if "daily_run" not in lv}
        for r in results
    }
    if "sqlite" in by and "postgresql" in by:
        for clients in sorted(set(by["sqlite"]) & set(by["postgresql"])):
            s, p = by["sqlite"][clients], by["postgresql"][clients]
            ratio = p["requests_per_s"] / s["requests_per_s"] if s["requests_per_s"] else None
            print(
                f"PostgreSQL vs SQLite, {clients} client(s): "
                + (f"{ratio:.2f}x the requests/s" if ratio else "—")
                + f"; p99 {_ms(p['p99_ms'])} vs {_ms(s['p99_ms'])} ms; errors {p['errors']:,} vs "
                f"{s['errors']:,}; overshoot {p['caps']['overshoot']} vs {s['caps']['overshoot']}"
            )
    verdict: dict[str, Any] = {
        "overshoot": sum(lv["caps"]["overshoot"] for r in results for lv in r["levels"]),
        "5xx": sum(lv["5xx"] for r in results for lv in r["levels"]),
        "errors": sum(lv["errors"] for r in results for lv in r["levels"]),
        "daily_runs_completed": all(
            lv["daily_run"]["completed"] for r in results for lv in r["levels"] if "daily_run" in lv
        ),
    }
    lines = [
        f"overshoot zero everywhere: {verdict['overshoot']} -> "
        + ("met" if verdict["overshoot"] == 0 else "NOT met")
    ]
    pg8 = by.get("postgresql", {}).get(8)
    if pg8:
        met = (
            pg8["requests_per_s"] >= TARGET_PG_RPS
            and pg8["p99_ms"] is not None
            and pg8["p99_ms"] < TARGET_PG_P99_MS
            and pg8["errors"] == 0
            and pg8["caps"]["overshoot"] == 0
        )
        verdict["postgresql_8"] = met
        lines.append(
            f"PostgreSQL, 8 clients: >= {TARGET_PG_RPS:g} req/s with p99 < "
            f"{TARGET_PG_P99_MS:g} ms, no errors: {pg8['requests_per_s']:.0f} req/s, "
            f"p99 {_ms(pg8['p99_ms'])} ms, "
            f"{pg8['errors']} errors -> " + ("met" if met else "NOT met")
        )
    lite8 = by.get("sqlite", {}).get(8)
    if lite8:
        met = lite8["errors"] == 0 and lite8["caps"]["overshoot"] == 0
        verdict["sqlite_8"] = met
        lines.append(
            f"SQLite, 8 clients: no errors: {lite8['errors']} -> " + ("met" if met else "NOT met")
        )
    print("Targets: " + "; ".join(lines))
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="client counts, e.g. 1,8,32")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--hot", type=int, default=3, help="debtors hammered")
    parser.add_argument("--hot-share", type=float, default=0.3, help="share of contacts to them")
    parser.add_argument("--pg-url", default=PG_URL, help="an admin URL on the PostgreSQL server")
    parser.add_argument(
        "--with-run",
        type=int,
        default=0,
        metavar="CLIENTS",
        help="one more level: CLIENTS clients while `forbear run` runs on the same database",
    )
    parser.add_argument(
        "--models", action="store_true", help="train the demo's risk models (the run plans work)"
    )
    parser.add_argument("--seed", type=int, default=20260310)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep the data and app logs here")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="60 borrowers, 1 and 8 clients, 3 s; the book's commands in one process",
    )
    args = parser.parse_args()
    if args.smoke:
        args.borrowers, args.seconds, args.concurrency = 60, 3.0, "1,8"
    args.concurrency = [int(c) for c in str(args.concurrency).split(",") if c.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="online-contact-", dir=args.keep))
    results: list[dict[str, Any]] = []
    try:
        for backend in backends:
            found = run_backend(backend, args, work)
            if found is not None:
                results.append(found)
        verdict = report(results)
        if args.json:
            args.json.write_text(
                json.dumps({"results": results, "verdict": verdict}, indent=1, default=str)
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
