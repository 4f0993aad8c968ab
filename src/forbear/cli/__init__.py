"""The operators' command line: ``forbear --help``.

Every command answers bad input, a missing file, an unreachable database or a missing
key with one clear line on stderr and a non-zero exit code, never a traceback, and
leaves stored data unchanged (each command's writes are one transaction).
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from forbear.bootstrap import Forbear, bootstrap, load_settings
from forbear.domain.errors import ForbearError, ImportRejected, ValidationError
from forbear.domain.money import format_yuan
from forbear.domain.scoring.artefact import ModelKind
from forbear.settings import new_key_text

app = typer.Typer(
    help="Forbear: compliance-first collections for consumer-finance lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import the lender's book (products, loans, payments).")
book_app = typer.Typer(help="Account states and roll rates of the book.")
db_app = typer.Typer(help="Database schema.")
model_app = typer.Typer(help="Risk models: train, review, activate, roll back, export, score.")
app.add_typer(import_app, name="import")
app.add_typer(book_app, name="book")
app.add_typer(model_app, name="model")
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="The audit trail: verify its hash chain, show events.")
app.add_typer(audit_app, name="audit")

# Rich assumes 80 columns when output is not a terminal; reports are wider than that.
console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

EXIT_ERROR = 1
EXIT_REJECTED = 2


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(option, f"not a date (use YYYY-MM-DD): {text!r}") from None


def today_in(app_: Forbear) -> date:
    return datetime.now(app_.settings.zone).date()


def _app() -> Forbear:
    return bootstrap()


def _yuan(fen: int) -> str:
    return "¥" + format_yuan(fen)


# ---------------------------------------------------------------- import


SkipBad = Annotated[
    bool, typer.Option("--skip-bad", help="import the good rows, write the bad ones to a file")
]
Rejects = Annotated[
    Path | None, typer.Option("--rejects", help="where --skip-bad writes rejected rows")
]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="force the CSV encoding (default: detect)")
]


def _print_report(report: object) -> None:
    from forbear.services.imports import ImportReport

    assert isinstance(report, ImportReport)
    console.print(f"[green]✓[/] {report.summary()}")
    if report.rejects_file is not None:
        console.print(f"  rejected rows with reasons: {report.rejects_file}")


@import_app.command("products")
def import_products_cmd(file: Path) -> None:
    """Import product contract terms from a YAML file."""
    from forbear.services.imports import import_products, load_products_file

    products = load_products_file(file)
    forbear = _app()
    with forbear.transaction() as conn:
        report = import_products(conn, products, file.name)
    _print_report(report)


@import_app.command("loans")
def import_loans_cmd(
    file: Path, skip_bad: SkipBad = False, rejects: Rejects = None, encoding: Encoding = None
) -> None:
    """Import loans and their borrowers from CSV or Parquet (docs/import.md)."""
    from forbear.services.imports import import_loans

    forbear = _app()
    with forbear.transaction() as conn:
        report = import_loans(
            conn, forbear.vault, file, skip_bad=skip_bad, rejects=rejects, encoding=encoding
        )
    _print_report(report)


@import_app.command("payments")
def import_payments_cmd(
    file: Path, skip_bad: SkipBad = False, rejects: Rejects = None, encoding: Encoding = None
) -> None:
    """Import payments from CSV or Parquet (docs/import.md)."""
    from forbear.services.imports import import_payments

    forbear = _app()
    with forbear.transaction() as conn:
        report = import_payments(
            conn,
            file,
            zone=forbear.settings.lender_timezone,
            skip_bad=skip_bad,
            rejects=rejects,
            encoding=encoding,
        )
    _print_report(report)


# ---------------------------------------------------------------- book


def bucket_table(summary: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for name in (
        "Bucket 账龄",
        "Accounts 户数",
        "Share 占比",
        "Outstanding 在贷余额",
        "Overdue 逾期金额",
    ):
        table.add_column(name, justify="right")
    for row in summary.iter_rows(named=True):
        table.add_row(
            row["bucket"],
            f"{row['accounts']:,}",
            f"{row['share']:.1%}",
            _yuan(row["outstanding_principal"]),
            _yuan(row["overdue_total"]),
        )
    table.add_section()
    table.add_row(
        "Total 合计",
        f"{summary['accounts'].sum():,}",
        "100.0%",
        _yuan(int(summary["outstanding_principal"].sum())),
        _yuan(int(summary["overdue_total"].sum())),
    )
    return table


def roll_table(matrix: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    table.add_column("From 从", justify="left")
    table.add_column("Accounts 户数", justify="right")
    targets = [c for c in matrix.columns if c not in ("bucket", "accounts")]
    for name in targets:
        table.add_column(name, justify="right")
    for row in matrix.iter_rows(named=True):
        cells = [f"{row[c]:.1%}" if row[c] else "·" for c in targets]
        table.add_row(row["bucket"], f"{row['accounts']:,}", *cells)
    return table


@book_app.command("state")
def book_state(
    as_of: Annotated[str, typer.Option("--as-of", help="business date YYYY-MM-DD")],
) -> None:
    """Compute and store every account's state (days past due, bucket, balances) for a date."""
    from forbear.services import book

    day = parse_date(as_of, "--as-of")
    forbear = _app()
    with forbear.transaction() as conn:
        result = book.compute_states(conn, day)
    console.print(bucket_table(result.summary(), f"Book as of {day} 截至 {day} 的账户状态"))
    console.print(f"[green]✓[/] stored {result.states.height:,} account states for {day}")


@book_app.command("roll-rates")
def book_roll_rates(
    start: Annotated[str, typer.Option("--from", help="first snapshot date YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="second snapshot date YYYY-MM-DD")],
    by_balance: Annotated[
        bool, typer.Option("--by-balance", help="weight by outstanding principal")
    ] = False,
) -> None:
    """Print the bucket transition (roll-rate) matrix between two dates."""
    from forbear.services import book

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    forbear = _app()
    with forbear.transaction() as conn:
        matrix = book.roll_rate_matrix(conn, first, last, by_balance=by_balance)
    weight = "balance" if by_balance else "accounts"
    console.print(roll_table(matrix, f"Roll rates 迁徙率 {first} → {last} (by {weight})"))


# ---------------------------------------------------------------- models


def _kind(text: str) -> ModelKind:
    try:
        return ModelKind(text)
    except ValueError:
        names = ", ".join(k.value for k in ModelKind)
        raise ValidationError("--kind", f"unknown model kind {text!r} (use {names})") from None


def _print_trained(trained: object) -> None:
    from forbear.services.models import Trained

    assert isinstance(trained, Trained)
    m = trained.artefact.metrics
    info = trained.model
    metrics = Table(title=f"Model {info.id}: {info.name} (v{info.version}, {info.status})")
    for name in ("AUC", "KS", "Gini", "Bad rate 坏账率", "Train rows", "Test rows"):
        metrics.add_column(name, justify="right")
    metrics.add_row(
        f"{m.auc:.3f}",
        f"{m.ks:.3f}",
        f"{m.gini:.3f}",
        f"{m.bad_rate:.1%}",
        f"{m.rows_train:,}",
        f"{m.rows_test:,}",
    )
    console.print(metrics)
    if trained.iv:
        iv = Table(title="Information value by feature 特征IV值")
        iv.add_column("Feature 特征")
        iv.add_column("IV", justify="right")
        iv.add_column("Kept 入模")
        for name, value in sorted(trained.iv.items(), key=lambda kv: -kv[1]):
            kept = "✓" if name in trained.selected else trained.dropped.get(name, "")
            iv.add_row(name, f"{value:.3f}", kept)
        console.print(iv)
    if trained.observation_dates:
        dates = ", ".join(d.isoformat() for d in trained.observation_dates)
        console.print(
            f"observation dates: {dates}; {trained.rows:,} rows; dropped "
            f"{trained.rows_immature:,} immature and {trained.rows_out_of_segment:,} "
            "outside the segment"
        )
    console.print(f"[green]✓[/] stored candidate {info.id}; `forbear model activate {info.id}`")


@model_app.command("train")
def model_train(
    kind: Annotated[str, typer.Option("--kind", help="application, behaviour, early_warning")],
    file: Annotated[Path | None, typer.Option("--file", help="application table")] = None,
    target: Annotated[str | None, typer.Option("--target", help="0/1 column, 1 = bad")] = None,
    bad: Annotated[
        str | None, typer.Option("--bad", help="the target value meaning bad, if not 0/1")
    ] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="repeat to choose the features")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    as_of: Annotated[str | None, typer.Option("--as-of", help="book date; default today")] = None,
    window: Annotated[int | None, typer.Option("--window", help="outcome window, days")] = None,
    months: Annotated[int, typer.Option("--months", help="month-end observation dates")] = 6,
) -> None:
    """Train a model and store it as a candidate (nothing is stored if training fails)."""
    from forbear.services import models

    chosen = _kind(kind)
    forbear = _app()
    if chosen is ModelKind.APPLICATION:
        if file is None or target is None:
            raise ValidationError("--kind application", "needs --file and --target")
        with forbear.transaction() as conn:
            trained = models.train_application(
                conn, file, target, feature or None, seed=seed, bad_value=bad
            )
    else:
        day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
        with forbear.transaction() as conn:
            trained = models.train_on_book(
                conn, chosen, as_of=day, window=window, months=months, seed=seed
            )
    _print_trained(trained)


@model_app.command("list")
def model_list() -> None:
    """Every model version with its status and test metrics."""
    from forbear.services import models

    forbear = _app()
    with forbear.transaction() as conn:
        rows = models.list_models(conn)
    table = Table(title="Models 模型")
    for name in ("ID", "Kind", "Name", "Version", "Status", "AUC", "KS", "Created (UTC)"):
        table.add_column(name)
    for m in rows:
        table.add_row(
            str(m.id),
            m.kind,
            m.name,
            str(m.version),
            m.status,
            f"{m.metrics.get('auc', 0):.3f}",
            f"{m.metrics.get('ks', 0):.3f}",
            m.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@model_app.command("activate")
def model_activate(version_id: int) -> None:
    """Make a version the active one of its kind (the previous one is retired)."""
    from forbear.services import models

    forbear = _app()
    with forbear.transaction() as conn:
        info = models.activate(conn, version_id, actor=_cli_actor())
    console.print(f"[green]✓[/] {info.kind} model {info.id} ({info.name}) is active")


@model_app.command("rollback")
def model_rollback(kind: str) -> None:
    """Re-activate the previously active version of a kind and retire the current one."""
    from forbear.services import models

    chosen = _kind(kind)
    forbear = _app()
    with forbear.transaction() as conn:
        info = models.rollback(conn, chosen, actor=_cli_actor())
    console.print(f"[green]✓[/] {info.kind} model {info.id} ({info.name}) is active again")


@model_app.command("export")
def model_export(
    version_id: int,
    to: Annotated[Path, typer.Option("--to", help="a .json, .csv or .xlsx file")],
) -> None:
    """Export a model: the artefact (.json) or the scorecard table (.csv, .xlsx)."""
    from forbear.services import models

    forbear = _app()
    with forbear.transaction() as conn:
        path = models.export(conn, version_id, to)
    console.print(f"[green]✓[/] model {version_id} written to {path}")


@model_app.command("score")
def model_score(
    as_of: Annotated[str, typer.Option("--as-of", help="business date YYYY-MM-DD")],
) -> None:
    """Score every active loan with each active book model and store the scores."""
    from forbear.services import models

    day = parse_date(as_of, "--as-of")
    forbear = _app()
    with forbear.transaction() as conn:
        stored = models.score_book(conn, day)
    for kind, rows in stored.items():
        console.print(f"[green]✓[/] {kind}: {rows:,} accounts scored for {day}")


ModelArg = Annotated[str, typer.Argument(help="a version id, or a kind for its active model")]
TableOpt = Annotated[
    Path | None, typer.Option("--file", help="population table (application models)")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="0/1 outcome column in --file")]
BadOpt = Annotated[str | None, typer.Option("--bad", help="the --target value meaning bad")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="book date; default today")]


def _monitor_run(
    which: str, as_of: str | None, file: Path | None, target: str | None, bad: str | None
) -> object:
    from forbear.services.monitoring import monitor_model

    forbear = _app()
    day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
    with forbear.transaction() as conn:
        return monitor_model(conn, which, day, table=file, target=target, bad_value=bad)


@model_app.command("monitor")
def model_monitor(
    model: ModelArg,
    as_of: AsOfOpt = None,
    file: TableOpt = None,
    target: TargetOpt = None,
    bad: BadOpt = None,
) -> None:
    """PSI of the score and each feature against training; KS/AUC/Gini on matured outcomes."""
    from forbear.domain.scoring.monitoring import psi_interpretation
    from forbear.services.monitoring import MonitorRun

    run = _monitor_run(model, as_of, file, target, bad)
    assert isinstance(run, MonitorRun)
    result = run.result
    console.print(
        f"Model {run.model.id} {run.model.name} ({run.model.kind}, v{run.model.version}) "
        f"against {run.population}: {result.rows:,} accounts"
    )
    if result.score_psi is not None:
        console.print(
            f"Score PSI 评分稳定性: {result.score_psi:.4f} ({psi_interpretation(result.score_psi)})"
        )
    psi = Table(title="Feature PSI 特征稳定性")
    for name in ("Feature 特征", "PSI", "Reading 判断"):
        psi.add_column(name)
    for name, value in result.feature_psi.select("feature", "psi").iter_rows():
        psi.add_row(name, f"{value:.4f}", psi_interpretation(value))
    console.print(psi)
    if result.performance is not None:
        perf = result.performance
        console.print(
            f"Matured cohort {run.matured_on or ''} 已到期样本: {perf.rows:,} accounts, "
            f"AUC {perf.auc:.3f} (training {result.training_auc:.3f}), KS {perf.ks:.3f}, "
            f"Gini {perf.gini:.3f}"
        )
    else:
        console.print("No matured outcomes to measure discrimination on 暂无到期表现数据")
    if result.bad_rates is not None:
        bands = Table(title="Event rate by score band 分段坏账率")
        for name in result.bad_rates.columns:
            bands.add_column(name, justify="right")
        for row in result.bad_rates.iter_rows():
            bands.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
        console.print(bands)
    for warning in result.warnings:
        console.print(f"[yellow]warning 警告:[/] {warning.message_zh} / {warning.message_en}")
    if result.ok:
        console.print("[green]✓[/] no warnings 无预警")


@model_app.command("report")
def model_report(
    model: ModelArg,
    to: Annotated[Path, typer.Option("--to", help="the .html file to write")],
    as_of: AsOfOpt = None,
    file: TableOpt = None,
    target: TargetOpt = None,
    bad: BadOpt = None,
) -> None:
    """Write a self-contained HTML report (Plotly charts, opens offline)."""
    from forbear.services.monitoring import MonitorRun, write_report

    run = _monitor_run(model, as_of, file, target, bad)
    assert isinstance(run, MonitorRun)
    path = write_report(run, to)
    console.print(f"[green]✓[/] report for model {run.model.id} written to {path}")


# ---------------------------------------------------------------- strategy

strategy_app = typer.Typer(help="Collection strategies: check, add, activate, list.")
app.add_typer(strategy_app, name="strategy")


def _frame_table(frame: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name, justify="right")
    for row in frame.iter_rows():
        table.add_row(
            *["" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row]
        )
    return table


@strategy_app.command("check")
def strategy_check(
    file: Annotated[
        Path | None, typer.Argument(help="strategy YAML; default: the shipped one")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="book date; default today")] = None,
    max_blocked: Annotated[
        float,
        typer.Option("--max-blocked", help="largest share of planned contacts the gate may block"),
    ] = 0.3,
) -> None:
    """Run a strategy against the current book without writing anything."""
    from forbear.services import strategies

    forbear = _app()
    day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
    with forbear.engine.connect() as conn:
        trans = conn.begin()
        try:
            report = strategies.check(conn, file, day, max_blocked_share=max_blocked)
        finally:
            trans.rollback()  # a check writes nothing, not even the states it computed
    console.print(
        _frame_table(report.by_segment, f"{report.name} on {day}: accounts per segment 分群")
    )
    console.print(
        f"{report.actions:,} actions, {report.planned:,} contacts to the gate, "
        f"{report.blocked:,} blocked ({report.blocked_share:.1%})"
    )
    if report.blocked_by_rule.height:
        console.print(_frame_table(report.blocked_by_rule, "Blocked by rule 合规拦截"))
    if report.unreached:
        console.print(
            f"[yellow]segments no account reaches 无账户进入:[/] {', '.join(report.unreached)}"
        )
    if report.overlaps.height:
        console.print(_frame_table(report.overlaps, "Accounts two segments claim 分群重叠"))
    console.print("[green]✓[/] check passed")


@strategy_app.command("add")
def strategy_add(file: Path) -> None:
    """Store a strategy file as a new candidate version (validated first)."""
    from forbear.services import strategies

    forbear = _app()
    with forbear.transaction() as conn:
        info = strategies.add_strategy(conn, file, actor=_cli_actor())
    console.print(f"[green]✓[/] stored strategy {info.id} ({info.name} v{info.version})")


@strategy_app.command("activate")
def strategy_activate(version_id: int) -> None:
    """Make a stored strategy version the active one (audited)."""
    from forbear.services import strategies

    forbear = _app()
    with forbear.transaction() as conn:
        info = strategies.activate(conn, version_id, actor=_cli_actor())
    console.print(f"[green]✓[/] strategy {info.id} ({info.name} v{info.version}) is active")


@strategy_app.command("list")
def strategy_list() -> None:
    """Every stored strategy version and its status."""
    from forbear.services import strategies

    forbear = _app()
    with forbear.transaction() as conn:
        rows = strategies.list_strategies(conn)
    table = Table(title="Strategies 策略")
    for name in ("ID", "Name", "Version", "Status", "Created (UTC)", "Activated (UTC)"):
        table.add_column(name)
    for s in rows:
        table.add_row(
            str(s.id),
            s.name,
            str(s.version),
            s.status,
            s.created_at.strftime("%Y-%m-%d %H:%M"),
            s.activated_at.strftime("%Y-%m-%d %H:%M") if s.activated_at else "",
        )
    console.print(table)
    if not rows:
        console.print(
            "no stored strategy: the shipped CN default is in force "
            "(`forbear strategy show-default`)"
        )


@strategy_app.command("show-default")
def strategy_show_default() -> None:
    """Print the shipped friendly-first CN strategy (a starting point for your own)."""
    from forbear.domain.strategy import default_text

    console.print(default_text(), highlight=False, markup=False)


# ---------------------------------------------------------------- lender configuration

config_app = typer.Typer(help="The lender's compliance configuration (tightens its rule pack).")
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(file: Path) -> None:
    """Validate a lender configuration against its pack; store nothing."""
    from forbear.services.lender import compile_text

    if not file.is_file():
        raise ValidationError(str(file), "no such file")
    rules = compile_text(file.read_text(encoding="utf-8"), file.name)
    console.print(f"[green]✓[/] {file.name}: valid for pack {rules.pack}")


@config_app.command("set")
def config_set(file: Path) -> None:
    """Validate and store a new version of the lender configuration (audited)."""
    from forbear.services.lender import set_config

    if not file.is_file():
        raise ValidationError(str(file), "no such file")
    forbear = _app()
    with forbear.transaction() as conn:
        info = set_config(
            conn, file.read_text(encoding="utf-8"), source=file.name, actor=_cli_actor()
        )
    console.print(
        f"[green]✓[/] lender configuration version {info.version} (pack {info.pack}) is in force"
    )


@config_app.command("show")
def config_show() -> None:
    """The lender configuration in force (stored version, file, or the default)."""
    from forbear.services.lender import current, current_text

    forbear = _app()
    with forbear.transaction() as conn:
        info, text = current(conn), current_text(conn)
    if info is None or text is None:
        console.print("no stored configuration: the default (CN, contact 08:00–21:00) is in force")
        return
    console.print(
        f"version {info.version} (pack {info.pack}), set by {info.created_by} at "
        f"{info.created_at:%Y-%m-%d %H:%M} UTC from {info.source}; sha256 {info.sha256[:12]}"
    )
    console.print(text, highlight=False, markup=False)


# ---------------------------------------------------------------- demo


@app.command()
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
    from forbear.services.demo import build_demo
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
            data_dir=settings.data_dir,
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
            f"{result.collection['legal_cases']:,} legal cases 法律案件"
        )
    if result.run is not None:
        print_run_summary(result.run.summary, day)
    console.print(f"Database: {forbear.settings.resolved_database_url.split('///')[-1]}")
    if staff:
        _print_demo_staff(forbear)


def _print_demo_staff(forbear: Forbear) -> None:
    """One demo sign-in per role for the web app (new passwords on every demo run; they
    are shown here once and stored only as argon2 hashes)."""
    from forbear.web.demo import seed_staff

    with forbear.transaction() as conn:
        logins = seed_staff(conn)
    table = Table(title="Web app demo sign-ins 演示账号 (http://127.0.0.1:8000/, `forbear serve`)")
    for name in ("Username 用户名", "Role 角色", "Password 密码"):
        table.add_column(name)
    for username, role, password in logins:
        table.add_row(username, role, password)
    console.print(table)


# ---------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain: edited, deleted or inserted events are listed."""
    from rich.markup import escape

    from forbear.store import audit

    forbear = _app()
    with forbear.transaction() as conn:
        result = audit.verify(conn)
    if result.ok:
        console.print(
            f"[green]✓[/] {result.checked} events, chain intact (head {result.head_hash[:16]})"
        )
        return
    for problem in result.problems:
        err.print(f"[red]✗[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    err.print(
        f"[red]error:[/] audit chain broken: {len(result.problems)} problem(s) "
        f"in {result.checked} events, first at seq {result.first_broken_seq}",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_ERROR)


@audit_app.command("show")
def audit_show(
    action: Annotated[
        str | None, typer.Option("--action", help="only this action, e.g. model.activate")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="how many, newest first")] = 50,
) -> None:
    """The newest audit events (ids only: the trail holds no personal data)."""
    from forbear.store import audit

    forbear = _app()
    with forbear.transaction() as conn:
        rows = audit.events(conn, action=action, limit=limit)
    table = Table(title="Audit trail 审计记录")
    for name in ("Seq", "At (UTC)", "Actor", "Action", "Subject", "Payload"):
        table.add_column(name)
    for e in rows:
        table.add_row(
            str(e.seq),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            f"{e.subject_type} {e.subject_id}",
            audit.canonical_json(e.payload),
        )
    console.print(table)


# ---------------------------------------------------------------- db & keys


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to the version this release ships."""
    from forbear.store import migrate
    from forbear.store.db import make_engine, ping, safe_url

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    ping(engine)
    migrate.upgrade(engine)
    console.print(f"[green]✓[/] {safe_url(engine)} at revision {migrate.current_revision(engine)}")


@db_app.command("status")
def db_status() -> None:
    """Show the schema revision of the database and whether it is current."""
    from forbear.store import migrate
    from forbear.store.db import make_engine, ping, safe_url

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    ping(engine)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    state = "[green]current[/]" if current == head else "[yellow]needs `forbear db upgrade`[/]"
    console.print(f"{safe_url(engine)}: revision {current} (shipped: {head}) {state}")


@db_app.command("copy")
def db_copy(
    to: Annotated[str, typer.Option("--to", help="an empty PostgreSQL database: postgresql://...")],
) -> None:
    """Copy the whole database into an empty PostgreSQL one, in one transaction, and verify
    it (row counts, audit chain). Stop the web app and jobs first (docs/database.md)."""
    from forbear.store.copy import copy_database, open_target
    from forbear.store.db import make_engine, ping

    target = open_target(to)
    ping(target)
    source = make_engine(load_settings().resolved_database_url)
    ping(source)
    report = copy_database(source, target)
    console.print(
        f"[green]✓[/] {report.total_rows:,} rows in {len(report.rows)} tables copied to "
        f"{report.target} (revision {report.revision}) in {report.seconds:.1f} s; "
        f"{report.sequences_reset} sequences reset; audit chain verified: "
        f"{report.audit_events:,} events, head {report.audit_head[:16]}",
        highlight=False,
    )
    console.print(f"Next: set FORBEAR_DATABASE_URL={report.target} (with its password)")


@app.command()
def keygen() -> None:
    """Print a new random encryption key for FORBEAR_ENCRYPTION_KEY."""
    console.print(new_key_text(), highlight=False)


# ---------------------------------------------------------------- contacts and the gate

contact_app = typer.Typer(help="Contacts: make one through the compliance gate, holds, outcomes.")
explain_app = typer.Typer(help="Explain a decision in plain Chinese or English.")
app.add_typer(contact_app, name="contact")
app.add_typer(explain_app, name="explain")

ContactChannel = Annotated[
    str, typer.Option("--channel", help="call, ai_call, sms, im, email, app_push, letter, visit")
]
ContactAt = Annotated[
    str | None,
    typer.Option("--at", help='"YYYY-MM-DD HH:MM" in the lender\'s time zone (default: now)'),
]
ContactPointOpt = Annotated[
    int | None,
    typer.Option("--contact-point", help="contact point id (default: the debtor's primary)"),
]
AgencyOpt = Annotated[int | None, typer.Option("--agency", help="agency id (default: own staff)")]


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _contact_moment(app_: Forbear, text: str | None) -> datetime:
    from datetime import UTC

    if text is None:
        return datetime.now(UTC)
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValidationError("--at", f'not a time (use "YYYY-MM-DD HH:MM"): {text!r}') from None
    return naive.replace(tzinfo=app_.settings.zone).astimezone(UTC)


def _print_contact_decision(decision: object, lines: list[str], lang: str) -> None:
    from zoneinfo import ZoneInfo

    from forbear.services.contacts import ContactDecision

    assert isinstance(decision, ContactDecision)
    zone = ZoneInfo(str(decision.row["timezone"]))
    when = decision.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    zh = lang == "zh"
    if decision.allowed:
        head = "[green]✓ 允许联系[/]" if zh else "[green]✓ allowed[/]"
    else:
        head = "[red]✗ 不得联系[/]" if zh else "[red]✗ blocked[/]"
    where = "债务人当地时间" if zh else "debtor's local time"
    console.print(
        f"{head}  {decision.channel.value} · {decision.party.value} · {when} ({where}, {zone})",
        highlight=False,
    )
    if decision.blocked_by:
        label = "规则" if zh else "rules"
        console.print(f"  {label}: {', '.join(decision.blocked_by)}", highlight=False)
    if decision.earliest_allowed_at is not None:
        earliest = decision.earliest_allowed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        label = "最早可联系时间" if zh else "earliest allowed"
        console.print(f"  {label}: {earliest}", highlight=False)
    for line in lines:
        console.print(f"  • {line}", highlight=False, markup=False)


@explain_app.command("contact")
def explain_contact(
    loan_ref: str,
    channel: ContactChannel,
    at: ContactAt = None,
    contact_point: ContactPointOpt = None,
    agency: AgencyOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
) -> None:
    """Would this contact be allowed at that moment, and why (rule ids and sources)?
    Nothing is recorded."""
    from forbear.domain.compliance.gate import explain
    from forbear.services import contacts

    if lang not in ("zh", "en"):
        raise ValidationError("--lang", "zh or en")
    forbear = _app()
    with forbear.transaction() as conn:
        rules = contacts.lender_rules(forbear.settings.data_dir, conn)
        decision = contacts.evaluate_contact(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            channel=channel,
            at=_contact_moment(forbear, at),
            rules=rules,
            contact_point_id=contact_point,
            agency_id=agency,
        )
    _print_contact_decision(decision, explain(decision.row, rules, _lang(lang)), lang)


def _lang(lang: str) -> Literal["zh", "en"]:
    if lang == "zh":
        return "zh"
    if lang == "en":
        return "en"
    raise ValidationError("--lang", "zh or en")


@contact_app.command("make")
def contact_make(
    loan_ref: str,
    channel: ContactChannel,
    at: ContactAt = None,
    contact_point: ContactPointOpt = None,
    agency: AgencyOpt = None,
    template: Annotated[str | None, typer.Option("--template", help="template code")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
) -> None:
    """Ask the gate and record the attempt with its decision (blocked ones too); exits
    non-zero when blocked."""
    from forbear.domain.compliance.gate import explain
    from forbear.services import contacts

    forbear = _app()
    with forbear.transaction() as conn:
        rules = contacts.lender_rules(forbear.settings.data_dir, conn)
        decision = contacts.request_contact(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            channel=channel,
            at=_contact_moment(forbear, at),
            actor=_cli_actor(),
            rules=rules,
            contact_point_id=contact_point,
            agency_id=agency,
            template_code=template,
        )
    lines = [] if decision.allowed else explain(decision.row, rules, _lang(lang))
    _print_contact_decision(decision, lines, lang)
    console.print(f"  attempt {decision.attempt_id} recorded", highlight=False)
    if not decision.allowed:
        raise typer.Exit(EXIT_ERROR)


@contact_app.command("outcome")
def contact_outcome(
    attempt_id: int,
    outcome: Annotated[
        str, typer.Argument(help="connected, no_answer, busy, invalid_number, refused, ...")
    ],
) -> None:
    """Record what an allowed attempt came to (once)."""
    from forbear.services import contacts

    forbear = _app()
    with forbear.transaction() as conn:
        result = contacts.record_outcome(conn, attempt_id, outcome, _cli_actor())
    result.raise_if_conflict(outcome)
    if not result.recorded:
        console.print(f"attempt {attempt_id} already had outcome {outcome}: nothing changed")
        return
    console.print(f"[green]✓[/] attempt {attempt_id}: {outcome}")


@contact_app.command("hold")
def contact_hold(
    loan_ref: str,
    kind: Annotated[
        str, typer.Option("--kind", help="dispute, complaint, cease, opt_out, do_not_contact, ...")
    ],
    channel: Annotated[
        str | None, typer.Option("--channel", help="opt-outs only: the medium")
    ] = None,
    all_loans: Annotated[
        bool, typer.Option("--all-loans", help="every loan of the borrower")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="why (stored encrypted)")] = None,
) -> None:
    """Put a hold on a loan from now until released."""
    from datetime import UTC

    from forbear.services import contacts

    forbear = _app()
    with forbear.transaction() as conn:
        hold_id = contacts.add_hold(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            kind=kind,
            actor=_cli_actor(),
            since=datetime.now(UTC),
            channel=channel,
            all_loans=all_loans,
            typed_reason=reason,
            vault=forbear.vault,
        )
    console.print(f"[green]✓[/] hold {hold_id} ({kind}) on {loan_ref}", highlight=False)


@contact_app.command("release")
def contact_release(hold_id: int) -> None:
    """Release an open hold now."""
    from datetime import UTC

    from forbear.services import contacts

    forbear = _app()
    with forbear.transaction() as conn:
        contacts.release_hold(conn, hold_id, actor=_cli_actor(), at=datetime.now(UTC))
    console.print(f"[green]✓[/] hold {hold_id} released")


# ---------------------------------------------------------------- keys, retention, privacy

keys_app = typer.Typer(help="Encryption keys: rotate, re-encrypt, status.")
retention_app = typer.Typer(help="Retention of personal data (CN.RECORD.RETAIN).")
privacy_app = typer.Typer(help="Data-subject requests (PIPL): export what is held.")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
app.add_typer(privacy_app, name="privacy")

Actor = Annotated[
    str,
    typer.Option("--actor", help="who runs this, for the audit trail (default: $USER)"),
]


def _actor(actor: str) -> str:
    return actor or _cli_actor()


def _print_reencrypted(report: object) -> None:
    from forbear.services.keys import RotationReport

    assert isinstance(report, RotationReport)
    table = Table(title=f"Re-encrypted to key version {report.key_version}")
    for name in ("Table", "Rows seen", "Rows rewritten", "Values re-encrypted"):
        table.add_column(name, justify="right" if name != "Table" else "left")
    for name, t in report.tables.items():
        table.add_row(name, str(t.rows_seen), str(t.rows_rewritten), str(t.values_reencrypted))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(
    actor: Actor = "",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
) -> None:
    """Add a new key version to the key file, make it current, re-encrypt everything.

    Keys given in FORBEAR_ENCRYPTION_KEYS / FORBEAR_ENCRYPTION_KEY are not written here:
    add the new key to the secret store, deploy, then run `forbear keys reencrypt`.
    """
    from forbear.bootstrap import vault_from
    from forbear.domain.errors import ConfigurationError
    from forbear.services.keys import reencrypt
    from forbear.settings import write_keyring

    forbear = _app()
    settings = forbear.settings
    if settings.keyring_from_environment:
        raise ConfigurationError(
            "keys come from FORBEAR_ENCRYPTION_KEYS/FORBEAR_ENCRYPTION_KEY: add the new key "
            "there (raise `current`), deploy, then run `forbear keys reencrypt`"
        )
    keyring = settings.load_keyring().rotated()
    # The new key is on disk before any value is encrypted with it.
    write_keyring(settings.key_file, keyring)
    forbear.vault = vault_from(keyring)
    console.print(f"key version {keyring.current} is now current ({settings.key_file})")
    _print_reencrypted(
        reencrypt(forbear.engine, forbear.vault, actor=_actor(actor), batch_size=batch_size)
    )


@keys_app.command("reencrypt")
def keys_reencrypt(
    actor: Actor = "",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
) -> None:
    """Finish (or resume) a rotation: re-encrypt values not yet at the current version."""
    from forbear.services.keys import reencrypt

    forbear = _app()
    _print_reencrypted(
        reencrypt(forbear.engine, forbear.vault, actor=_actor(actor), batch_size=batch_size)
    )


@keys_app.command("status")
def keys_status() -> None:
    """The current key version and how many stored values each version encrypts."""
    from forbear.services.keys import versions_in_use

    forbear = _app()
    console.print(f"current key version: {forbear.vault.key_version}")
    for version, count in versions_in_use(forbear.engine).items():
        console.print(f"  version {version}: {count} value(s)")


@retention_app.command("purge")
def retention_purge(
    as_of: Annotated[str, typer.Option("--as-of", help="business date, YYYY-MM-DD")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count only, change nothing")] = False,
    actor: Actor = "",
) -> None:
    """Anonymise borrowers past retention: all loans closed, 3 years after last activity."""
    from forbear.services.retention import purge

    day = parse_date(as_of, "--as-of")
    forbear = _app()
    with forbear.transaction() as conn:
        report = purge(conn, forbear.vault, as_of=day, actor=_actor(actor), dry_run=dry_run)
    title = f"Retention purge as of {day}" + (" (dry run: nothing changed)" if dry_run else "")
    table = Table(title=title)
    table.add_column("Table")
    table.add_column("Rows anonymised or deleted", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)


@privacy_app.command("export")
def privacy_export(
    borrower_ref: Annotated[str, typer.Argument(help="the borrower's external reference")],
    to: Annotated[Path, typer.Option("--to", help="the JSON file to write")],
    purpose: Annotated[str, typer.Option("--purpose", help="must be privacy_request")] = "",
    role: Annotated[str, typer.Option("--role", help="the operator's role")] = "",
    actor: Actor = "",
) -> None:
    """Everything held about one borrower, decrypted, for a PIPL access request (audited)."""
    import json

    from forbear.domain.errors import PermissionDenied
    from forbear.services.privacy import export_borrower
    from forbear.store.private_files import write_private

    if not purpose or not role:
        raise PermissionDenied(role or "(none)", "privacy.export", purpose or None)
    forbear = _app()
    with forbear.transaction() as conn:
        data = export_borrower(
            conn,
            forbear.vault,
            actor=_actor(actor),
            role=role,
            borrower_ref=borrower_ref,
            purpose=purpose,
        )
        # Written inside the transaction: if the file cannot be written, the audit
        # event is rolled back with it.
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        write_private(to, text.encode("utf-8"))  # 0600 even over an existing file
    console.print(f"wrote {to} (mode 0600: it holds personal data in clear)")


# ---------------------------------------------------------------- message templates

template_app = typer.Typer(help="Message templates: check against the content filter, add, list.")
app.add_typer(template_app, name="template")

AudienceOpt = Annotated[str, typer.Option("--audience", help="debtor or third_party")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en; default: detect")]


def _print_violations(violations: list[object], title: str) -> None:
    table = Table(title=title)
    for name in ("Rule", "Category", "Span", "Excerpt", "Why 原因"):
        table.add_column(name)
    for v in violations:
        table.add_row(
            getattr(v, "rule_id", ""),
            str(getattr(v, "category", "")),
            f"{getattr(v, 'start', 0)}-{getattr(v, 'end', 0)}",
            getattr(v, "excerpt", "") or "(missing)",
            f"{getattr(v, 'message_zh', '')} / {getattr(v, 'message_en', '')}",
        )
    console.print(table)


def _template_text(file: Path | None, text: str | None) -> str:
    if (file is None) == (text is None):
        raise ValidationError("FILE", "give a template file or --text, not both")
    if text is not None:
        return text
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("FILE", f"cannot read {file.name} as UTF-8 text: {exc}") from None


@template_app.command("check")
def template_check(
    file: Annotated[Path | None, typer.Argument(help="template file (UTF-8)")] = None,
    text: Annotated[str | None, typer.Option("--text", help="check this text instead")] = None,
    audience: AudienceOpt = "debtor",
    lang: LangOpt = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="sms, email, ...: English texts need an opt-out")
    ] = None,
    time_barred: Annotated[
        bool, typer.Option("--time-barred", help="the debt is past its limitation period")
    ] = False,
) -> None:
    """Check a template or text against the content filter; exit 1 if anything is found."""
    from forbear.domain.compliance.content import check_template
    from forbear.services.templates import context_for

    body = _template_text(file, text)
    if audience not in ("debtor", "third_party"):
        raise ValidationError("--audience", "debtor or third_party")
    if lang not in (None, "zh", "en"):
        raise ValidationError("--lang", "zh or en")
    context = context_for(channel or "", lang or "", time_barred=time_barred)
    violations = check_template(
        body,
        lang=lang,  # type: ignore[arg-type]
        audience=audience,  # type: ignore[arg-type]
        context=context,
    )
    if not violations:
        console.print("[green]✓[/] no violations 未发现违规内容")
        return
    _print_violations(list(violations), f"{len(violations)} violation(s) 违规")
    raise typer.Exit(EXIT_ERROR)


@template_app.command("add")
def template_add(
    code: str,
    file: Annotated[Path, typer.Option("--file", help="template body (UTF-8)")],
    channel: Annotated[str, typer.Option("--channel", help="sms, email, im, letter, ...")] = "sms",
    audience: AudienceOpt = "debtor",
    lang: LangOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="approve it at once")] = False,
) -> None:
    """Store a template as the next version of CODE, if it passes the content filter."""
    from forbear.domain.compliance.content import ContentRejected
    from forbear.services import templates

    body = _template_text(file, None)
    chosen = lang or ("zh" if any("\u4e00" <= c <= "\u9fff" for c in body) else "en")
    forbear = _app()
    try:
        with forbear.transaction() as conn:
            info = templates.save_template(
                conn, code, channel, audience, chosen, body, actor=_cli_actor()
            )
            if approve:
                info = templates.approve_template(conn, code, info.version, actor=_cli_actor())
    except ContentRejected as exc:
        _print_violations(list(exc.violations), f"template {code} refused, nothing stored 未保存")
        raise typer.Exit(EXIT_ERROR) from None
    console.print(f"[green]✓[/] template {info.code} v{info.version} ({info.lang}) {info.status}")


@template_app.command("approve")
def template_approve(
    code: str,
    version: Annotated[int | None, typer.Option("--version", help="default: the newest")] = None,
) -> None:
    """Approve a version of a template (the one approved before is retired)."""
    from forbear.services import templates

    forbear = _app()
    with forbear.transaction() as conn:
        info = templates.approve_template(conn, code, version, actor=_cli_actor())
    console.print(f"[green]✓[/] template {info.code} v{info.version} approved")


@template_app.command("list")
def template_list(
    code: Annotated[str | None, typer.Option("--code", help="only this code")] = None,
) -> None:
    """Every stored template version with its status."""
    from forbear.services import templates

    forbear = _app()
    with forbear.transaction() as conn:
        rows = templates.list_templates(conn, code=code)
    table = Table(title="Templates 模板")
    for name in ("ID", "Code", "Version", "Channel", "Audience", "Lang", "Status", "Checked (UTC)"):
        table.add_column(name)
    table.add_column("Body", overflow="ellipsis", max_width=50, no_wrap=True)
    for t in rows:
        checked = t.checked_at.strftime("%Y-%m-%d %H:%M") if t.checked_at else ""
        table.add_row(
            str(t.id),
            t.code,
            str(t.version),
            t.channel,
            t.audience,
            t.lang,
            t.status,
            checked,
            t.body.replace("\n", " "),
        )
    console.print(table)


def _is_usage_error(exc: Exception) -> bool:
    """Click's usage errors (bad or missing options), recognised without importing the
    click that typer vendors privately: they carry ``format_message`` and ``exit_code``."""
    return callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code")


def _print_usage_error(exc: Exception) -> None:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        console.print(ctx.get_help(), highlight=False)
        return
    where = ctx.command_path if ctx is not None else "forbear"
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    err.print(f"[red]error:[/] {message} (see `{where} --help`)", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- the daily run


def _count_table(title: str, rows: list[dict[str, object]], key: str, label: str) -> Table:
    table = Table(title=title)
    table.add_column(label)
    table.add_column("Count 数量", justify="right")
    for row in rows:
        name = row.get(key)
        table.add_row("-" if name is None else str(name), f"{int(row['count']):,}")  # type: ignore[call-overload]
    return table


def print_run_summary(summary: dict[str, object], as_of: date) -> None:
    """The stored summary of a daily run (``runs.summary``), printed with rich."""
    get = summary.get
    console.print(
        f"Daily run 每日作业 {as_of}: {get('accounts', 0):,} accounts, "
        f"{get('actions', 0):,} actions, strategy version "
        f"{get('strategy_version_id') or 'default (shipped)'}"
    )
    for title, key, label in (
        ("Accounts by segment 分群", "by_segment", "segment"),
        ("Accounts by treatment 处置", "by_treatment", "treatment"),
        ("Accounts by arm 实验组", "by_arm", "arm"),
        ("Blocked contacts by rule 合规拦截", "blocked_by_rule", "rule"),
        ("Scheduled by channel 今日渠道", "scheduled_by_channel", "channel"),
        ("Scheduled agent work by team 团队", "scheduled_by_team", "team_id"),
        ("Carried to tomorrow by channel 顺延", "carried_by_channel", "channel"),
    ):
        rows = get(key) or []
        assert isinstance(rows, list)
        if not rows:
            console.print(f"{title}: none")
            continue
        console.print(_count_table(title, rows, label, label))
    contacts = get("contacts") or {}
    assert isinstance(contacts, dict)
    console.print(
        f"Contacts 联系: {contacts.get('planned', 0):,} planned, "
        f"[green]{contacts.get('allowed', 0):,} allowed[/], "
        f"[red]{contacts.get('blocked', 0):,} blocked[/]"
    )
    usage = get("capacity") or []
    if usage:
        assert isinstance(usage, list)
        table = Table(title="Capacity use 产能使用")
        for name in usage[0]:
            table.add_column(str(name), justify="right")
        for row in usage:
            table.add_row(*("-" if v is None else str(v) for v in row.values()))
        console.print(table)
    console.print(
        f"Work queue 工作队列: {get('work_queue', 0):,} items; outbox 待发: "
        f"{get('outbox_added', 0):,} added ({get('outbox_total', 0):,} for the date)"
    )
    notes = get("notes")
    for note in notes if isinstance(notes, list) else []:
        # a skipped step is a warning; everything else is information
        console.print(f"[yellow]![/] {note}" if "skipped" in note else f"  · {note}")


@app.command("run")
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
    forbear = _app()
    result = run_day_phased(forbear.engine, day, data_dir=forbear.settings.data_dir, engine=engine)
    print_run_summary(result.summary, day)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except ImportRejected as exc:
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
        sys.exit(EXIT_REJECTED)
    except ForbearError as exc:
        # One line, whatever a driver put in its message.
        err.print(f"[red]error:[/] {' '.join(str(exc).split())}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err.print("interrupted: nothing was committed by the step in progress")
        sys.exit(130)
    except Exception as exc:
        if _is_usage_error(exc):
            _print_usage_error(exc)
            sys.exit(EXIT_REJECTED)
        # A bug, not bad input. Its message may quote data (personal data included), so
        # only the type and the place are shown; FORBEAR_DEBUG=1 shows the traceback.
        if os.environ.get("FORBEAR_DEBUG"):
            raise
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        place = f"{Path(frame.filename).name}:{frame.lineno}"
        err.print(
            f"[red]internal error:[/] {type(exc).__name__} at {place} "
            "(nothing from the failed step was committed; FORBEAR_DEBUG=1 shows details)",
            highlight=False,
        )
        sys.exit(EXIT_ERROR)


# Command groups kept in their own modules of this package.
from forbear.cli import legal as _legal  # noqa: E402
from forbear.cli import plans as _plans  # noqa: E402
from forbear.cli import promises as _promises  # noqa: E402
from forbear.cli import staff as _web  # noqa: E402

app.add_typer(_plans.app, name="plan")
app.add_typer(_promises.app, name="promise")
app.add_typer(_legal.app, name="legal")
app.add_typer(_web.app, name="staff")
app.command("serve")(_web.serve)
from forbear.cli import complaints as _complaints  # noqa: E402

app.add_typer(_complaints.app, name="complaint")

if __name__ == "__main__":
    main()
