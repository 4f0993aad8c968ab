"""``forbear dispatch`` (the outbox leaves the building) and ``forbear outbox`` (what is
where, retry a dead or failed message, cancel a queued one)."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer
from rich.table import Table

from forbear.cli.common import actor_or_default, open_app, today_in
from forbear.cli.common import console as out
from forbear.domain.access import Actor as Operator

outbox_app = typer.Typer(help="The outbox: status, list, retry, cancel.", no_args_is_help=True)

ActorOption = Annotated[
    str, typer.Option("--actor", help="who runs this, for the audit trail (default: $USER)")
]


def dispatch(
    once: Annotated[
        bool, typer.Option("--once", help="send what is due now and exit (for cron)")
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
    """Send the outbox: claim due messages, ask the gate again, render, hand them to the
    channels (the sandbox unless a channels file says otherwise). Runs until SIGTERM or
    Ctrl-C, which let the sends under way finish; ``--once`` returns when nothing is due."""
    from forbear.channels.dispatcher import Dispatcher, run

    forbear = open_app()

    def on_ready(found: Dispatcher) -> None:
        def stop(signum: int, _frame: Any) -> None:
            found.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    totals = run(forbear, once=once, batch=batch, worker_id=worker_id, on_ready=on_ready)
    out.print(
        f"claimed {totals.claimed}: sent {totals.sent}, cancelled {totals.cancelled}, "
        f"rescheduled {totals.rescheduled}, retry later {totals.retried}, dead {totals.dead}, "
        f"failed {totals.failed}, given back {totals.released}"
    )
    for rule, count in sorted(totals.by_rule.items()):
        out.print(f"  cancelled by {rule}: {count}")


def _operator(actor: str) -> Operator:
    return Operator(name=actor_or_default(actor))


@outbox_app.command("status")
def status(actor: ActorOption = "") -> None:
    """How many messages are in each status, by channel."""
    from forbear.services.outreach import outbox

    forbear = open_app()
    with forbear.reading() as conn:
        counts = outbox.status_counts(
            conn, _operator(actor), now=forbear.now(), today=today_in(forbear)
        )
    table = Table("status", "channel", "messages")
    for c in counts:
        table.add_row(c.status, c.channel, str(c.count))
    out.print(table if counts else "the outbox is empty")


@outbox_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option("--status", help="queued, sending, ...")] = None,
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    borrower: Annotated[int | None, typer.Option("--borrower", help="borrower id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    actor: ActorOption = "",
) -> None:
    """The newest messages (ids, channel, status, times, reasons; never the text)."""
    from forbear.services.outreach import outbox

    forbear = open_app()
    with forbear.reading() as conn:
        items = outbox.list_messages(
            conn,
            forbear.vault,
            _operator(actor),
            now=forbear.now(),
            today=today_in(forbear),
            status=status,
            channel=channel,
            borrower_id=borrower,
            limit=limit,
        )
    table = Table("id", "loan", "channel", "template", "status", "tries", "due", "sent", "reason")
    for i in items:
        table.add_row(
            str(i.id),
            str(i.loan_id),
            i.channel,
            i.template or i.article or "",
            i.status,
            str(i.tries),
            i.due_at.isoformat(timespec="minutes"),
            i.sent_at.isoformat(timespec="minutes") if i.sent_at else "",
            ", ".join(i.reason_rules) or (i.last_error or ""),
        )
    out.print(table if items else "no messages")


@outbox_app.command("retry")
def retry(
    ids: Annotated[list[int], typer.Argument(help="outbox message ids (dead or failed)")],
    actor: ActorOption = "",
) -> None:
    """Put dead or failed messages back in the queue (checked again when sent)."""
    from forbear.services.outreach import outbox

    forbear = open_app()
    with forbear.transaction() as conn:
        for outbox_id in ids:
            outbox.retry(
                conn, _operator(actor), outbox_id, now=forbear.now(), today=today_in(forbear)
            )
    out.print(f"{len(ids)} message(s) queued again")


@outbox_app.command("cancel")
def cancel(
    ids: Annotated[list[int], typer.Argument(help="outbox message ids (queued)")],
    actor: ActorOption = "",
) -> None:
    """Cancel queued messages (reason OUTBOX.MANUAL)."""
    from forbear.services.outreach import outbox

    forbear = open_app()
    with forbear.transaction() as conn:
        for outbox_id in ids:
            outbox.cancel(
                conn, _operator(actor), outbox_id, now=forbear.now(), today=today_in(forbear)
            )
    out.print(f"{len(ids)} message(s) cancelled")
