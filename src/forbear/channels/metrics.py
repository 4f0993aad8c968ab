"""``forbear worker``'s Prometheus metrics: the outbox's figures
(:mod:`forbear.services.outreach.counts`, read on each scrape) and what this worker did
(:class:`forbear.channels.worker.WorkerStats`). Counts and times only: no personal data.

Served by ``prometheus_client``'s own HTTP server on ``--metrics-port``, bound to
``--metrics-host`` (127.0.0.1 by default: only the machine itself, or a Prometheus agent
on it, can read them; docs/outreach.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, time
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from forbear.channels.worker import WorkerStats
from forbear.clock import Clock
from forbear.services.outreach.counts import OutboxFigures, Series, series

log = logging.getLogger("forbear.worker.metrics")


def families(found: Iterable[Series]) -> Iterator[Metric]:
    """Prometheus families of plain :class:`Series`."""
    for s in found:
        family = GaugeMetricFamily(s.name, s.help, labels=list(s.labels) or None)
        for labels, value in s.samples:
            family.add_metric(list(labels), value)
        yield family


class OutboxCollector(Collector):
    """Reads the outbox's figures on every scrape (a few indexed queries); a database that
    does not answer gives ``forbear_outbox_up 0`` instead of an error page."""

    def __init__(self, read: Callable[[], OutboxFigures]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("forbear_outbox_up", "Whether the outbox figures could be read")
        try:
            found = self.read()
        except Exception as exc:  # a scrape never fails because the database did
            log.warning("outbox figures unavailable: %s", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families(series(found))


class WorkerCollector(Collector):
    """What this worker did: leadership, daily runs, dispatcher passes and lag."""

    def __init__(self, stats: WorkerStats, clock: Clock) -> None:
        self.stats = stats
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        with s.lock:
            values: dict[str, Any] = dict(vars(s))
        yield _gauge(
            "forbear_worker_leader", "1 while this worker leads the schedule", values["leading"]
        )
        runs = CounterMetricFamily(
            "forbear_worker_daily_runs", "Daily runs this worker started", labels=["outcome"]
        )
        runs.add_metric(["completed"], values["runs_completed"])
        runs.add_metric(["failed"], values["runs_failed"])
        yield runs
        yield CounterMetricFamily(
            "forbear_worker_schedule_errors",
            "Turns of the schedule that failed (the database away, ...)",
            value=values["schedule_errors"],
        )
        if values["last_run_day"] is not None:
            midnight = datetime.combine(values["last_run_day"], time(), UTC)
            yield _gauge(
                "forbear_worker_last_run_date_timestamp_seconds",
                "Business date of this worker's latest completed run (midnight UTC)",
                midnight.timestamp(),
            )
            yield _gauge(
                "forbear_worker_last_run_duration_seconds",
                "Duration of this worker's latest completed run",
                values["last_run_seconds"] or 0.0,
            )
        passes = CounterMetricFamily(
            "forbear_worker_dispatch_passes", "Dispatcher passes", labels=["outcome"]
        )
        passes.add_metric(["ok"], values["dispatch_passes"])
        passes.add_metric(["error"], values["dispatch_errors"])
        yield passes
        yield CounterMetricFamily(
            "forbear_worker_dispatched_messages",
            "Messages the dispatcher handled (sent, failed, cancelled or rescheduled)",
            value=values["dispatched"],
        )
        last = values["last_pass_at"]
        if last is not None:
            yield _gauge(
                "forbear_worker_dispatcher_lag_seconds",
                "Seconds since the dispatcher last finished a pass",
                max(0.0, (self.clock() - last).total_seconds()),
            )


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=float(value))


def worker_registry(
    read: Callable[[], OutboxFigures], stats: WorkerStats, clock: Clock
) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) with both collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutboxCollector(read))
    registry.register(WorkerCollector(stats, clock))
    return registry


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``registry`` at ``http://host:port/metrics`` in a daemon thread; answers the
    server (``.shutdown()``)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
