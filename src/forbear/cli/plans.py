"""``forbear plan``: repayment plans (还款计划): offer, accept, cancel, list, show, survival.

Loans are named by the lender's own loan number (``external_ref``). Nothing personal is
printed: plans show loan numbers and amounts only. Each command is one transaction; a
refusal (beyond the role's authority, a second open plan, a paid-off, written-off or
legally closed loan, a dispute hold, ...) is one line on stderr and changes nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from forbear.cli.common import cli_actor, console, open_app, parse_date, today_in

if TYPE_CHECKING:
    from forbear.bootstrap import Forbear

app = typer.Typer(help="Repayment plans: offer, accept, cancel, list, show, survival.")

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="business date YYYY-MM-DD (default: today)")
]


def _day(forbear: Forbear, text: str | None) -> date:
    return parse_date(text, "--as-of") if text is not None else today_in(forbear)


def _money(fen: int) -> str:
    from forbear.domain.money import format_yuan

    return format_yuan(fen)


@app.command("offer")
def offer(
    loan_ref: Annotated[str, typer.Argument(help="the lender's loan number")],
    plan_type: Annotated[
        str, typer.Option("--type", help="deferral, restructure, settlement or hardship")
    ],
    role: Annotated[str, typer.Option("--role", help="agent or supervisor: whose authority")],
    months: Annotated[
        int, typer.Option("--months", help="deferral: months to defer; hardship: months reduced")
    ] = 0,
    instalments: Annotated[
        int, typer.Option("--instalments", help="restructure: number of new instalments")
    ] = 0,
    waive_penalty: Annotated[
        int, typer.Option("--waive-penalty", help="restructure: % of the penalty waived")
    ] = 0,
    discount: Annotated[
        int, typer.Option("--discount", help="settlement: % discount on the payoff")
    ] = 0,
    payment_share: Annotated[
        int, typer.Option("--payment-share", help="hardship: reduced payment, % of the usual")
    ] = 0,
    income: Annotated[
        str | None, typer.Option("--income", help="stated monthly income, yuan")
    ] = None,
    expenses: Annotated[
        str | None, typer.Option("--expenses", help="stated monthly expenses, yuan")
    ] = None,
    as_of: AsOf = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="the lender's plan policy file (YAML)")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="store the offer (default: preview)")
    ] = False,
) -> None:
    """Compute a plan for a loan and show it; with --save, store it as offered."""
    from forbear.domain.errors import ValidationError
    from forbear.domain.money import parse_yuan
    from forbear.domain.plans import PlanRequest, PlanType
    from forbear.services import plans
    from forbear.services.contacts import loan_id_for_ref

    try:
        kind = PlanType(plan_type)
    except ValueError:
        allowed = ", ".join(t.value for t in PlanType)
        raise ValidationError("--type", f"one of {allowed} (got {plan_type!r})") from None
    if (income is None) != (expenses is None):
        raise ValidationError("--income", "give --income and --expenses together")
    request = PlanRequest(
        kind,
        months=months,
        instalments=instalments,
        waive_penalty_pct=waive_penalty,
        discount_pct=discount,
        payment_share_pct=payment_share,
    )
    loaded = plans.load_policy(policy)
    income_fen = parse_yuan(income, field="--income") if income is not None else None
    expenses_fen = parse_yuan(expenses, field="--expenses") if expenses is not None else None
    forbear = open_app()
    day = _day(forbear, as_of)
    with forbear.transaction() as conn:
        result = plans.offer_plan(
            conn,
            loan_id=loan_id_for_ref(conn, loan_ref),
            request=request,
            role=role,
            as_of=day,
            actor=cli_actor(),
            income=income_fen,
            expenses=expenses_fen,
            policy=loaded,
            save=save,
        )
    _print_offer(result)


def _print_offer(result: object) -> None:
    from rich.table import Table

    from forbear.services.plans import OfferResult

    assert isinstance(result, OfferResult)
    offer, pos = result.offer, result.position
    console.print(
        f"[bold]{offer.plan_type.label_zh} {offer.plan_type.label_en}[/] · 贷款 loan "
        f"{result.loan_ref} · 基准日 as of {offer.base_date.isoformat()} · 逾期天数 dpd "
        f"{pos.dpd} · 风险等级 tier {result.tier or '-'} · 权限 role {result.role}",
        highlight=False,
    )
    table = Table(show_lines=False)
    for head in (
        "期次 No.",
        "类型 Kind",
        "到期日 Due",
        "本金 Principal",
        "利息 Interest",
        "费用 Fees",
        "罚息 Penalty",
        "合计 Total",
    ):
        table.add_column(head, justify="right" if head[0] not in "类到" else "left")
    for line in offer.lines:
        kind = "计划 plan" if line.kind.value == "plan" else "原合同 contract"
        table.add_row(
            str(line.seq),
            kind,
            line.due_date.isoformat(),
            _money(line.principal),
            _money(line.interest),
            _money(line.fee),
            _money(line.penalty),
            _money(line.total),
        )
    console.print(table)
    summary = [
        ("应还合计 Owed on the base date", offer.covered.total),
        ("新增利息 Interest added", offer.added_interest),
        ("减免罚息 Penalty waived", offer.waived.total),
        ("折扣 Discount", offer.discount.total),
        ("提前结清免收 Released by early payoff", offer.released.total),
        ("计划合计 Scheduled", offer.scheduled.total),
    ]
    for label, fen in summary:
        if fen or label.startswith(("应还", "计划")):
            console.print(f"  {label}: ¥{_money(fen)}", highlight=False)
    afford = result.affordability
    console.print(
        f"  可负担性 Affordability: {afford.reason_zh} / {afford.reason_en}", highlight=False
    )
    for finding in result.findings:
        console.print(
            f"  [yellow]法务审核 legal review[/] {finding.rule_id}: {finding.message_zh} / "
            f"{finding.message_en}",
            highlight=False,
        )
    if result.plan_id is not None:
        expires = result.expires_on.isoformat() if result.expires_on else "-"
        console.print(
            f"[green]✓[/] 已保存计划 plan {result.plan_id} saved as offered; "
            f"有效期至 valid until {expires}",
            highlight=False,
        )
    else:
        console.print("  (预览 preview: nothing stored; --save stores the offer)", highlight=False)


@app.command("accept")
def accept(plan_id: int, as_of: AsOf = None) -> None:
    """Record that the borrower accepted an offered plan; it governs the loan from that day."""
    from forbear.services import plans

    forbear = open_app()
    day = _day(forbear, as_of)
    with forbear.transaction() as conn:
        info = plans.accept_plan(conn, plan_id, as_of=day, actor=cli_actor())
    start = info.start_date.isoformat() if info.start_date else "-"
    console.print(
        f"[green]✓[/] plan {plan_id} ({info.loan_ref}) 已接受 accepted; "
        f"governs the loan from {start} (active at the daily run)",
        highlight=False,
    )


@app.command("cancel")
def cancel(
    plan_id: int,
    as_of: AsOf = None,
    reason: Annotated[str | None, typer.Option("--reason", help="no personal data")] = None,
    approved_by: Annotated[
        str | None,
        typer.Option(
            "--approved-by",
            help="the staff username whose role holds plan.approve (needed to cancel an "
            "accepted or active plan)",
        ),
    ] = None,
) -> None:
    """Cancel an offered, accepted or active plan (the contract schedule applies again).

    An accepted or active plan is cancelled only on the approval of a staff member whose
    role holds plan.approve (--approved-by USERNAME), as on the web."""
    from forbear.domain.access import Actor
    from forbear.domain.errors import PermissionDenied, ValidationError
    from forbear.services import plans
    from forbear.services.plans import desk

    forbear = open_app()
    day = _day(forbear, as_of)
    try:
        with forbear.transaction() as conn:
            actor = (
                desk.approver(conn, approved_by, acting=cli_actor())
                if approved_by is not None
                else Actor(name=cli_actor())
            )
            info = plans.cancel_plan(
                conn, plan_id, as_of=day, actor=actor, reason=reason, vault=forbear.vault
            )
    except PermissionDenied:
        if approved_by is not None:
            raise
        raise ValidationError(
            "--approved-by",
            "an accepted or active plan is cancelled only with the approval of a staff "
            "member whose role holds plan.approve: name them with --approved-by USERNAME",
        ) from None
    console.print(
        f"[green]✓[/] plan {plan_id} ({info.loan_ref}) 已取消 cancelled on {day.isoformat()}",
        highlight=False,
    )


@app.command("list")
def list_(
    loan: Annotated[str | None, typer.Option("--loan", help="the lender's loan number")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="offered, accepted, active, completed, broken, ..."),
    ] = None,
) -> None:
    """List plans, newest last."""
    from rich.table import Table

    from forbear.services import plans
    from forbear.services.contacts import loan_id_for_ref

    forbear = open_app()
    with forbear.transaction() as conn:
        loan_id = loan_id_for_ref(conn, loan) if loan is not None else None
        rows = plans.list_plans(conn, loan_id=loan_id, status=status)
    if not rows:
        console.print("no plans")
        return
    table = Table()
    table.add_column("计划 Plan", justify="right")
    table.add_column("贷款 Loan", no_wrap=True)
    table.add_column("类型 Type", no_wrap=True)
    table.add_column("状态 Status", no_wrap=True)
    table.add_column("基准日 As of", no_wrap=True)
    table.add_column("开始 Start", no_wrap=True)
    table.add_column("结束 Ended", no_wrap=True)
    table.add_column("计划合计 Scheduled", justify="right")
    table.add_column("权限 Role")
    for p in rows:
        table.add_row(
            str(p.id),
            p.loan_ref,
            f"{p.plan_type.label_zh} {p.plan_type.value}",
            f"{p.status.label_zh} {p.status.value}",
            p.base_date.isoformat(),
            p.start_date.isoformat() if p.start_date else "-",
            p.ended_on.isoformat() if p.ended_on else "-",
            _money(p.scheduled),
            p.role,
        )
    console.print(table)


@app.command("show")
def show(plan_id: int) -> None:
    """A plan's schedule and status."""
    from rich.table import Table

    from forbear.services import plans

    forbear = open_app()
    with forbear.transaction() as conn:
        info = plans.get_plan(conn, plan_id)
        lines = plans.plan_lines(conn, plan_id)
    console.print(
        f"[bold]plan {info.id}[/] · {info.plan_type.label_zh} {info.plan_type.value} · "
        f"loan {info.loan_ref} · {info.status.label_zh} {info.status.value}",
        highlight=False,
    )
    asked = ", ".join(
        f"{key} {value}"
        for key, value in info.terms.items()
        if key
        in ("months", "instalments", "waive_penalty_pct", "discount_pct", "payment_share_pct")
    )
    console.print(
        f"  条件 terms: {asked} · 基准日 as of {info.base_date.isoformat()} · 有效期至 valid "
        f"until {info.expires_on.isoformat()} · 开始 start "
        f"{info.start_date.isoformat() if info.start_date else '-'} · 结束 ended "
        f"{info.ended_on.isoformat() if info.ended_on else '-'}",
        highlight=False,
    )
    console.print(
        f"  计划合计 scheduled ¥{_money(info.scheduled)} · 减免 waived ¥{_money(info.waived)} · "
        f"折扣 discount ¥{_money(info.discount)}",
        highlight=False,
    )
    for finding in info.findings:
        console.print(
            f"  [yellow]法务审核 legal review[/] {finding.get('rule_id')}: {finding.get('code')}",
            highlight=False,
        )
    table = Table()
    for head in ("期次 No.", "类型 Kind", "到期日 Due", "合计 Total"):
        table.add_column(head)
    for line in lines:
        table.add_row(str(line.seq), line.kind.value, line.due_date.isoformat(), _money(line.total))
    console.print(table)


@app.command("update")
def update(as_of: AsOf = None) -> None:
    """The plans' part of the daily run for a date: expire, activate, complete, break."""
    from forbear.services import plans

    forbear = open_app()
    day = _day(forbear, as_of)
    with forbear.transaction() as conn:
        counts = plans.daily_update(conn, day, actor="system:daily-run")
    console.print(
        f"[green]✓[/] plans {day.isoformat()}: "
        + ", ".join(f"{name} {value}" for name, value in counts.items()),
        highlight=False,
    )


@app.command("survival")
def survival(as_of: AsOf = None) -> None:
    """Share of plans still performing (or completed) 3 and 6 months after they started."""
    from rich.table import Table

    from forbear.domain.plans import PlanType
    from forbear.services import plans

    forbear = open_app()
    day = _day(forbear, as_of)
    with forbear.transaction() as conn:
        figures = plans.survival(conn, day)
    table = Table(title=f"计划存续 Plan survival as of {day.isoformat()}")
    for head in ("类型 Type", "已开始 Started", "3个月 3 months", "6个月 6 months"):
        table.add_column(head)

    def share(eligible: int, alive: int) -> str:
        if eligible == 0:
            return "-"
        return f"{100 * alive / eligible:.0f}% ({alive}/{eligible})"

    for row in figures.iter_rows(named=True):
        kind = PlanType(row["plan_type"])
        table.add_row(
            f"{kind.label_zh} {kind.value}",
            str(row["started"]),
            share(row["eligible_3m"], row["performing_3m"]),
            share(row["eligible_6m"], row["performing_6m"]),
        )
    console.print(table)
