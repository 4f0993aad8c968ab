"""``forbear book``: account states and roll rates of the book."""

from __future__ import annotations

from typing import Annotated

import typer

from forbear.cli.common import console, open_app, parse_date
from forbear.cli.reports import bucket_table, roll_table

app = typer.Typer(help="Account states and roll rates of the book.")


@app.command("state")
def book_state(
    as_of: Annotated[str, typer.Option("--as-of", help="business date YYYY-MM-DD")],
) -> None:
    """Compute and store every account's state (days past due, bucket, balances) for a date."""
    from forbear.services import book

    day = parse_date(as_of, "--as-of")
    forbear = open_app()
    with forbear.transaction() as conn:
        result = book.compute_states(conn, day)
    console.print(bucket_table(result.summary(), f"Book as of {day} 截至 {day} 的账户状态"))
    console.print(f"[green]✓[/] stored {result.states.height:,} account states for {day}")


@app.command("roll-rates")
def book_roll_rates(
    start: Annotated[str, typer.Option("--from", help="first snapshot date YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="second snapshot date YYYY-MM-DD")],
    by_balance: Annotated[
        bool, typer.Option("--by-balance", help="weight by outstanding principal")
    ] = False,
) -> None:
    """Print the bucket transition (roll-rate) matrix between two dates."""
    from forbear.services import book

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    forbear = open_app()
    with forbear.transaction() as conn:
        matrix = book.roll_rate_matrix(conn, first, last, by_balance=by_balance)
    weight = "balance" if by_balance else "accounts"
    console.print(roll_table(matrix, f"Roll rates 迁徙率 {first} → {last} (by {weight})"))
