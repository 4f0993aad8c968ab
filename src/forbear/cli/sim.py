"""``forbear sim``: the borrower behaviour simulator: check its parameter file, calibrate it from the lender's history."""

from __future__ import annotations

import typer

app = typer.Typer(help="The borrower behaviour simulator: check its parameter file, calibrate it from the lender's history.", no_args_is_help=True)
