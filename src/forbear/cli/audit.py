"""``forbear audit``: the audit trail: verify its hash chain, show events."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import EXIT_ERROR, console, err, open_app

app = typer.Typer(help="The audit trail: verify its hash chain, show events.")


@app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain: edited, deleted or inserted events are listed."""
    from rich.markup import escape

    from forbear.services import audit

    forbear = open_app()
    with forbear.transaction() as conn:
        result = audit.verify(conn)
    if result.ok:
        console.print(
            f"[green]✓[/] {result.checked} events, chain intact (head {result.head_hash[:16]})"
        )
        return
    for problem in result.problems:
        err.print(f"[red]✗[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    err.print(
        f"[red]error:[/] audit chain broken: {len(result.problems)} problem(s) "
        f"in {result.checked} events, first at seq {result.first_broken_seq}",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_ERROR)


@app.command("show")
def audit_show(
    action: Annotated[
        str | None, typer.Option("--action", help="only this action, e.g. model.activate")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="how many, newest first")] = 50,
) -> None:
    """The newest audit events (ids only: the trail holds no personal data)."""
    from forbear.services import audit

    forbear = open_app()
    with forbear.transaction() as conn:
        rows = audit.recent_events(conn, action=action, limit=limit)
    table = Table(title="Audit trail 审计记录")
    for name in ("Seq", "At (UTC)", "Actor", "Action", "Subject", "Payload"):
        table.add_column(name)
    for e in rows:
        table.add_row(
            str(e.seq),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            f"{e.subject_type} {e.subject_id}",
            audit.payload_text(e),
        )
    console.print(table)
