"""What the dispatch benchmark and the dispatcher kill test share: a generated book in a
database, N due SMS queued in its outbox for the loans that may be reminded, a worker
process running the real dispatcher (:func:`forbear.channels.dispatcher.run`) against
the provider stand-in, and the comparison of the database with the stand-in's accept log.

The worker is a process of its own (``python benchmarks/_dispatch_book.py worker ...``)
so that it can be killed, and so that several run side by side as they would on several
machines. Its clock is the dispatch day's noon in Shanghai plus the time since the
``--epoch`` (wall seconds) plus ``--skew`` seconds: every worker of a run sees the same
moment, business hours hold however long the run takes, and a restarted worker can be
put past the leases a killed one left behind.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import SecretStr
from sqlalchemy import Engine, func, insert, select

from forbear.bootstrap import bootstrap
from forbear.channels.config import ChannelsConfig, ProviderConfig
from forbear.services import situation
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.services.outreach.dispatch import RetryPolicy
from forbear.services.templates import install_library
from forbear.settings import Environment, Settings
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.sim.provider import read_log_lines
from forbear.store import migrate
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.runs import OutboxMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)  # a Monday, no holiday
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI).astimezone(UTC)
SETUP_AT = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
TEST_KEY = bytes(range(32))
PROVIDER = "standin-sms"
SMS_SECRET = "standin-sms-secret"  # the stand-in's default (STANDIN_SMS_SECRET)
TEMPLATE = "CN.M1.REMIND.SMS"
PROVIDER_TEMPLATE = "SMS_276400001"
HERE = Path(__file__).resolve()


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        data_dir=data_dir,
        database_url=url,
        encryption_key=SecretStr(base64.b64encode(TEST_KEY).decode("ascii")),
        public_url="https://lender.example",
        channel_secrets={PROVIDER: SecretStr(SMS_SECRET)},
    )


# ------------------------------------------------------------------------ the book


def build_book(engine: Engine, n_borrowers: int, work_dir: Path, seed: int = 20261207) -> None:
    """A generated book of ``n_borrowers`` as of the dispatch day, with the template
    library, in ``engine``'s (empty) database."""
    migrate.upgrade(engine)
    files = write_files(
        generate_book(n_borrowers, DAY, seed, load_products()), work_dir, fmt="parquet"
    )
    with engine.begin() as conn:
        import_products(conn, load_products(), "demo products", effective_from=SETUP_AT.date())
        import_loans(conn, PiiVault(TEST_KEY), files[0], now=SETUP_AT)
        import_payments(conn, files[1], zone="Asia/Shanghai", now=SETUP_AT)
        install_library(conn, now=SETUP_AT)


def remindable(engine: Engine) -> list[tuple[int, int]]:
    """(loan id, borrower id) of the loans a run's reminder may still go to at noon of the
    dispatch day: active, overdue, no hold, no promise or plan."""
    with engine.connect() as conn:
        loans = situation.of_book(conn, DAY, NOON).loans
    chosen = loans.filter(
        (pl.col("status") == "active")
        & (pl.col("overdue_total") > 0)
        & ~pl.col("hold_any").fill_null(False)
        & ~pl.col("active_plan").fill_null(False)
        & ~pl.col("active_promise").fill_null(False)
    )
    return [(int(a), int(b)) for a, b in chosen.select("loan_id", "borrower_id").iter_rows()]


def queue(
    engine: Engine,
    loans: Sequence[tuple[int, int]],
    n: int,
    *,
    prefix: str,
    due_at: datetime,
    chunk: int = 10_000,
) -> list[str]:
    """``n`` SMS reminders due at ``due_at``, round-robin over ``loans``; their keys."""
    keys = [f"{prefix}-{i:07d}" for i in range(n)]
    created = due_at - timedelta(hours=6)
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            rows = []
            for i in range(start, min(n, start + chunk)):
                loan_id, borrower_id = loans[i % len(loans)]
                rows.append(
                    {
                        "as_of": DAY,
                        "loan_id": loan_id,
                        "borrower_id": borrower_id,
                        "action_index": i,
                        "channel": "sms",
                        "template": TEMPLATE,
                        "dedupe_key": keys[i],
                        "status": "queued",
                        "created_at": created,
                        "origin": "run",
                        "due_at": due_at,
                        "next_attempt_at": due_at,
                        "tries": 0,
                        "reason_rules": "[]",
                    }
                )
            conn.execute(insert(OutboxMessage), rows)
    return keys


# ------------------------------------------------------------------------ the worker


def config_for(
    endpoint: str,
    *,
    threads: int,
    batch: int,
    timeout: float,
    lease: timedelta,
    retry: RetryPolicy,
    rate: float | None = None,
    backlog_batch: int | None = None,
    send_batch: int = 1,
) -> ChannelsConfig:
    """``backlog_batch`` None: every claim asks for ``batch`` (no growth while a backlog
    drains, as the kill test wants: small claims that a kill finds in any phase).
    ``send_batch``: messages per provider request (``SendBatchSms``; 1: one ``SendSms`` a
    message)."""
    options: dict[str, Any] = {
        "kind": "sms_http",
        "channels": ["sms"],
        "endpoint": endpoint,
        "access_key_id": "forbear-standin",
        "sign_name": "某某消费金融",
        "templates": {TEMPLATE: PROVIDER_TEMPLATE},
        "timeout": timeout,
    }
    return ChannelsConfig(
        providers=(
            ProviderConfig(
                PROVIDER,
                "sms_http",
                ("sms",),
                rate,
                threads=threads,
                options=options,
                batch_size=send_batch,
            ),
        ),
        retry=retry,
        batch=batch,
        backlog_batch=backlog_batch or batch,
        lease=lease,
        source="benchmarks/_dispatch_book.py",
    )


def worker_command(
    url: str,
    data_dir: Path,
    endpoint: str,
    *,
    worker_id: str,
    epoch: float,
    skew: float = 0.0,
    once: bool = True,
    threads: int = 16,
    batch: int = 500,
    timeout: float = 5.0,
    lease_seconds: float = 60.0,
    base_delay: float = 1.0,
    max_tries: int = 50,
    backlog_batch: int | None = None,
    send_batch: int = 1,
) -> list[str]:
    return [
        sys.executable,
        str(HERE),
        "worker",
        "--url",
        url,
        "--data-dir",
        str(data_dir),
        "--endpoint",
        endpoint,
        "--worker-id",
        worker_id,
        "--epoch",
        repr(epoch),
        "--skew",
        repr(skew),
        "--threads",
        str(threads),
        "--batch",
        str(batch),
        "--timeout",
        repr(timeout),
        "--lease-seconds",
        repr(lease_seconds),
        "--base-delay",
        repr(base_delay),
        "--max-tries",
        str(max_tries),
        *(["--once"] if once else []),
        *(["--backlog-batch", str(backlog_batch)] if backlog_batch else []),
        "--send-batch",
        str(send_batch),
    ]


def worker_main(argv: Sequence[str]) -> int:
    from forbear.channels.dispatcher import run

    parser = argparse.ArgumentParser(prog="_dispatch_book.py worker")
    parser.add_argument("--url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--epoch", type=float, required=True)
    parser.add_argument("--skew", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--lease-seconds", type=float, default=60.0)
    parser.add_argument("--base-delay", type=float, default=1.0)
    parser.add_argument("--max-tries", type=int, default=50)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--backlog-batch", type=int, default=None)
    parser.add_argument("--send-batch", type=int, default=1, help="messages per request")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of the main thread")
    args = parser.parse_args(argv)
    forbear = bootstrap(settings_for(args.url, args.data_dir), auto_migrate=False)
    offset = timedelta(seconds=args.skew)
    epoch = args.epoch
    forbear.clock = lambda: NOON + offset + timedelta(seconds=time.time() - epoch)
    config = config_for(
        args.endpoint,
        threads=args.threads,
        batch=args.batch,
        timeout=args.timeout,
        lease=timedelta(seconds=args.lease_seconds),
        retry=RetryPolicy(
            max_tries=args.max_tries,
            base_delay=timedelta(seconds=args.base_delay),
            max_delay=timedelta(seconds=max(args.base_delay, 30.0)),
        ),
        backlog_batch=args.backlog_batch,
        send_batch=args.send_batch,
    )
    started = time.time()
    cpu_started = time.process_time()
    profile = None
    if args.profile is not None:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    try:
        totals = run(forbear, once=args.once, worker_id=args.worker_id, config=config)
    finally:
        forbear.close()
        if profile is not None:
            profile.disable()
            profile.dump_stats(str(args.profile))
    ended = time.time()
    cpu = time.process_time() - cpu_started
    print(
        json.dumps(
            {
                "worker": args.worker_id,
                "started": started,
                "ended": ended,
                "cpu_seconds": round(cpu, 3),  # all its threads, dispatching (no start-up)
                "claimed": totals.claimed,
                "sent": totals.sent,
                "retried": totals.retried,
                "dead": totals.dead,
                "failed": totals.failed,
                "cancelled": totals.cancelled,
                "rescheduled": totals.rescheduled,
                "released": totals.released,
                "by_rule": totals.by_rule,
            }
        ),
        flush=True,
    )
    return 0


# ------------------------------------------------------------------------ agreement


@dataclass(frozen=True)
class Agreement:
    """The database against the provider's accept log, for the keys of one run."""

    queued: int
    by_status: dict[str, int]
    log_lines: int  # lines of these keys in the log
    log_keys: int  # distinct keys among them
    sent_not_in_log: int  # the database says sent, the provider never took it
    in_log_not_sent: int  # the provider took it, the database does not say sent
    ref_mismatch: int  # sent with a provider_ref other than the log's
    attempts_missing: int  # sent rows without their contact attempt
    attempts_shared: int  # contact attempts linked from more than one row

    @property
    def exact(self) -> bool:
        return (
            self.log_lines == self.log_keys
            and self.sent_not_in_log == 0
            and self.in_log_not_sent == 0
            and self.ref_mismatch == 0
            and self.attempts_missing == 0
            and self.attempts_shared == 0
        )


def agreement(engine: Engine, log_path: Path, prefix: str) -> Agreement:
    lines = [line for line in read_log_lines(log_path) if line["key"].startswith(prefix)]
    log_refs = {line["key"]: line["ref"] for line in lines}
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                OutboxMessage.dedupe_key,
                OutboxMessage.status,
                OutboxMessage.provider_ref,
                OutboxMessage.contact_attempt_id,
            ).where(OutboxMessage.dedupe_key.like(f"{prefix}-%"))
        ).all()
        attempt_ids = [int(r.contact_attempt_id) for r in rows if r.contact_attempt_id]
        existing = 0
        for start in range(0, len(attempt_ids), 10_000):
            part = attempt_ids[start : start + 10_000]
            existing += int(
                conn.execute(
                    select(func.count())
                    .select_from(ContactAttempt)
                    .where(ContactAttempt.id.in_(part))
                ).scalar_one()
            )
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
    sent = {str(r.dedupe_key): r for r in rows if str(r.status) in ("sent", "delivered")}
    return Agreement(
        queued=len(rows),
        by_status=by_status,
        log_lines=len(lines),
        log_keys=len(log_refs),
        sent_not_in_log=sum(1 for k in sent if k not in log_refs),
        in_log_not_sent=sum(1 for k in log_refs if k not in sent),
        ref_mismatch=sum(
            1 for k, r in sent.items() if k in log_refs and r.provider_ref != log_refs[k]
        ),
        attempts_missing=sum(1 for r in sent.values() if not r.contact_attempt_id)
        + (len(set(attempt_ids)) - existing),
        attempts_shared=len(attempt_ids) - len(set(attempt_ids)),
    )


def accept_times(log_path: Path, prefix: str) -> list[datetime]:
    return [
        datetime.fromisoformat(line["at"])
        for line in read_log_lines(log_path)
        if line["key"].startswith(prefix)
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        raise SystemExit(worker_main(sys.argv[2:]))
    raise SystemExit("usage: _dispatch_book.py worker --url ... (see worker_main)")
