"""``forbear import``: the lender's book (products, loans, payments) from files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forbear.cli.common import console, open_app

app = typer.Typer(help="Import the lender's book (products, loans, payments).")

SkipBad = Annotated[
    bool, typer.Option("--skip-bad", help="import the good rows, write the bad ones to a file")
]
Rejects = Annotated[
    Path | None, typer.Option("--rejects", help="where --skip-bad writes rejected rows")
]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="force the CSV encoding (default: detect)")
]


def _print_report(report: object) -> None:
    from forbear.services.imports import ImportReport

    assert isinstance(report, ImportReport)
    console.print(f"[green]✓[/] {report.summary()}")
    if report.rejects_file is not None:
        console.print(f"  rejected rows with reasons: {report.rejects_file}")


@app.command("products")
def import_products_cmd(file: Path) -> None:
    """Import product contract terms from a YAML file."""
    from forbear.services.imports import import_products, load_products_file

    products = load_products_file(file)
    forbear = open_app()
    with forbear.transaction() as conn:
        report = import_products(conn, products, file.name, effective_from=forbear.today())
    _print_report(report)


@app.command("loans")
def import_loans_cmd(
    file: Path, skip_bad: SkipBad = False, rejects: Rejects = None, encoding: Encoding = None
) -> None:
    """Import loans and their borrowers from CSV or Parquet (docs/import.md)."""
    from forbear.services.imports import import_loans

    forbear = open_app()
    with forbear.transaction() as conn:
        report = import_loans(
            conn,
            forbear.vault,
            file,
            skip_bad=skip_bad,
            rejects=rejects,
            encoding=encoding,
            now=forbear.now(),
        )
    _print_report(report)


@app.command("payments")
def import_payments_cmd(
    file: Path, skip_bad: SkipBad = False, rejects: Rejects = None, encoding: Encoding = None
) -> None:
    """Import payments from CSV or Parquet (docs/import.md)."""
    from forbear.services.imports import import_payments

    forbear = open_app()
    with forbear.transaction() as conn:
        report = import_payments(
            conn,
            file,
            zone=forbear.settings.lender_timezone,
            skip_bad=skip_bad,
            rejects=rejects,
            encoding=encoding,
            now=forbear.now(),
        )
    _print_report(report)
