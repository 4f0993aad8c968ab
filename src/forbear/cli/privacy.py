"""``forbear retention`` and ``forbear privacy``: retention of personal data and
data-subject requests (PIPL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import Actor, actor_or_default, console, open_app, parse_date

retention_app = typer.Typer(help="Retention of personal data (CN.RECORD.RETAIN).")
privacy_app = typer.Typer(help="Data-subject requests (PIPL): export what is held.")


@retention_app.command("purge")
def retention_purge(
    as_of: Annotated[str, typer.Option("--as-of", help="business date, YYYY-MM-DD")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count only, change nothing")] = False,
    actor: Actor = "",
) -> None:
    """Anonymise borrowers past retention: all loans closed, 3 years after last activity;
    forget sign-in attempts older than a day and unmask events older than two."""
    from forbear.services.retention import purge

    day = parse_date(as_of, "--as-of")
    forbear = open_app()
    with forbear.transaction() as conn:
        report = purge(
            conn,
            forbear.vault,
            as_of=day,
            actor=actor_or_default(actor),
            now=forbear.now(),
            dry_run=dry_run,
        )
    title = f"Retention purge as of {day}" + (" (dry run: nothing changed)" if dry_run else "")
    table = Table(title=title)
    table.add_column("Table")
    table.add_column("Rows anonymised or deleted", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)


@privacy_app.command("export")
def privacy_export(
    borrower_ref: Annotated[str, typer.Argument(help="the borrower's external reference")],
    to: Annotated[Path, typer.Option("--to", help="the JSON file to write")],
    purpose: Annotated[str, typer.Option("--purpose", help="must be privacy_request")] = "",
    role: Annotated[str, typer.Option("--role", help="the operator's role")] = "",
    actor: Actor = "",
) -> None:
    """Everything held about one borrower, decrypted, for a PIPL access request (audited)."""
    import json

    from forbear.domain.errors import PermissionDenied
    from forbear.services.files import write_personal_data
    from forbear.services.privacy import export_borrower

    if not purpose or not role:
        raise PermissionDenied(role or "(none)", "privacy.export", purpose or None)
    forbear = open_app()
    with forbear.transaction() as conn:
        data = export_borrower(
            conn,
            forbear.vault,
            actor=actor_or_default(actor),
            role=role,
            borrower_ref=borrower_ref,
            purpose=purpose,
        )
        # Written inside the transaction: if the file cannot be written, the audit
        # event is rolled back with it.
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        write_personal_data(to, text.encode("utf-8"))  # 0600 even over an existing file
    console.print(f"wrote {to} (mode 0600: it holds personal data in clear)")
