"""``forbear promise``: Promises to pay: add, list."""

from __future__ import annotations

import typer

app = typer.Typer(help="Promises to pay: add, list.")
