"""``forbear experiment``: champion/challenger experiments: read out each arm against the champion and the hold-out control, promote a challenger."""

from __future__ import annotations

import typer

app = typer.Typer(help="Champion/challenger experiments: read out each arm against the champion and the hold-out control, promote a challenger.", no_args_is_help=True)
