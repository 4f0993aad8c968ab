"""``forbear serve`` and ``forbear staff``: the web app and its staff accounts."""

from __future__ import annotations

import typer

app = typer.Typer(help="Staff accounts of the web app: add, list, disable.")
