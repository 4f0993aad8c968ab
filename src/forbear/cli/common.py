"""What every command of :mod:`forbear.cli` uses: the consoles, exit codes, opening the
application, the actor recorded in the audit trail, dates, money, and how an error is
printed. Command modules import from here and never from each other.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from forbear.bootstrap import Forbear, bootstrap
from forbear.domain.errors import ForbearError, ImportRejected, ValidationError
from forbear.domain.money import format_yuan

# Rich assumes 80 columns when output is not a terminal; reports are wider than that.
console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

EXIT_ERROR = 1
EXIT_REJECTED = 2
EXIT_INTERRUPTED = 130

Actor = Annotated[
    str,
    typer.Option("--actor", help="who runs this, for the audit trail (default: $USER)"),
]


def open_app() -> Forbear:
    """The application (settings, database, keys) the command works on."""
    return bootstrap()


def cli_actor() -> str:
    """The audit trail's actor for a command run by the current operating-system user."""
    import getpass

    return f"cli:{getpass.getuser()}"


def actor_or_default(actor: str) -> str:
    """``--actor`` if given, else :func:`cli_actor`."""
    return actor or cli_actor()


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(option, f"not a date (use YYYY-MM-DD): {text!r}") from None


def today_in(app_: Forbear) -> date:
    return app_.today()


def yuan(fen: int) -> str:
    return "¥" + format_yuan(fen)


def _is_usage_error(exc: BaseException) -> bool:
    """Click's usage errors (bad or missing options), recognised without importing the
    click that typer vendors privately: they carry ``format_message`` and ``exit_code``."""
    return callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code")


def _print_usage_error(exc: BaseException) -> None:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        console.print(ctx.get_help(), highlight=False)
        return
    where = ctx.command_path if ctx is not None else "forbear"
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    err.print(f"[red]error:[/] {message} (see `{where} --help`)", highlight=False, soft_wrap=True)


def report_error(exc: Exception) -> int:
    """Print one clear message for ``exc`` on stderr (never a traceback, never the data a
    driver quoted) and return the exit code. Re-raises a bug when FORBEAR_DEBUG is set."""
    if isinstance(exc, ImportRejected):
        err.print(
            f"[red]error:[/] {exc.source}: {len(exc.errors)} problem(s), nothing imported",
            soft_wrap=True,
        )
        for problem in exc.errors[:50]:
            err.print(f"  {problem}", highlight=False, markup=False)
        if len(exc.errors) > 50:
            err.print(
                f"  ... and {len(exc.errors) - 50} more (use --skip-bad to get them all in a file)"
            )
        return EXIT_REJECTED
    if isinstance(exc, ForbearError):
        # One line, whatever a driver put in its message.
        err.print(f"[red]error:[/] {' '.join(str(exc).split())}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    if _is_usage_error(exc):
        _print_usage_error(exc)
        return EXIT_REJECTED
    # A bug, not bad input. Its message may quote data (personal data included), so
    # only the type and the place are shown; FORBEAR_DEBUG=1 shows the traceback.
    if os.environ.get("FORBEAR_DEBUG"):
        raise exc
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    place = f"{Path(frame.filename).name}:{frame.lineno}"
    err.print(
        f"[red]internal error:[/] {type(exc).__name__} at {place} "
        "(nothing from the failed step was committed; FORBEAR_DEBUG=1 shows details)",
        highlight=False,
    )
    return EXIT_ERROR
