"""``forbear demo``: a synthetic book built through the real import path."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from forbear.bootstrap import Forbear, bootstrap, load_settings
from forbear.cli.common import console, parse_date, today_in
from forbear.cli.reports import bucket_table, print_run_summary, roll_table
from forbear.domain.errors import ValidationError


def demo(
    borrowers: Annotated[int, typer.Option(min=10, max=2_000_000)] = 20_000,
    seed: Annotated[int, typer.Option(help="same seed and date, same book")] = 20261129,
    as_of: Annotated[str | None, typer.Option("--as-of", help="default: today")] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="delete the embedded demo database first")
    ] = False,
    with_models: Annotated[
        bool, typer.Option("--models/--no-models", help="train, activate and run risk models")
    ] = True,
    with_run: Annotated[
        bool, typer.Option("--run/--no-run", help="run the daily job on the demo book")
    ] = True,
    staff: Annotated[
        bool,
        typer.Option("--staff/--no-staff", help="create demo web sign-ins, one per role"),
    ] = True,
) -> None:
    """Build a synthetic book (faker zh_CN) through the real import path and summarise it."""
    from forbear.sim.demo import build_demo
    from forbear.sim.products import load_products

    settings = load_settings()
    if fresh:
        if settings.database_url:
            raise ValidationError("--fresh", "only deletes the embedded SQLite database")
        for suffix in ("", "-wal", "-shm"):
            (settings.data_dir / f"forbear.db{suffix}").unlink(missing_ok=True)
        shutil.rmtree(settings.data_dir / "demo", ignore_errors=True)
    forbear = bootstrap(settings)
    day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        current: list[TaskID] = []

        def step(label: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(label, total=None))

        result = build_demo(
            forbear.transaction,
            forbear.vault,
            directory=settings.data_dir / "demo",
            products=load_products(),
            borrowers=borrowers,
            seed=seed,
            as_of=day,
            zone=settings.lender_timezone,
            step=step,
            with_models=with_models,
            with_run=with_run,
            with_complaints=True,
            data_dir=settings.data_dir,
            now=forbear.now(),
        )
        if current:
            progress.update(current[-1], completed=1, total=1)
    for report in result.reports:
        console.print(f"[green]✓[/] {report.summary()}")
    console.print(bucket_table(result.today.summary(), f"Demo book as of {day} 演示账本"))
    console.print(
        roll_table(
            result.rolls,
            f"Last month's roll rates 上月迁徙率 {result.roll_from} → {result.roll_to}",
        )
    )
    for ok, line in result.models:
        console.print(f"[green]✓[/] {line}" if ok else f"[yellow]![/] {line}")
    if result.risk is not None:
        risk = Table(title=f"Risk scores 风险评分 {day}")
        for name in ("Model 模型", "Tier 等级", "Accounts 户数", "Mean probability 平均概率"):
            risk.add_column(name, justify="right")
        for row in result.risk.iter_rows(named=True):
            mean = row["mean_probability"]
            risk.add_row(
                row["kind"],
                row["tier"],
                f"{row['accounts']:,}",
                "-" if mean is None else f"{mean:.1%}",
            )
        console.print(risk)
    if result.collection:
        console.print(
            "[green]✓[/] collection history 催收历史: "
            f"{result.collection['promises']:,} promises to pay 还款承诺, "
            f"{result.collection['plans']:,} repayment plans 还款计划, "
            f"{result.collection['legal_cases']:,} legal cases 法律案件, "
            f"{result.collection.get('contacts', 0):,} contacts 联系记录, "
            f"{result.collection.get('complaints', 0):,} complaints 投诉"
        )
    if result.run is not None:
        print_run_summary(result.run.summary, day)
        _dispatch_to_sandbox(forbear, day)
    console.print(f"Database: {forbear.settings.resolved_database_url.split('///')[-1]}")
    if staff:
        _print_demo_staff(forbear)


def _dispatch_to_sandbox(forbear: Forbear, day: date) -> None:
    """Send the day's outbox once, to the sandbox only (never a configured provider), as
    at five past the run's contact hour: the messages are written to
    ``<data_dir>/sandbox/<day>/`` and listed on the "sent messages" page."""
    from dataclasses import replace

    from forbear.batch.engines import CONTACT_HOUR
    from forbear.channels.config import sandbox_only
    from forbear.channels.dispatcher import run
    from forbear.clock import fixed_clock

    local = datetime.combine(day, CONTACT_HOUR, forbear.settings.zone) + timedelta(minutes=5)
    at_hour = replace(forbear, clock=fixed_clock(local.astimezone(UTC)))
    totals = run(at_hour, once=True, config=sandbox_only(), worker_id="demo")
    console.print(
        f"[green]✓[/] outbox 发件箱: {totals.sent:,} sent to the sandbox 已写入沙盒, "
        f"{totals.cancelled:,} cancelled at sending 发送前取消, "
        f"{totals.rescheduled:,} rescheduled 改期 "
        f"({forbear.settings.data_dir / 'sandbox' / day.isoformat()})"
    )


def _print_demo_staff(forbear: Forbear) -> None:
    """One demo sign-in per role for the web app (new passwords on every demo run; they
    are shown here once and stored only as argon2 hashes)."""
    from forbear.sim.staff import seed_staff

    with forbear.transaction() as conn:
        logins = seed_staff(conn, forbear.now())
    table = Table(title="Web app demo sign-ins 演示账号 (http://127.0.0.1:8000/, `forbear serve`)")
    for name in ("Username 用户名", "Role 角色", "Password 密码"):
        table.add_column(name)
    for username, role, password in logins:
        table.add_row(username, role, password)
    console.print(table)
