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
from forbear.domain.scoring.config import DEFAULT_CONFIG as _DEFAULT
from forbear.domain.scoring.config import ScorecardConfig

# optbinning's trends: chosen from the data (auto), or monotonic (auto_asc_desc), or fixed
TRENDS = ("auto", "auto_asc_desc", "ascending", "descending", "peak", "valley")

app = typer.Typer(help="Risk models: train, review, activate, roll back, export, score.")


def _kind(text: str) -> ModelKind:
    try:
        return ModelKind(text)
    except ValueError:
        names = ", ".join(k.value for k in ModelKind)
        raise ValidationError("--kind", f"unknown model kind {text!r} (use {names})") from None


def _pct(value: object) -> str:
    return f"{value:.2%}" if isinstance(value, float) else "–"


def _config(
    categorical: list[str],
    exclude: list[str],
    iv_min: float | None,
    corr_max: float | None,
    min_bin_share: float | None,
    trend: str | None = None,
) -> ScorecardConfig:
    if trend is not None and trend not in TRENDS:
        raise ValidationError("--trend", f"use one of {', '.join(TRENDS)}")
    if iv_min is not None and not 0 <= iv_min < 1:
        raise ValidationError("--iv-min", "an IV threshold between 0 and 1")
    if corr_max is not None and not 0 < corr_max <= 1:
        raise ValidationError("--corr-max", "a correlation above 0, at most 1")
    if min_bin_share is not None and not 0 < min_bin_share <= 0.5:
        raise ValidationError("--min-bin-share", "a share above 0, at most 0.5")
    both = sorted(set(categorical) & set(exclude))
    if both:
        raise ValidationError(both[0], "both --categorical and excluded")
    return ScorecardConfig(
        iv_threshold=_DEFAULT.iv_threshold if iv_min is None else iv_min,
        corr_threshold=_DEFAULT.corr_threshold if corr_max is None else corr_max,
        min_bin_share=_DEFAULT.min_bin_share if min_bin_share is None else min_bin_share,
        categorical=tuple(dict.fromkeys(categorical)),
        exclude=tuple(dict.fromkeys(exclude)),
        monotonic_trend=trend or _DEFAULT.monotonic_trend,
    )


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
    if trained.excluded:
        console.print("excluded by configuration 按配置排除: " + ", ".join(trained.excluded))
    if trained.tier_table is not None and trained.tier_table.height:
        tiers = Table(title="Risk tiers 风险等级 (bad rate = share of bads 坏账率)")
        for name in (
            "Tier 等级",
            "Min score 最低分",
            "Train rows 训练样本",
            "Train bad rate 训练坏账率",
            "Test rows 测试样本",
            "Test bad rate 测试坏账率",
        ):
            tiers.add_column(name, justify="right")
        for row in trained.tier_table.iter_rows(named=True):
            tiers.add_row(
                row["tier"],
                "floor 兜底" if row["min_score"] is None else f"{row['min_score']:.1f}",
                f"{row['rows']:,}",
                _pct(row["bad_rate"]),
                f"{row['rows_test']:,}" if row["rows_test"] is not None else "–",
                _pct(row["bad_rate_test"]),
            )
        console.print(tiers)
    for zh, en in trained.warnings:
        console.print(f"[yellow]warning 警告:[/] {zh} / {en}")
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
    categorical: Annotated[
        list[str] | None,
        typer.Option(
            "--categorical", help="a column binned as categories even if numbers (repeat)"
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="a column never used (repeat); added to FORBEAR_SCORING_EXCLUDE",
        ),
    ] = None,
    iv_min: Annotated[
        float | None,
        typer.Option(
            "--iv-min", help=f"keep features with IV >= this (default {_DEFAULT.iv_threshold})"
        ),
    ] = None,
    corr_max: Annotated[
        float | None,
        typer.Option(
            "--corr-max",
            help=f"drop the weaker of two features whose WoE correlate beyond this "
            f"(default {_DEFAULT.corr_threshold})",
        ),
    ] = None,
    min_bin_share: Annotated[
        float | None,
        typer.Option(
            "--min-bin-share",
            help=f"smallest bin, share of rows (default {_DEFAULT.min_bin_share})",
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="YAML or CSV of feature labels (zh, en) for reason codes"),
    ] = None,
    trend: Annotated[
        str | None,
        typer.Option(
            "--trend",
            help=f"bins of numeric features: {', '.join(TRENDS)} "
            f"(default {_DEFAULT.monotonic_trend})",
        ),
    ] = None,
) -> None:
    """Train a model and store it as a candidate (nothing is stored if training fails)."""
    from forbear.services import models

    chosen = _kind(kind)
    forbear = open_app()
    config = _config(
        categorical or [],
        [*forbear.settings.scoring_exclude, *(exclude or [])],
        iv_min,
        corr_max,
        min_bin_share,
        trend,
    )
    if chosen is ModelKind.APPLICATION:
        if file is None or target is None:
            raise ValidationError("--kind application", "needs --file and --target")
        names = models.read_labels(labels) if labels is not None else None
        with forbear.transaction() as conn:
            trained = models.train_application(
                conn,
                file,
                target,
                feature or None,
                seed=seed,
                bad_value=bad,
                now=forbear.now(),
                config=config,
                labels=names,
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
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="business date YYYY-MM-DD (the book)")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="a CSV or Parquet table to score")
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="with --file: the .csv or .parquet to write")
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="with --file: a version id or a kind's active model")
    ] = "application",
    id_column: Annotated[
        str | None, typer.Option("--id", help="with --file: the column identifying a row")
    ] = None,
    reasons: Annotated[int, typer.Option("--reasons", help="reason codes per row")] = 4,
) -> None:
    """Score the book (--as-of: every active loan with each active book model, stored),
    or a table (--file F --to out.csv|out.parquet: score, tier and reasons per row)."""
    from forbear.services import models

    forbear = open_app()
    if file is not None:
        if to is None:
            raise ValidationError("--to", "give the .csv or .parquet file to write")
        if as_of is not None:
            raise ValidationError("--as-of", "score either the book (--as-of) or a --file")
        with forbear.transaction() as conn:
            scored = models.score_file(conn, model, file, to, id_column=id_column, reasons=reasons)
        tiers = ", ".join(f"{k} {v:,}" for k, v in scored.tiers.items())
        console.print(
            f"[green]✓[/] {scored.rows:,} rows scored with model {scored.model.id} "
            f"({scored.model.name}) → {scored.path}; tiers 等级: {tiers}"
        )
        return
    if as_of is None:
        raise ValidationError("--as-of", "give the business date, or --file and --to")
    day = parse_date(as_of, "--as-of")
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
    if result.tier_rates is not None:
        tiers = Table(title="Bad rate by tier 各等级坏账率")
        for name in ("Tier 等级", "Rows 样本", "Bads 坏样本", "Bad rate 坏账率", "Training 训练时"):
            tiers.add_column(name, justify="right")
        for rate in result.tier_rates.iter_rows(named=True):
            tiers.add_row(
                rate["tier"],
                f"{rate['rows']:,}",
                f"{rate['events']:,}",
                _pct(rate["event_rate"]),
                _pct(rate["training_event_rate"]),
            )
        console.print(tiers)
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
    """Write a self-contained HTML report (Plotly charts, opens offline). An application
    model without --file is reported as training measured it (metrics, tiers, IV)."""
    from forbear.services import models
    from forbear.services.monitoring import MonitorRun, write_report

    if file is None:
        forbear = open_app()
        with forbear.transaction() as conn:
            info = models.resolve_model(conn, model)
        if info.kind == ModelKind.APPLICATION.value:
            if target is not None or bad is not None:
                raise ValidationError("--target", "needs --file, the table the outcomes are in")
            with forbear.transaction() as conn:
                info, path = models.write_training_report(conn, str(info.id), to)
            console.print(
                f"[green]✓[/] training report for model {info.id} written to {path} "
                "(give --file and --target to compare a current population)"
            )
            return
    run = _monitor_run(model, as_of, file, target, bad)
    assert isinstance(run, MonitorRun)
    path = write_report(run, to)
    console.print(f"[green]✓[/] report for model {run.model.id} written to {path}")
