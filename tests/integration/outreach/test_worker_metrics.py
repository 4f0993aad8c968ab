"""``forbear worker --metrics-port``: the outbox's figures and the worker's own over HTTP on
loopback (SQLite and PostgreSQL), after a real daily run and dispatcher passes; a database
that does not answer is ``forbear_outbox_up 0``, not a failed scrape."""

from __future__ import annotations

import urllib.request
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select

from forbear.batch.daily import run_day_phased
from forbear.channels.metrics import serve, worker_registry
from forbear.channels.worker import Schedule, Worker
from forbear.services.outreach.counts import OutboxFigures, outbox_figures
from forbear.services.outreach.leader import leader_for
from forbear.services.runs import latest_run
from forbear.store.db import read_only
from forbear.store.runs import OutboxMessage
from outreach_book import BookDb

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_worker_metrics")

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 10)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.read().decode())


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_worker_serves_its_figures_on_loopback(book_db: BookDb, tmp_path: Path) -> None:
    moment = [datetime.combine(DAY, time(7), SHANGHAI).astimezone(UTC)]

    def clock() -> datetime:
        return moment[0]

    engine = book_db.engine()

    def figures() -> OutboxFigures:
        with read_only(engine.connect()) as conn, conn.begin():
            return outbox_figures(conn, clock(), DAY)

    def day_done(d: date) -> bool:
        with read_only(engine.connect()) as conn, conn.begin():
            return latest_run(conn, d, d) is not None

    worker = Worker(
        schedule=Schedule(time(6), SHANGHAI),
        clock=clock,
        leader=leader_for(engine, book_db.directory),
        run_day=lambda d: run_day_phased(engine, d, data_dir=tmp_path, clock=clock),
        day_done=day_done,
        dispatch=lambda: 4,
    )
    server = serve(worker_registry(figures, worker.stats, clock), 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        assert worker.once().ran == DAY
        moment[0] = moment[0].replace(minute=1)  # a minute after the pass
        found = _samples(_get(url))
        assert found[("forbear_outbox_up", ())] == 1.0
        assert found[("forbear_worker_daily_runs_total", (("outcome", "completed"),))] == 1.0
        assert found[("forbear_worker_dispatched_messages_total", ())] == 4.0
        assert found[("forbear_worker_dispatcher_lag_seconds", ())] == 60.0
        assert found[("forbear_worker_leader", ())] == 1.0  # it led that turn
        midnight = datetime.combine(DAY, time(), UTC).timestamp()
        assert found[("forbear_run_last_completed_date_timestamp_seconds", ())] == midnight
        assert found[("forbear_worker_last_run_date_timestamp_seconds", ())] == midnight
        o = OutboxMessage
        with engine.begin() as conn:  # messages of the day, as the run and agents queue them
            for i, (channel, status) in enumerate(
                [("sms", "queued"), ("sms", "sent"), ("email", "delivered"), ("sms", "queued")]
            ):
                conn.execute(
                    insert(o).values(
                        as_of=DAY,
                        loan_id=1,
                        borrower_id=1,
                        action_index=i,
                        channel=channel,
                        dedupe_key=f"metrics-worker-{i}",
                        status=status,
                        created_at=clock(),
                        due_at=clock(),
                        next_attempt_at=clock(),
                    )
                )
        found = _samples(_get(url))
        with engine.connect() as conn:
            held = dict(
                conn.execute(
                    select(o.channel, func.count()).where(o.as_of == DAY).group_by(o.channel)
                ).all()
            )
        today = {}
        for (name, labels), value in found.items():
            if name == "forbear_outbox_today_messages":
                channel = dict(labels)["channel"]
                today[channel] = today.get(channel, 0) + int(value)
        assert today == held and sum(held.values()) >= 4
        # the database stops answering: the scrape still answers, and says so
        engine.dispose()
        broken = worker_registry(
            lambda: (_ for _ in ()).throw(ConnectionError("down")), worker.stats, clock
        )
        other = serve(broken, 0)
        try:
            down = _samples(_get(f"http://127.0.0.1:{other.server_port}/metrics"))
            assert down[("forbear_outbox_up", ())] == 0.0
            assert (
                "forbear_outbox_today_messages",
                (("channel", "sms"), ("status", "queued")),
            ) not in down
        finally:
            other.shutdown()
            other.server_close()
    finally:
        server.shutdown()
        server.server_close()
        worker.leader.release()
        engine.dispose()
