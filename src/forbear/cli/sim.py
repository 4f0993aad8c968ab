"""``forbear sim``: the borrower behaviour simulator: check its parameter file, calibrate
it from the lender's history (:mod:`forbear.sim.borrowers`, docs/simulation.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import console, err, parse_date, today_in

app = typer.Typer(
    help=(
        "The borrower behaviour simulator: check its parameter file, calibrate it from the "
        "lender's history."
    ),
    no_args_is_help=True,
)


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="a parameter file (YAML)")],
) -> None:
    """Validate a parameter file: every parameter present, sourced, in bounds, with a range
    that holds its value. Exits non-zero with the file, key and reason otherwise."""
    from forbear.sim.borrowers import load_parameters

    params = load_parameters(file)
    kinds: dict[str, int] = {}
    for source in params.sources().values():
        kind = source.split(":")[0].split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    console.print(
        f"[green]✓[/] {file}: version {params.version}, {len(params.values)} parameters "
        f"({summary}) 参数文件有效",
        highlight=False,
    )


def _db_label(url: str) -> str:
    """The database named without host, user or password (it goes into the file)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = Path(parsed.database or "").name or "default"
    return f"{parsed.get_backend_name()}:{name}"


@app.command("calibrate")
def calibrate(
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL (default: the configured database)"),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the history's last day (default: today)")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=14, max=730, help="how many days of history to read")
    ] = 90,
    window: Annotated[
        int, typer.Option("--window", min=1, max=30, help="a payment within N days follows")
    ] = 3,
    params_file: Annotated[
        Path | None,
        typer.Option("--params", help="the parameter file to start from (default: shipped)"),
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="write the calibrated file here (default: stdout)")
    ] = None,
) -> None:
    """Fit the response model from stored contacts, promises, complaints and payments and
    write a parameter file whose fitted entries say ``calibrated (<db>, <dates>, n=...)``.
    Reads only."""
    from forbear.bootstrap import bootstrap, load_settings
    from forbear.sim.borrowers import load_parameters
    from forbear.sim.borrowers.calibrate import calibrate as fit

    base = load_parameters(params_file)
    settings = load_settings(database_url=db) if db else load_settings()
    app_ = bootstrap(settings)
    try:
        end = parse_date(as_of, "--as-of") if as_of else today_in(app_)
        start = end - timedelta(days=days)
        with app_.reading() as conn:
            result = fit(
                conn,
                base,
                start,
                end,
                db_label=_db_label(settings.resolved_database_url),
                window=window,
                zone=settings.lender_timezone,
            )
    finally:
        app_.close()
    text = result.params.to_yaml()
    if to is None:
        typer.echo(text, nl=False)
    else:
        to.write_text(text, encoding="utf-8")
    out = console if to is not None else err
    table = Table(title=f"Calibrated {start}..{end} 校准结果")
    for column in ("parameter", "shipped", "calibrated", "±2 s.e.", "n"):
        table.add_column(column, justify="left" if column == "parameter" else "right")
    for e in result.estimates:
        table.add_row(e.name, f"{base[e.name]:.4g}", f"{e.value:.4g}", f"{2 * e.se:.2g}", str(e.n))
    out.print(table)
    for note in result.notes:
        out.print(f"  {note}", highlight=False)
    if to is not None:
        out.print(f"[green]✓[/] wrote {to} ({len(result.estimates)} entries calibrated)")
