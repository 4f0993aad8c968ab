"""``forbear db``: the database schema (upgrade, status) and moving to PostgreSQL (copy)."""

from __future__ import annotations

from typing import Annotated

import typer

from forbear.bootstrap import load_settings
from forbear.cli.common import console

app = typer.Typer(help="Database schema.")


@app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to the version this release ships."""
    from forbear.services import database

    status = database.upgrade(load_settings().resolved_database_url)
    console.print(f"[green]✓[/] {status.url} at revision {status.current}")


@app.command("status")
def db_status() -> None:
    """Show the schema revision of the database and whether it is current."""
    from forbear.services import database

    status = database.schema_status(load_settings().resolved_database_url)
    state = "[green]current[/]" if status.up_to_date else "[yellow]needs `forbear db upgrade`[/]"
    console.print(f"{status.url}: revision {status.current} (shipped: {status.shipped}) {state}")


@app.command("copy")
def db_copy(
    to: Annotated[str, typer.Option("--to", help="an empty PostgreSQL database: postgresql://...")],
) -> None:
    """Copy the whole database into an empty PostgreSQL one, in one transaction, and verify
    it (row counts, audit chain). Stop the web app and jobs first (docs/database.md)."""
    from forbear.services import database

    report = database.copy(load_settings().resolved_database_url, to)
    console.print(
        f"[green]✓[/] {report.total_rows:,} rows in {len(report.rows)} tables copied to "
        f"{report.target} (revision {report.revision}) in {report.seconds:.1f} s; "
        f"{report.sequences_reset} sequences reset; audit chain verified: "
        f"{report.audit_events:,} events, head {report.audit_head[:16]}",
        highlight=False,
    )
    console.print(f"Next: set FORBEAR_DATABASE_URL={report.target} (with its password)")
