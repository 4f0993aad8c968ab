"""``forbear worker``: the daily run at ``FORBEAR_RUN_AT`` (lender's local time) and the
outbox dispatcher, in one long-running process with a single-leader lock
(:mod:`forbear.channels.worker`, :mod:`forbear.services.outreach.leader`). SIGTERM or
SIGINT: the run or pass under way finishes, then the worker ends (exit 0).
``--once`` does one turn (the due day if this worker leads, one dispatcher pass) and
exits: for cron or a systemd timer. docs/outreach.md has the unit files.
"""

from __future__ import annotations

import logging
import signal
import sys
from datetime import date
from typing import Annotated, Any

import typer

from forbear.cli.common import console, open_app, parse_date
from forbear.domain.errors import ConfigurationError

log = logging.getLogger("forbear.worker")


def _log_to_stderr() -> None:
    """Forbear's own log lines (INFO and up) on standard error; libraries stay at their
    default (warnings)."""
    ours = logging.getLogger("forbear")
    if not any(getattr(h, "forbear_worker", False) for h in ours.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.forbear_worker = True  # type: ignore[attr-defined]
        ours.addHandler(handler)
    ours.setLevel(logging.INFO)


def worker_cmd(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=1, max=65535, help="serve Prometheus metrics at :PORT/metrics"
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option("--metrics-host", help="the address the metrics listen on"),
    ] = "127.0.0.1",
    once: Annotated[
        bool, typer.Option("--once", help="one turn (the due day, one dispatch pass), then exit")
    ] = False,
    run_now: Annotated[
        str | None,
        typer.Option(
            "--run-now",
            help="run this business date (YYYY-MM-DD) now, even if it has a completed run",
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="seconds between idle turns")
    ] = 5.0,
    no_dispatch: Annotated[
        bool, typer.Option("--no-dispatch", help="schedule the daily run only")
    ] = False,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, max=10_000, help="rows claimed at once (default: file)"),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", help="this worker's name in the outbox (default host:pid)"),
    ] = None,
) -> None:
    """The daily run at FORBEAR_RUN_AT (local) once per business date, and the dispatcher."""
    from forbear.batch.daily import run_day_phased
    from forbear.channels.metrics import serve, worker_registry
    from forbear.channels.worker import DispatcherPass, Schedule, Worker
    from forbear.services.outreach.counts import outbox_figures
    from forbear.services.outreach.leader import leader_for
    from forbear.services.runs import latest_run

    forced: date | None = parse_date(run_now, "--run-now") if run_now else None
    _log_to_stderr()
    forbear = open_app()
    settings = forbear.settings

    def run_day(day: date) -> object:
        return run_day_phased(forbear.engine, day, data_dir=settings.data_dir, clock=forbear.clock)

    def day_done(day: date) -> bool:
        with forbear.reading() as conn:
            return latest_run(conn, day, day) is not None

    dispatcher = None if no_dispatch else DispatcherPass(forbear, batch=batch, worker_id=worker_id)
    if dispatcher is not None:
        dispatcher.open()  # a mistake in the channels file stops the worker here, in one line
    worker = Worker(
        schedule=Schedule.parse(settings.run_at, settings.zone),
        clock=forbear.clock,
        leader=leader_for(forbear.engine, settings.data_dir),
        run_day=run_day,
        day_done=day_done,
        dispatch=dispatcher,
        poll_seconds=poll,
        force_day=forced,
        on_stop=None if dispatcher is None else dispatcher.stop,
    )
    server = None
    try:
        if metrics_port is not None:

            def figures() -> Any:
                with forbear.reading() as conn:
                    return outbox_figures(conn, forbear.now(), forbear.today())

            registry = worker_registry(figures, worker.stats, forbear.clock)
            try:
                server = serve(registry, metrics_port, metrics_host)
            except OSError as exc:
                where = f"{metrics_host}:{metrics_port}"
                raise ConfigurationError(
                    f"--metrics-port: cannot listen on {where} ({exc.strerror})"
                ) from None
            console.print(f"metrics at http://{metrics_host}:{metrics_port}/metrics")
        if once:
            tick = worker.once()
            what = (
                f"ran {tick.ran}"
                if tick.ran
                else "run failed"
                if tick.failed
                else f"nothing to run ({tick.skipped or 'not due'})"
            )
            console.print(f"worker: {what}; dispatched {worker.stats.dispatched}")
            totals = None if dispatcher is None else dispatcher.totals()
            if totals is not None:
                console.print(
                    f"  sent {totals.sent}, cancelled {totals.cancelled}, rescheduled "
                    f"{totals.rescheduled}, retry later {totals.retried}, dead {totals.dead}, "
                    f"failed {totals.failed}"
                )
            if tick.failed:
                raise typer.Exit(1)
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop())
        console.print(
            f"worker: daily run at {settings.run_at} {settings.lender_timezone}; "
            "SIGTERM or Ctrl-C to stop"
        )
        worker.run()
        console.print("worker: stopped")
    finally:
        if dispatcher is not None:
            dispatcher.close()
        if server is not None:
            server.shutdown()
        forbear.close()
