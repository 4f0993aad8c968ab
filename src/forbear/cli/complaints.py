"""``forbear complaint``: file, list, extend, approve, resolve and close complaints
(docs/complaints.md). Loans are named by the lender's own reference. The complaint's
description may hold personal data: it is never printed here (``list`` shows the loan
reference, category, status and the SLA clock).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from forbear.cli.common import cli_actor, console, open_app, today_in

app = typer.Typer(help="Complaints: file, list, extend, approve, resolve, close (SLA clock).")

CLOCK_STYLE = {"overdue": "red", "due_soon": "yellow", "on_track": "green", "answered": "dim"}


@app.command("add")
def complaint_add(
    loan_ref: Annotated[str, typer.Argument(help="the lender's loan reference")],
    category: Annotated[
        str,
        typer.Option(
            "--category", help="harassment, third_party, privacy, amount, attitude or other"
        ),
    ],
    text: Annotated[
        str,
        typer.Option("--text", help="what the complaint says; '-' reads it from stdin"),
    ],
    source: Annotated[
        str, typer.Option("--source", help="agent, regulator or portal")
    ] = "regulator",
    attempt: Annotated[
        list[int] | None, typer.Option("--attempt", help="a contact attempt it is about")
    ] = None,
) -> None:
    """File a complaint received now: puts the complaint hold on the account and starts
    the 15-day clock (CN.COMPLAINT.SLA)."""
    from datetime import UTC, datetime

    from forbear.services import complaints, loans
    from forbear.services.contacts import loan_id_for_ref

    description = sys.stdin.read() if text == "-" else text
    forbear = open_app()
    with forbear.transaction() as conn:
        loan_id = loan_id_for_ref(conn, loan_ref)
        borrower = loans.borrower_of(conn, loan_id)
        complaint_id = complaints.file_complaint(
            conn,
            forbear.vault,
            borrower_id=borrower,
            loan_id=loan_id,
            source=source,
            category=category,
            description=description,
            actor=cli_actor(),
            now=datetime.now(UTC),
            contact_attempt_ids=attempt or (),
        )
        view = complaints.get_complaint(conn, forbear.vault, complaint_id, as_of=today_in(forbear))
    console.print(
        f"[green]✓[/] complaint {complaint_id} on {loan_ref} ({view.category}, {view.source}): "
        f"answer by {view.due_on} 已登记投诉，答复期限 {view.due_on}",
        highlight=False,
    )


@app.command("list")
def complaint_list(
    open_only: Annotated[bool, typer.Option("--open", help="only those not yet answered")] = False,
    status: Annotated[str | None, typer.Option("--status", help="one status")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 200,
) -> None:
    """The complaints queue: overdue first, then due soon, with the SLA clock."""
    from rich.table import Table

    from forbear.services import complaints, loans

    forbear = open_app()
    day = today_in(forbear)
    with forbear.transaction() as conn:
        frame = complaints.list_complaints(
            conn, as_of=day, status=status, open_only=open_only, limit=limit
        )
        ids = [i for i in frame["loan_id"].to_list() if i is not None]
        refs = loans.external_refs(conn, ids)
    if frame.is_empty():
        console.print("No complaints 无投诉")
        return
    table = Table(title=f"Complaints 投诉 ({day}, CN.COMPLAINT.SLA)")
    for name in (
        "ID",
        "Loan 借据",
        "Category 类别",
        "Source 来源",
        "Status 状态",
        "Received 受理",
        "Due 期限",
        "Clock 时限",
    ):
        table.add_column(name, justify="right" if name == "ID" else "left")
    for row in frame.iter_rows(named=True):
        left = row["days_left"]
        if row["urgency"] == "answered":
            clock = f"answered {row['resolved_on']}"
        elif left < 0:
            clock = f"{-left} day(s) overdue 已逾期"
        else:
            clock = f"{left} day(s) left 剩余"
        table.add_row(
            str(row["complaint_id"]),
            refs.get(row["loan_id"], "-"),
            row["category"],
            row["source"],
            row["status"],
            row["received_on"].isoformat(),
            row["due_on"].isoformat(),
            f"[{CLOCK_STYLE[row['urgency']]}]{clock}[/]",
        )
    console.print(table)


@app.command("extend")
def complaint_extend(
    complaint_id: Annotated[int, typer.Argument(help="the complaint id")],
    reason: Annotated[str, typer.Option("--reason", help="why more time is needed")],
) -> None:
    """Extend the deadline to 30 days from receipt."""
    from datetime import UTC, datetime

    from forbear.services import complaints

    forbear = open_app()
    with forbear.transaction() as conn:
        due = complaints.extend(
            conn,
            forbear.vault,
            complaint_id,
            reason=reason,
            actor=cli_actor(),
            now=datetime.now(UTC),
        )
    console.print(f"[green]✓[/] complaint {complaint_id}: answer by {due} 已延期", highlight=False)


@app.command("approve")
def complaint_approve(
    complaint_id: Annotated[int, typer.Argument(help="the complaint id")],
) -> None:
    """Approve a further 30 days (not by whoever extended it)."""
    from datetime import UTC, datetime

    from forbear.services import complaints

    with open_app().transaction() as conn:
        due = complaints.approve_extension(
            conn, complaint_id, actor=cli_actor(), now=datetime.now(UTC)
        )
    console.print(
        f"[green]✓[/] complaint {complaint_id}: answer by {due} 已批准再延期", highlight=False
    )


@app.command("resolve")
def complaint_resolve(
    complaint_id: Annotated[int, typer.Argument(help="the complaint id")],
    resolution: Annotated[str, typer.Option("--resolution", help="what was done")],
    root_cause: Annotated[
        str,
        typer.Option(
            "--root-cause",
            help="agent_conduct, contact_rules, data_error, process, product, no_fault, other",
        ),
    ],
) -> None:
    """Answer the complaint; releases its contact hold."""
    from datetime import UTC, datetime

    from forbear.domain.errors import ValidationError
    from forbear.services import complaints

    try:
        forbear = open_app()
        with forbear.transaction() as conn:
            complaints.resolve(
                conn,
                forbear.vault,
                complaint_id,
                resolution=resolution,
                root_cause=root_cause,
                actor=cli_actor(),
                now=datetime.now(UTC),
            )
    except ValidationError as exc:  # name the option the operator typed
        option = {"root_cause": "--root-cause", "resolution": "--resolution"}.get(exc.field)
        if option is None:
            raise
        raise ValidationError(option, exc.reason) from None
    console.print(f"[green]✓[/] complaint {complaint_id} resolved 已答复", highlight=False)


@app.command("close")
def complaint_close(
    complaint_id: Annotated[int, typer.Argument(help="the complaint id")],
) -> None:
    """Close a resolved complaint."""
    from datetime import UTC, datetime

    from forbear.services import complaints

    with open_app().transaction() as conn:
        complaints.close(conn, complaint_id, actor=cli_actor(), now=datetime.now(UTC))
    console.print(f"[green]✓[/] complaint {complaint_id} closed 已办结", highlight=False)
