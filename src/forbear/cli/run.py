"""``forbear run``: the daily run."""

from __future__ import annotations

from typing import Annotated

import typer

from forbear.cli.common import open_app, parse_date
from forbear.cli.reports import print_run_summary


def run_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="business date YYYY-MM-DD")],
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local, or spark (forbear[spark] and Java 17+; docs/scale.md)"
        ),
    ] = "local",
) -> None:
    """The daily run: states, scores, strategy, gate, capacity; decisions, queues, outbox."""
    from forbear.batch.daily import run_day_phased

    day = parse_date(as_of, "--as-of")
    forbear = open_app()
    result = run_day_phased(
        forbear.engine,
        day,
        data_dir=forbear.settings.data_dir,
        engine=engine,
        clock=forbear.clock,
    )
    print_run_summary(result.summary, day)
