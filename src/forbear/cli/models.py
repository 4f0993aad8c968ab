"""``forbear model``: risk models: train, review, activate, roll back, export, score,
monitor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import cli_actor, console, open_app, parse_date, today_in
from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import ModelKind

app = typer.Typer(help="Risk models: train, review, activate, roll back, export, score.")


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


@app.command("train")
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
    forbear = open_app()
    if chosen is ModelKind.APPLICATION:
        if file is None or target is None:
            raise ValidationError("--kind application", "needs --file and --target")
        with forbear.transaction() as conn:
            trained = models.train_application(
                conn,
                file,
                target,
                feature or None,
                seed=seed,
                bad_value=bad,
                now=forbear.now(),
            )
    else:
        day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
        with forbear.transaction() as conn:
            trained = models.train_on_book(
                conn,
                chosen,
                as_of=day,
                window=window,
                months=months,
                seed=seed,
                now=forbear.now(),
            )
    _print_trained(trained)


@app.command("list")
def model_list() -> None:
    """Every model version with its status and test metrics."""
    from forbear.services import models

    forbear = open_app()
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


@app.command("activate")
def model_activate(version_id: int) -> None:
    """Make a version the active one of its kind (the previous one is retired)."""
    from forbear.services import models

    forbear = open_app()
    with forbear.transaction() as conn:
        info = models.activate(conn, version_id, actor=cli_actor(), now=forbear.now())
    console.print(f"[green]✓[/] {info.kind} model {info.id} ({info.name}) is active")


@app.command("rollback")
def model_rollback(kind: str) -> None:
    """Re-activate the previously active version of a kind and retire the current one."""
    from forbear.services import models

    chosen = _kind(kind)
    forbear = open_app()
    with forbear.transaction() as conn:
        info = models.rollback(conn, chosen, actor=cli_actor(), now=forbear.now())
    console.print(f"[green]✓[/] {info.kind} model {info.id} ({info.name}) is active again")


@app.command("export")
def model_export(
    version_id: int,
    to: Annotated[Path, typer.Option("--to", help="a .json, .csv or .xlsx file")],
) -> None:
    """Export a model: the artefact (.json) or the scorecard table (.csv, .xlsx)."""
    from forbear.services import models

    forbear = open_app()
    with forbear.transaction() as conn:
        path = models.export(conn, version_id, to)
    console.print(f"[green]✓[/] model {version_id} written to {path}")


@app.command("score")
def model_score(
    as_of: Annotated[str, typer.Option("--as-of", help="business date YYYY-MM-DD")],
) -> None:
    """Score every active loan with each active book model and store the scores."""
    from forbear.services import models

    day = parse_date(as_of, "--as-of")
    forbear = open_app()
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

    forbear = open_app()
    day = parse_date(as_of, "--as-of") if as_of else today_in(forbear)
    with forbear.transaction() as conn:
        return monitor_model(conn, which, day, table=file, target=target, bad_value=bad)


@app.command("monitor")
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


@app.command("report")
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
