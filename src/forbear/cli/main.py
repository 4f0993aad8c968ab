"""The ``forbear`` command: every command group, in the order ``forbear --help`` lists
them, and :func:`main`, which turns any error into one line on stderr and an exit code.
"""

from __future__ import annotations

import gc
import sys

import typer

from forbear.cli import (
    assistant,
    audit,
    book,
    complaints,
    contacts,
    database,
    demo,
    dispatch,
    experiments,
    imports,
    keys,
    lab,
    legal,
    lender,
    models,
    plans,
    privacy,
    promises,
    run,
    sim,
    staff,
    strategies,
    templates,
    worker,
)
from forbear.cli.common import EXIT_INTERRUPTED, err, report_error

app = typer.Typer(
    help="Forbear: compliance-first collections for consumer-finance lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo.demo)
app.command("keygen")(keys.keygen)
app.command("run")(run.run_cmd)
app.command("serve")(staff.serve)
app.command("dispatch")(dispatch.dispatch)
app.command("worker")(worker.worker_cmd)
app.add_typer(imports.app, name="import")
app.add_typer(book.app, name="book")
app.add_typer(models.app, name="model")
app.add_typer(database.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(strategies.app, name="strategy")
app.add_typer(lender.app, name="config")
app.add_typer(contacts.app, name="contact")
app.add_typer(contacts.explain_app, name="explain")
app.add_typer(keys.app, name="keys")
app.add_typer(privacy.retention_app, name="retention")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(templates.app, name="template")
app.add_typer(plans.app, name="plan")
app.add_typer(promises.app, name="promise")
app.add_typer(legal.app, name="legal")
app.add_typer(staff.app, name="staff")
app.add_typer(complaints.app, name="complaint")
app.add_typer(dispatch.outbox_app, name="outbox")
app.add_typer(assistant.app, name="assistant")
app.add_typer(experiments.app, name="experiment")
app.add_typer(lab.app, name="lab")
app.add_typer(sim.app, name="sim")


def main() -> None:
    """Run the command line; every command's writes are one transaction, so an error
    leaves stored data unchanged.

    The garbage collector leaves alone what exists before the command starts (the
    imported modules: collections no longer walk them) and what is left when it ends
    (the interpreter's last collection walked every object a long command left, about
    0.8 s after the 100,000-borrower run)."""
    gc.freeze()
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        err.print("aborted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        err.print("interrupted: nothing was committed by the step in progress")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        sys.exit(report_error(exc))
    finally:
        gc.freeze()
