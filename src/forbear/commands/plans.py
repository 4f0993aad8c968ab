"""``forbear plan``: Repayment plans: offer, accept, list."""

from __future__ import annotations

import typer

app = typer.Typer(help="Repayment plans: offer, accept, list.")
