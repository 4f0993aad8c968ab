"""``forbear legal``: Legal escalation: review queue, cases, documents (docs/legal.md).

Every command is one transaction: a refusal (bad input, a backwards move, a role without
``legal.manage``) prints one line and changes nothing. The operator is recorded as
``cli:<login>``; ``--role`` is the operator's role, checked against the roles file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forbear.cli.common import cli_actor, console, open_app, parse_date, today_in, yuan

app = typer.Typer(help="Legal escalation: review queue, cases, documents.", no_args_is_help=True)
config_app = typer.Typer(help="The legal-escalation configuration (eligibility, letter).")
app.add_typer(config_app, name="config")

RoleOpt = Annotated[str, typer.Option("--role", help="the operator's role (legal)")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="business date YYYY-MM-DD (default: today)")
]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="date of the step YYYY-MM-DD (default: today)")
]


def _reasons_line(reasons: list[dict[str, object]]) -> str:
    from forbear.domain.legal.eligibility import summary

    return summary(reasons)


@app.command("queue")
def queue_cmd(
    as_of: AsOf = None,
    refresh: Annotated[
        bool, typer.Option("--refresh/--no-refresh", help="refresh the queue for the date first")
    ] = True,
) -> None:
    """The legal review queue: eligible accounts with the criteria that held."""
    from rich.table import Table

    from forbear.services import legal

    forbear = open_app()
    day = parse_date(as_of, "--as-of") if as_of is not None else today_in(forbear)
    with forbear.transaction() as conn:
        counts = legal.refresh_queue(conn, day, cli_actor(), now=forbear.now()) if refresh else None
        items = legal.queue(conn, day)
    if counts is not None:
        console.print(
            f"Legal review queue 法务审核队列 {day}: {counts['eligible']:,} eligible, "
            f"{counts['added']:,} added, {counts['removed']:,} removed, "
            f"{counts['queued']:,} waiting for review"
        )
    table = Table(title=f"Legal review queue 法务审核队列 ({len(items)})")
    for name in ("Entry", "Loan 借款", "Queued 入队", "Status 状态", "Case 案件", "Why 原因"):
        table.add_column(name)
    for item in items:
        table.add_row(
            str(item.entry_id),
            item.loan_ref,
            item.queued_on.isoformat(),
            item.status,
            "-" if item.case_id is None else f"{item.case_id} ({item.stage})",
            _reasons_line(item.reasons),
        )
    console.print(table)


@app.command("open")
def open_cmd(
    loan_ref: Annotated[str, typer.Argument(help="the lender's loan reference")],
    role: RoleOpt = "",
    date_: DateOpt = None,
) -> None:
    """Open a case (stage review) for a queued account."""
    from forbear.services import legal
    from forbear.services.contacts import loan_id_for_ref

    forbear = open_app()
    day = parse_date(date_, "--date") if date_ is not None else today_in(forbear)
    legal.require_permission(role)
    with forbear.transaction() as conn:
        case = legal.open_case(
            conn,
            loan_id_for_ref(conn, loan_ref),
            role=role,
            actor=cli_actor(),
            on=day,
            now=forbear.now(),
        )
    console.print(f"[green]✓[/] case {case.id} opened for {loan_ref}: stage review 法务审核")


@app.command("advance")
def advance_cmd(
    case_id: int,
    to: Annotated[
        str,
        typer.Option("--to", help="demand_letter, filed, judgment, enforcement, settled or closed"),
    ],
    role: RoleOpt = "",
    date_: DateOpt = None,
    court: Annotated[str | None, typer.Option("--court", help="the court (filing)")] = None,
    case_number: Annotated[
        str | None, typer.Option("--case-number", help="the court's case number 案号")
    ] = None,
    cost: Annotated[
        list[str] | None, typer.Option("--cost", help="kind=yuan, e.g. court_fee=1250 (repeat)")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why (closing)")] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="no personal data")] = None,
    evidence: Annotated[
        str | None,
        typer.Option(
            "--evidence",
            help="proof of delivery of the demand letter (needed for demand_letter): a "
            "tracking number (EA123456785CN, SF1234567890123) or receipt:REF;signed=YYYY-MM-DD",
        ),
    ] = None,
) -> None:
    """Move a case forward (never back) with its date, court, case number and costs."""
    from forbear.services import legal

    forbear = open_app()
    day = parse_date(date_, "--date") if date_ is not None else today_in(forbear)
    costs = legal.parse_costs(cost or [])
    with forbear.transaction() as conn:
        case = legal.advance(
            conn,
            case_id,
            to,
            role=role,
            actor=cli_actor(),
            on=day,
            court=court,
            case_number=case_number,
            costs=costs,
            notes=notes,
            reason=reason,
            evidence_ref=evidence,
            zone=forbear.settings.zone,
            vault=forbear.vault,
            now=forbear.now(),
        )
    console.print(
        f"[green]✓[/] case {case.id}: {case.stage.value} {case.stage.label_zh} on {day}; "
        f"costs so far {yuan(case.costs)}",
        highlight=False,
    )


@app.command("cost")
def cost_cmd(
    case_id: int,
    cost: Annotated[list[str], typer.Option("--cost", help="kind=yuan (repeat)")],
    role: RoleOpt = "",
    date_: DateOpt = None,
) -> None:
    """Record costs of a case at its current stage."""
    from forbear.services import legal

    forbear = open_app()
    day = parse_date(date_, "--date") if date_ is not None else today_in(forbear)
    costs = legal.parse_costs(cost)
    with forbear.transaction() as conn:
        case = legal.add_costs(
            conn, case_id, costs, role=role, actor=cli_actor(), on=day, now=forbear.now()
        )
    console.print(f"[green]✓[/] case {case.id}: costs so far {yuan(case.costs)}")


@app.command("demand")
def demand_cmd(
    case_id: int,
    evidence: Annotated[
        str,
        typer.Option(
            "--evidence",
            help="proof of delivery: a tracking number (EA123456785CN, SF1234567890123) or "
            "receipt:REF;signed=YYYY-MM-DD",
        ),
    ],
    role: RoleOpt = "",
    channel: Annotated[str, typer.Option("--channel", help="letter, visit, call, ...")] = "letter",
) -> None:
    """Log a further demand on a case with its proof (restarts the limitation period)."""
    from forbear.services import legal

    forbear = open_app()
    with forbear.transaction() as conn:
        demand_id = legal.record_demand(
            conn,
            case_id,
            role=role,
            actor=cli_actor(),
            at=forbear.now(),
            evidence_ref=evidence,
            channel=channel,
            today=forbear.today(),
        )
    console.print(f"[green]✓[/] demand {demand_id} logged on case {case_id}")


@app.command("cases")
def cases_cmd(
    all_: Annotated[bool, typer.Option("--all", help="ended cases too")] = False,
) -> None:
    """Legal cases with their stage, court, case number and costs."""
    from rich.table import Table

    from forbear.services import legal

    forbear = open_app()
    with forbear.transaction() as conn:
        cases = legal.list_cases(conn, open_only=not all_, vault=forbear.vault)
    table = Table(title=f"Legal cases 法务案件 ({len(cases)})")
    for name in (
        "Case",
        "Loan 借款",
        "Stage 阶段",
        "Since 日期",
        "Court 法院",
        "No. 案号",
        "Costs",
    ):
        table.add_column(name)
    for c in cases:
        table.add_row(
            str(c.id),
            c.loan_ref,
            f"{c.stage.value} {c.stage.label_zh}",
            c.stage_on.isoformat(),
            c.court or "-",
            c.case_number or "-",
            yuan(c.costs),
        )
    console.print(table)


@app.command("documents")
def documents_cmd(
    case_id: int,
    out: Annotated[Path, typer.Option("--out", help="the directory to write the files to")],
    role: RoleOpt = "",
    as_of: AsOf = None,
) -> None:
    """Write the demand letter (PDF) and the litigation package (PDF + CSV) of a case."""
    from forbear.domain.errors import ValidationError
    from forbear.services.documents.gather import case_documents
    from forbear.services.files import write_personal_data

    if out.exists() and not out.is_dir():
        raise ValidationError("--out", f"{out} is not a directory")
    forbear = open_app()
    day = parse_date(as_of, "--as-of") if as_of is not None else today_in(forbear)
    with forbear.transaction() as conn:
        docs = case_documents(
            conn,
            forbear.vault,
            case_id,
            role=role,
            actor=cli_actor(),
            as_of=day,
            now=forbear.now(),
        )
        # Written inside the transaction: if a file cannot be written, the record and the
        # audit events (unmasking included) are rolled back with it.
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, content in docs.files.items():
                write_personal_data(out / name, content)  # 0600 even over an existing file
        except OSError as exc:
            raise ValidationError("--out", f"cannot write to {out}: {exc.strerror}") from None
    for finding in docs.findings:
        console.print(
            f"[bold red]LEGAL REVIEW 须法务审核[/] {finding.rule_id}: {finding.message_zh} / "
            f"{finding.message_en}",
            highlight=False,
        )
    console.print(
        f"[green]✓[/] letter {docs.letter_no} and litigation package: {len(docs.files)} files "
        f"in {out} (mode 0600: personal data in clear); limitation date "
        f"{docs.limitation_date or '-'}",
        highlight=False,
    )


@app.command("limitation")
def limitation_cmd(
    as_of: AsOf = None,
    within: Annotated[
        int | None, typer.Option("--within", help="days (default: the configuration's)")
    ] = None,
) -> None:
    """Open cases and queued accounts whose limitation date is near or past."""
    from rich.table import Table

    from forbear.services import legal

    forbear = open_app()
    day = parse_date(as_of, "--as-of") if as_of is not None else today_in(forbear)
    with forbear.transaction() as conn:
        rows = legal.limitation_watch(conn, day, within)
    table = Table(title=f"Limitation 诉讼时效 as of {day} ({rows.height})")
    for name in ("Loan 借款", "Case 案件", "Stage 阶段", "Limitation date 时效届满", "Days left"):
        table.add_column(name)
    for r in rows.iter_rows(named=True):
        left = "[red]expired 已过[/]" if r["expired"] else str(r["days_left"])
        table.add_row(
            r["loan_ref"],
            "-" if r["case_id"] is None else str(r["case_id"]),
            r["stage"] or "queued",
            str(r["limitation_date"]),
            left,
        )
    console.print(table)


@config_app.command("check")
def config_check(file: Path) -> None:
    """Validate a legal configuration file (no looser than the defaults); store nothing."""
    from forbear.domain.legal.config import load_config

    load_config(_read(file), source=file.name)
    console.print(f"[green]✓[/] {file.name} is valid")


@config_app.command("set")
def config_set(file: Path) -> None:
    """Store a legal configuration as the new version in force (audited)."""
    from forbear.services import legal

    text = _read(file)
    forbear = open_app()
    with forbear.transaction() as conn:
        version = legal.set_config(
            conn, text, source=file.name, actor=cli_actor(), now=forbear.now()
        )
    console.print(f"[green]✓[/] legal configuration version {version} in force")


@config_app.command("show")
def config_show() -> None:
    """Print the configuration in force (the shipped defaults if none is stored)."""
    from forbear.domain.legal.config import default_text
    from forbear.services import legal

    forbear = open_app()
    with forbear.transaction() as conn:
        text = legal.current_config_text(conn)
    console.print(
        text if text is not None else default_text(), markup=False, highlight=False, soft_wrap=True
    )


def _read(file: Path) -> str:
    from forbear.domain.errors import ValidationError

    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("file", f"cannot read {file}: {exc}") from None
