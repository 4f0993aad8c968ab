"""``forbear legal``: Legal escalation: review queue, cases, documents."""

from __future__ import annotations

import typer

app = typer.Typer(help="Legal escalation: review queue, cases, documents.")
