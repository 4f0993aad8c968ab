"""``forbear strategy``: collection strategies: check, add, activate, list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import cli_actor, console, open_app, parse_date, today_in
from forbear.cli.reports import frame_table

app = typer.Typer(help="Collection strategies: check, add, activate, list.")


@app.command("check")
def strategy_check(
    file: Annotated[
        Path | None, typer.Argument(help="strategy YAML; default: the shipped one")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="book date; default today")] = None,
    max_blocked: Annotated[
        float,
        typer.Option("--max-blocked", help="largest share of planned contacts the gate may block"),
    ] = 0.3,
) -> None:
    """Run a strategy against the current book without writing anything."""
    from forbear.services import strategies

    forbear = open_app()
    day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
    with forbear.engine.connect() as conn:
        trans = conn.begin()
        try:
            report = strategies.check(conn, file, day, max_blocked_share=max_blocked)
        finally:
            trans.rollback()  # a check writes nothing, not even the states it computed
    console.print(
        frame_table(report.by_segment, f"{report.name} on {day}: accounts per segment 分群")
    )
    console.print(
        f"{report.actions:,} actions, {report.planned:,} contacts to the gate, "
        f"{report.blocked:,} blocked ({report.blocked_share:.1%})"
    )
    if report.blocked_by_rule.height:
        console.print(frame_table(report.blocked_by_rule, "Blocked by rule 合规拦截"))
    if report.unreached:
        console.print(
            f"[yellow]segments no account reaches 无账户进入:[/] {', '.join(report.unreached)}"
        )
    if report.overlaps.height:
        console.print(frame_table(report.overlaps, "Accounts two segments claim 分群重叠"))
    console.print("[green]✓[/] check passed")


@app.command("add")
def strategy_add(file: Path) -> None:
    """Store a strategy file as a new candidate version (validated first)."""
    from forbear.services import strategies

    forbear = open_app()
    with forbear.transaction() as conn:
        info = strategies.add_strategy(conn, file, actor=cli_actor(), now=forbear.now())
    console.print(f"[green]✓[/] stored strategy {info.id} ({info.name} v{info.version})")


@app.command("activate")
def strategy_activate(version_id: int) -> None:
    """Make a stored strategy version the active one (audited)."""
    from forbear.services import strategies

    forbear = open_app()
    with forbear.transaction() as conn:
        info = strategies.activate(conn, version_id, actor=cli_actor(), now=forbear.now())
    console.print(f"[green]✓[/] strategy {info.id} ({info.name} v{info.version}) is active")


@app.command("list")
def strategy_list() -> None:
    """Every stored strategy version and its status."""
    from forbear.services import strategies

    forbear = open_app()
    with forbear.transaction() as conn:
        rows = strategies.list_strategies(conn)
    table = Table(title="Strategies 策略")
    for name in ("ID", "Name", "Version", "Status", "Created (UTC)", "Activated (UTC)"):
        table.add_column(name)
    for s in rows:
        table.add_row(
            str(s.id),
            s.name,
            str(s.version),
            s.status,
            s.created_at.strftime("%Y-%m-%d %H:%M"),
            s.activated_at.strftime("%Y-%m-%d %H:%M") if s.activated_at else "",
        )
    console.print(table)
    if not rows:
        console.print(
            "no stored strategy: the shipped CN default is in force "
            "(`forbear strategy show-default`)"
        )


@app.command("show-default")
def strategy_show_default() -> None:
    """Print the shipped friendly-first CN strategy (a starting point for your own)."""
    from forbear.domain.strategy import default_text

    console.print(default_text(), highlight=False, markup=False)
