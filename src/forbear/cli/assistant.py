"""``forbear assistant``: train the intent model, classify and evaluate message files, and
chat with the assistant on the terminal (issue 14)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The borrower assistant: train, classify, eval, chat.", no_args_is_help=True)
