"""``forbear promise``: promises to pay: add, list, cancel, update, rates (docs/promises.md).

Amounts are typed in yuan (``1234.56``; more than two decimals is refused, never rounded),
dates as ``YYYY-MM-DD`` business dates. Loans are named by the lender's own reference.
Nothing personal is printed: promises are shown with the loan reference, amounts and dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated

import typer

from forbear.cli.common import cli_actor, console, open_app, parse_date, today_in, yuan

if TYPE_CHECKING:
    from forbear.bootstrap import Forbear

app = typer.Typer(help="Promises to pay: add, list, cancel; decide them; kept rates.")

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="business date YYYY-MM-DD (default: today)")
]


def _business_day(forbear: Forbear, text: str | None) -> tuple[date, datetime | None]:
    """The business date, and the moment to record as taken: now for today, the start of
    the day (lender's zone) for another date, so every payment of that day counts."""

    today = today_in(forbear)
    day = parse_date(text, "--as-of") if text is not None else today
    if day == today:
        return day, None
    return day, datetime.combine(day, time(0, 0), forbear.settings.zone).astimezone(UTC)


# The service's field names, as the options of ``promise add``.
OPTIONS = {
    "amount": "--amount",
    "promised_on": "--date",
    "source": "--source",
    "contact_attempt_id": "--attempt",
    "as_of": "--as-of",
}


@app.command("add")
def promise_add(
    loan_ref: Annotated[str, typer.Argument(help="the lender's loan reference")],
    amount: Annotated[str, typer.Option("--amount", help="yuan, e.g. 1234.56")],
    promised: Annotated[str, typer.Option("--date", help="promised date YYYY-MM-DD")],
    source: Annotated[
        str, typer.Option("--source", help="agent, portal, assistant or import")
    ] = "agent",
    replace: Annotated[
        bool, typer.Option("--replace", help="supersede the loan's open promise (audited)")
    ] = False,
    attempt: Annotated[
        int | None, typer.Option("--attempt", help="the contact attempt it was made in")
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Record a promise to pay an amount by a date."""
    from forbear.domain.errors import ValidationError
    from forbear.domain.money import parse_yuan
    from forbear.services import promises
    from forbear.services.contacts import loan_id_for_ref

    fen = parse_yuan(amount, field="--amount")
    promised_on = parse_date(promised, "--date")
    forbear = open_app()
    day, taken_at = _business_day(forbear, as_of)
    try:
        with forbear.transaction() as conn:
            promise_id = promises.add_promise(
                conn,
                loan_id=loan_id_for_ref(conn, loan_ref),
                amount=fen,
                promised_on=promised_on,
                source=source,
                actor=cli_actor(),
                as_of=day,
                contact_attempt_id=attempt,
                replace=replace,
                taken_at=taken_at,
            )
    except ValidationError as exc:  # name the option the operator typed
        if exc.field not in OPTIONS:
            raise
        raise ValidationError(OPTIONS[exc.field], exc.reason) from None
    console.print(
        f"[green]✓[/] promise {promise_id} on {loan_ref}: {yuan(fen)} by {promised_on} "
        f"({source}) 已记录承诺还款",
        highlight=False,
    )


@app.command("list")
def promise_list(
    loan: Annotated[str | None, typer.Option("--loan", help="one loan's reference")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="open, kept, partly_kept, broken or cancelled"),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="only promises taken by this date")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 200,
) -> None:
    """Promises, newest first."""
    from rich.table import Table

    from forbear.services import promises
    from forbear.services.contacts import loan_id_for_ref

    day = parse_date(as_of, "--as-of") if as_of is not None else None
    forbear = open_app()
    with forbear.transaction() as conn:
        loan_id = loan_id_for_ref(conn, loan) if loan is not None else None
        frame = promises.list_promises(conn, loan_id=loan_id, status=status, as_of=day, limit=limit)
    if frame.is_empty():
        console.print("No promises 无承诺记录")
        return
    table = Table(title="Promises to pay 承诺还款")
    for name in (
        "ID",
        "Loan 借据",
        "Source 来源",
        "Amount 金额",
        "Promised 承诺日",
        "Status 状态",
        "Paid 已还",
        "Resolved 结果日",
        "Taken 登记",
        "By 登记人",
    ):
        table.add_column(name, justify="right" if name in ("ID",) else "left")
    for row in frame.iter_rows(named=True):
        replaces = f" (replaces {row['replaces_id']})" if row["replaces_id"] is not None else ""
        table.add_row(
            str(row["promise_id"]),
            row["loan_ref"],
            row["source"],
            yuan(row["amount"]),
            row["promised_on"].isoformat(),
            STATUS_LABELS.get(row["status"], row["status"]) + replaces,
            yuan(row["amount_paid"]),
            row["resolved_on"].isoformat() if row["resolved_on"] else "-",
            row["taken_on"].isoformat(),
            row["taken_by"],
        )
    console.print(table)


STATUS_LABELS = {
    "open": "open 待履约",
    "kept": "kept 已履约",
    "partly_kept": "partly kept 部分履约",
    "broken": "broken 未履约",
    "cancelled": "cancelled 已撤销",
}


@app.command("cancel")
def promise_cancel(
    promise_id: Annotated[int, typer.Argument(help="the promise id")],
    reason: Annotated[str | None, typer.Option("--reason", help="short, no personal data")] = None,
    as_of: AsOf = None,
) -> None:
    """Withdraw an open promise."""
    from forbear.services import promises

    forbear = open_app()
    day, _ = _business_day(forbear, as_of)
    with forbear.transaction() as conn:
        promises.cancel_promise(
            conn,
            promise_id,
            actor=cli_actor(),
            as_of=day,
            reason=reason,
            vault=forbear.vault,
        )
    console.print(f"[green]✓[/] promise {promise_id} cancelled 已撤销", highlight=False)


@app.command("update")
def promise_update(as_of: AsOf = None) -> None:
    """Decide due promises from the payments (the daily run does this too)."""
    from forbear.services import promises

    forbear = open_app()
    day, _ = _business_day(forbear, as_of)
    with forbear.transaction() as conn:
        counts = promises.daily_update(conn, day, actor=cli_actor())
    console.print(
        f"Promises 承诺 {day}: {counts['checked']:,} checked, {counts['kept']:,} kept, "
        f"{counts['partly_kept']:,} partly kept, {counts['broken']:,} broken, "
        f"{counts['revised']:,} revised, {counts['open']:,} open",
        highlight=False,
    )


@app.command("rates")
def promise_rates(
    start: Annotated[str, typer.Option("--from", help="first promised date YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="last promised date YYYY-MM-DD")],
) -> None:
    """Kept rates of promises dated in a period, by source."""
    from rich.table import Table

    from forbear.services import promises

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    forbear = open_app()
    with forbear.transaction() as conn:
        frame = promises.kept_rate(conn, first, last)
    table = Table(title=f"Promise-kept rate 承诺履约率 {first} → {last}")
    for name in (
        "Source 来源",
        "Promises 承诺",
        "Open 待履约",
        "Kept 已履约",
        "Partly 部分",
        "Broken 未履约",
        "Kept rate 履约率",
        "Paid / promised 金额履约率",
    ):
        table.add_column(name, justify="right")
    for row in frame.iter_rows(named=True):
        rate = "-" if row["kept_rate"] is None else f"{row['kept_rate']:.1%}"
        money = "-" if row["amount_rate"] is None else f"{row['amount_rate']:.1%}"
        table.add_row(
            row["source"],
            f"{row['promises']:,}",
            f"{row['open']:,}",
            f"{row['kept']:,}",
            f"{row['partly_kept']:,}",
            f"{row['broken']:,}",
            rate,
            f"{money} ({yuan(row['amount_paid'])} / {yuan(row['amount_promised'])})",
        )
    console.print(table)
