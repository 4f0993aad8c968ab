"""``forbear lab``: the strategy lab: run strategies against the borrower simulator, compare them, search for a better one."""

from __future__ import annotations

import typer

app = typer.Typer(help="The strategy lab: run strategies against the borrower simulator, compare them, search for a better one.", no_args_is_help=True)
