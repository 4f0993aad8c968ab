"""The outbox dispatcher's throughput on PostgreSQL: N due SMS reminders (default 100,000)
sent by 1 and by 4 dispatcher processes (``FOR UPDATE SKIP LOCKED`` claims, the gate asked
again at the moment of sending, contacts recorded) through the SMS gateway adapter to the
provider stand-in (``python -m forbear.sim.provider``, its own process, fsync'd accept log).

Printed side by side for each worker count: messages per second (from the first worker
starting to dispatch to the last finishing; process start-up not counted, and shown
apart), p50 / p99 of the time from due to the provider's acceptance (all N are due when
the workers begin: the latency of draining a backlog of N), and the reference: the
provider stand-in's own ceiling, measured first by driving it directly with the same
adapter and the same number of sending threads and no database (``--rate`` imposes a
provider limit on top, which the dispatcher then keeps to).

The workers send ``--send-batch`` messages a request (default 100: ``SendBatchSms`` with a
key per number, the provider's ``batch_size`` in the channels file); ``--send-batch 1``
sends one ``SendSms`` a message, as before batches. The ceiling is measured the same way.

Every level ends with the database compared with the stand-in's log: each message sent
exactly once per idempotency key, none lost, provider references equal.

    python benchmarks/dispatch.py                      # 100,000 messages, 1 and 4 workers
    python benchmarks/dispatch.py --smoke --json out.json
    python benchmarks/dispatch.py --messages 20000 --workers 1,2,4 --rate 2000
    python benchmarks/dispatch.py --send-batch 1       # one request a message
    python benchmarks/dispatch.py --cpu                # one dispatcher's CPU per message
    python benchmarks/dispatch.py --cpu --sqlite       # the same on a SQLite file

``--cpu`` measures one dispatcher's own cost, steadier than wall time on a shared machine:
5,000 due SMS (``--messages``) drained by one in-process dispatcher whose provider accepts
at once (no stand-in, no network), printing the process's CPU seconds per message (all its
threads, the database server's not counted), messages per second of wall time and the load
averages; ``--profile FILE`` writes a cProfile (CPU time) of the run.

Needs the PostgreSQL server of ``--pg-url`` (default: FORBEAR_TEST_PG_URL or the test
server); a database of its own is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import make_url

import _dispatch_book as book
from forbear.channels.base import Accepted, OutgoingMessage
from forbear.channels.config import DEFAULT_BACKLOG_BATCH
from forbear.channels.sms import SmsGatewayAdapter
from forbear.domain.errors import StorageUnavailable
from forbear.services.outreach.dispatch import RetryPolicy
from forbear.store.db import make_engine, normalise_url, ping

DEFAULT_PG = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def start_standin(log: Path, rate: float | None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "forbear.sim.provider", "--port", "0", "--log", str(log)]
    if rate:
        command += ["--rate", str(rate)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the provider stand-in did not start")
    return proc, json.loads(line)["url"]


def stop_standin(proc: subprocess.Popen[str]) -> dict[str, Any]:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    for line in out.splitlines():
        if line.startswith('{"stats"'):
            return dict(json.loads(line)["stats"])
    return {}


def provider_ceiling(endpoint: str, n: int, threads: int, send_batch: int = 1) -> float:
    """Messages per second the stand-in takes from the SMS adapter alone (no database), in
    requests of ``send_batch`` messages as the workers send them."""
    adapter = SmsGatewayAdapter.from_options(
        book.PROVIDER,
        book.config_for(
            endpoint,
            threads=threads,
            batch=1,
            timeout=10,
            lease=timedelta(seconds=60),
            retry=RetryPolicy(),
        )
        .providers[0]
        .options,
        data_dir=Path(tempfile.gettempdir()),
        secrets={book.PROVIDER: book.SMS_SECRET},
    )
    run = uuid.uuid4().hex[:6]

    def message(i: int) -> OutgoingMessage:
        return OutgoingMessage(
            message_id=f"ceiling-{run}-{i:07d}",
            channel="sms",
            to=f"139{i % 100_000_000:08d}",
            body="提醒",
            template=book.TEMPLATE,
            params={"name": "王小明", "amount": "1234.56"},
        )

    def one(i: int) -> None:
        if send_batch > 1:
            adapter.send_many([message(j) for j in range(i, min(n, i + send_batch))])
        else:
            adapter.send(message(i))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(0, n, send_batch)))
    took = time.perf_counter() - started
    adapter.close()
    return n / took


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None where /proc is not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_level(
    engine: Any,
    url: str,
    data_dir: Path,
    endpoint: str,
    log: Path,
    loans: list[tuple[int, int]],
    *,
    workers: int,
    messages: int,
    threads: int,
    batch: int,
    backlog_batch: int,
    standin_pid: int | None = None,
    send_batch: int = 1,
) -> dict[str, Any]:
    prefix = f"bench{workers}w"
    queued_at = time.perf_counter()
    book.queue(engine, loans, messages, prefix=prefix, due_at=book.NOON)
    queue_seconds = time.perf_counter() - queued_at
    load_before = os.getloadavg()
    standin_cpu = None if standin_pid is None else process_cpu(standin_pid)
    epoch = time.time()
    launched = time.time()
    procs = [
        subprocess.Popen(
            book.worker_command(
                url,
                data_dir,
                endpoint,
                worker_id=f"bench-{workers}-{i}",
                epoch=epoch,
                threads=threads,
                batch=batch,
                backlog_batch=backlog_batch,
                timeout=10,
                lease_seconds=300,
                send_batch=send_batch,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed ({proc.returncode}): {err[-3000:]}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    finished = time.time()
    load_after = os.getloadavg()
    if standin_pid is not None and standin_cpu is not None:
        now_cpu = process_cpu(standin_pid)
        standin_cpu = None if now_cpu is None else now_cpu - standin_cpu
    worker_cpu = sum(float(r.get("cpu_seconds", 0.0)) for r in reports)
    begin = min(r["started"] for r in reports)
    end = max(r["ended"] for r in reports)
    agreement = book.agreement(engine, log, prefix)
    accepted = book.accept_times(log, prefix)
    latencies = [(at.timestamp() - begin) for at in accepted]
    sent = agreement.by_status.get("sent", 0) + agreement.by_status.get("delivered", 0)
    return {
        "workers": workers,
        "messages": messages,
        "sent": sent,
        "by_status": agreement.by_status,
        "dispatch_seconds": round(end - begin, 3),
        "wall_seconds_with_startup": round(finished - launched, 3),
        "queue_seconds": round(queue_seconds, 3),
        "messages_per_second": round(sent / (end - begin), 1) if end > begin else None,
        "per_worker_per_second": round(sent / (end - begin) / workers, 1) if end > begin else None,
        "p50_due_to_accept_s": round(percentile(latencies, 0.50), 3),
        "p99_due_to_accept_s": round(percentile(latencies, 0.99), 3),
        "mean_due_to_accept_s": round(statistics.fmean(latencies), 3) if latencies else None,
        # CPU per message: the workers' processes (all their threads, start-up not counted)
        # and the stand-in's; the database server's is not counted
        "worker_cpu_ms_per_message": round(1000 * worker_cpu / max(1, sent), 3),
        "standin_cpu_ms_per_message": None
        if standin_cpu is None
        else round(1000 * standin_cpu / max(1, sent), 3),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "agreement": {**agreement.__dict__, "exact": agreement.exact},
        "workers_report": reports,
    }


class _Instant:
    """A provider that accepts every message at once (the ``--cpu`` measure)."""

    name = book.PROVIDER
    rate_per_second = None

    def send(self, message: OutgoingMessage) -> Accepted:
        return Accepted(self.name, f"instant-{message.message_id}")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def cpu_level(
    engine: Any,
    url: str,
    data_dir: Path,
    loans: list[tuple[int, int]],
    *,
    messages: int,
    threads: int,
    batch: int,
    backlog_batch: int,
    profile: Path | None,
) -> dict[str, Any]:
    """One in-process dispatcher drains ``messages`` due SMS to a provider that accepts
    at once: its CPU seconds per message and its messages per second; and the SQL
    statements it sent (round trips to the server: per claimed batch, and by kind)."""
    from sqlalchemy import event

    from forbear.bootstrap import bootstrap
    from forbear.channels.dispatcher import Dispatcher

    prefix = f"cpu{uuid.uuid4().hex[:6]}"
    book.queue(engine, loans, messages, prefix=prefix, due_at=book.NOON)
    forbear = bootstrap(book.settings_for(url, data_dir), auto_migrate=False)
    kinds: dict[str, list[int]] = {}  # statement's first words -> [statements, rows given]

    def counted(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        words = " ".join(statement.split()[:4])[:48]
        seen = kinds.setdefault(words, [0, 0])
        seen[0] += 1
        seen[1] += len(parameters) if many else 1

    event.listen(forbear.engine, "before_cursor_execute", counted)
    epoch = time.time()
    forbear.clock = lambda: book.NOON + timedelta(seconds=time.time() - epoch)
    config = book.config_for(
        "http://127.0.0.1:9/",  # never called: the provider is in process
        threads=threads,
        batch=batch,
        timeout=10,
        lease=timedelta(seconds=300),
        retry=RetryPolicy(),
        backlog_batch=backlog_batch,
    )
    load_before = os.getloadavg()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        with Dispatcher(
            forbear, config, worker_id="bench-cpu", adapters={"sms": _Instant()}
        ) as dispatcher:
            dispatcher.run_once()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    event.remove(forbear.engine, "before_cursor_execute", counted)
    forbear.close()
    totals = dispatcher.totals
    handled = max(1, totals.handled)
    statements = sum(n for n, _ in kinds.values())
    return {
        "messages": messages,
        "batch": batch,
        "backlog_batch": backlog_batch,
        "sent": totals.sent,
        "cancelled": totals.cancelled,
        "rescheduled": totals.rescheduled,
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_message": round(1000 * cpu / handled, 3),
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(handled / wall, 1),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "statements": statements,
        "statements_per_1000_messages": round(1000 * statements / handled, 1),
        "statements_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1][0])),
    }


def _print_cpu(args: argparse.Namespace, level: dict[str, Any], backend: str) -> int:
    level["backend"] = backend
    print(
        f"one dispatcher ({backend}), provider accepting at once: {level['sent']}/"
        f"{args.messages} sent (batch {args.batch}, up to {args.backlog_batch} in a backlog); "
        f"CPU {level['cpu_seconds']} s = {level['cpu_ms_per_message']} ms per message; "
        f"{level['messages_per_second']} msg/s wall; load average "
        f"{level['load_average_before']} -> {level['load_average_after']}"
    )
    print(
        f"SQL statements: {level['statements']} ({level['statements_per_1000_messages']} per "
        "1,000 messages); by kind (statements, rows given):"
    )
    for kind, (n, rows) in list(level["statements_by_kind"].items())[:25]:
        print(f"  {n:>6} {rows:>8}  {kind}")
    if args.json:
        args.json.write_text(json.dumps(level, indent=2, default=str))
    return 0 if level["sent"] == args.messages else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--borrowers", type=int, default=3000)
    parser.add_argument("--workers", default="1,4", help="worker counts, e.g. 1,4")
    parser.add_argument("--threads", type=int, default=16, help="sending threads per worker")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--backlog-batch",
        type=int,
        default=DEFAULT_BACKLOG_BATCH,
        help="the largest claim while a backlog drains (= --batch: no growth)",
    )
    parser.add_argument(
        "--send-batch",
        type=int,
        default=100,
        help="messages per provider request (SendBatchSms); 1: one SendSms a message",
    )
    parser.add_argument(
        "--cpu", action="store_true", help="one in-process dispatcher's CPU per message"
    )
    parser.add_argument("--profile", type=Path, default=None, help="with --cpu: a cProfile")
    parser.add_argument(
        "--sqlite", action="store_true", help="with --cpu: a SQLite database file instead"
    )
    parser.add_argument("--rate", type=float, default=None, help="the provider's limit, msg/s")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--smoke", action="store_true", help="400 messages, 300 borrowers")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.smoke:
        args.messages, args.borrowers, args.workers = 400, 300, "1,2"
    elif args.cpu and args.messages == parser.get_default("messages"):
        args.messages = 5000
    levels = [int(x) for x in args.workers.split(",") if x.strip()]
    if args.sqlite and not args.cpu:
        raise SystemExit("--sqlite goes with --cpu (SQLite runs one dispatcher)")
    if args.sqlite:
        work = Path(tempfile.mkdtemp(prefix="forbear-dispatch-bench-"))
        url = f"sqlite:///{work / 'forbear.db'}"
        engine = make_engine(url)
        try:
            book.build_book(engine, args.borrowers, work)
            level = cpu_level(
                engine,
                url,
                work / "data",
                book.remindable(engine),
                messages=args.messages,
                threads=args.threads,
                batch=args.batch,
                backlog_batch=args.backlog_batch,
                profile=args.profile,
            )
        finally:
            engine.dispose()
            shutil.rmtree(work, ignore_errors=True)
        return _print_cpu(args, level, "SQLite")

    admin = make_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
    try:
        ping(admin)
    except StorageUnavailable as exc:
        raise SystemExit(f"PostgreSQL not reachable at {args.pg_url}: {exc}") from None
    name = f"forbear_bench_dispatch_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url_obj = make_url(normalise_url(args.pg_url)).set(database=name)
    url = url_obj.render_as_string(hide_password=False)
    engine = make_engine(url_obj)
    work = Path(tempfile.mkdtemp(prefix="forbear-dispatch-bench-"))
    if args.cpu:
        try:
            book.build_book(engine, args.borrowers, work)
            level = cpu_level(
                engine,
                url,
                work / "data",
                book.remindable(engine),
                messages=args.messages,
                threads=args.threads,
                batch=args.batch,
                backlog_batch=args.backlog_batch,
                profile=args.profile,
            )
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        return _print_cpu(args, level, "PostgreSQL")
    log = work / "accept.log"
    standin, endpoint_base = start_standin(log, args.rate)
    endpoint = endpoint_base + "/"
    figures: dict[str, Any] = {
        "messages": args.messages,
        "borrowers": args.borrowers,
        "threads_per_worker": args.threads,
        "batch": args.batch,
        "backlog_batch": args.backlog_batch,
        "send_batch": args.send_batch,
        "provider_rate_limit": args.rate,
        "load_average_start": os.getloadavg(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "levels": [],
    }
    try:
        began = time.perf_counter()
        book.build_book(engine, args.borrowers, work)
        loans = book.remindable(engine)
        figures["book_seconds"] = round(time.perf_counter() - began, 1)
        figures["remindable_loans"] = len(loans)
        ceiling_n = min(max(args.messages // 5, 200), 20_000)
        standin_before = process_cpu(standin.pid)
        figures["provider_ceiling_per_second"] = round(
            provider_ceiling(endpoint, ceiling_n, args.threads * max(levels), args.send_batch), 1
        )
        standin_after = process_cpu(standin.pid)
        figures["provider_ceiling_standin_cpu_ms_per_message"] = (
            None
            if standin_before is None or standin_after is None
            else round(1000 * (standin_after - standin_before) / ceiling_n, 3)
        )
        print(
            f"book: {args.borrowers} borrowers, {len(loans)} loans to remind "
            f"({figures['book_seconds']} s); provider stand-in ceiling "
            f"{figures['provider_ceiling_per_second']} msg/s "
            f"({args.threads * max(levels)} threads, no database; the stand-in's CPU "
            f"{figures['provider_ceiling_standin_cpu_ms_per_message']} ms per message; "
            f"{args.send_batch} message(s) a request)"
            + (f"; provider limit {args.rate:g} msg/s" if args.rate else ""),
            flush=True,
        )
        for workers in levels:
            level = run_level(
                engine,
                url,
                work / "data",
                endpoint,
                log,
                loans,
                workers=workers,
                messages=args.messages,
                threads=args.threads,
                batch=args.batch,
                backlog_batch=args.backlog_batch,
                standin_pid=standin.pid,
                send_batch=args.send_batch,
            )
            figures["levels"].append(level)
            print(
                f"{workers} worker(s): {level['sent']}/{args.messages} sent in "
                f"{level['dispatch_seconds']} s = {level['messages_per_second']} msg/s "
                f"({level['per_worker_per_second']} per worker); due->accepted p50 "
                f"{level['p50_due_to_accept_s']} s, p99 {level['p99_due_to_accept_s']} s; "
                f"with start-up {level['wall_seconds_with_startup']} s; CPU per message: "
                f"workers {level['worker_cpu_ms_per_message']} ms, stand-in "
                f"{level['standin_cpu_ms_per_message']} ms; load "
                f"{level['load_average_before'][0]:.1f} -> {level['load_average_after'][0]:.1f}; "
                f"database = provider log: {level['agreement']['exact']}",
                flush=True,
            )
    finally:
        figures["provider_stats"] = stop_standin(standin)
        figures["load_average_end"] = os.getloadavg()
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    print()
    head = (
        "workers",
        "msg/s",
        "per worker",
        "p50 s",
        "p99 s",
        "provider ceiling msg/s",
        "worker CPU ms/msg",
        "stand-in CPU ms/msg",
    )
    widths = (7, 9, 10, 8, 8, 23, 18, 20)
    print(" ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)))
    for level in figures["levels"]:
        print(
            f"{level['workers']:>7} {level['messages_per_second']:>9} "
            f"{level['per_worker_per_second']:>10} {level['p50_due_to_accept_s']:>8} "
            f"{level['p99_due_to_accept_s']:>8} {figures['provider_ceiling_per_second']:>23} "
            f"{level['worker_cpu_ms_per_message']:>18} "
            f"{level['standin_cpu_ms_per_message']!s:>20}"
        )
    loads = figures["load_average_start"], figures["load_average_end"]
    print(f"load average at start {loads[0]}, at end {loads[1]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    ok = all(level["agreement"]["exact"] for level in figures["levels"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
