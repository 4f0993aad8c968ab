"""``forbear experiment``: read out champion/challenger experiments, promote a challenger."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer
from rich.table import Table

from forbear.cli.common import cli_actor, console, open_app, parse_date, yuan

app = typer.Typer(
    help="Champion/challenger experiments: read out each arm against the champion and the "
    "hold-out control, promote a challenger.",
    no_args_is_help=True,
)

From = Annotated[str | None, typer.Option("--from", help="first run day (YYYY-MM-DD)")]
To = Annotated[str | None, typer.Option("--to", help="last day of the window (YYYY-MM-DD)")]
METRIC_NAMES = {
    "recovered": "recovered/account 户均回收",
    "cure_rate": "cure rate 治愈率",
    "roll_rate": "roll-forward 恶化率",
    "promise_kept_rate": "kept a promise 承诺兑现",
    "contacts_per_account": "contacts/account 户均联系",
    "complaints_per_10k": "complaints/10k contacts 万次联系投诉",
    "opt_out_rate": "opt-outs 退订率",
}


def _window(start: str | None, end: str | None) -> tuple[Any, Any]:
    return (
        parse_date(start, "--from") if start else None,
        parse_date(end, "--to") if end else None,
    )


def _value(metric: str, v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    if metric == "recovered":
        return yuan(round(v))
    if metric.endswith("_rate"):
        return f"{v:+.1%}" if v < 0 else f"{v:.1%}"
    return f"{v:.2f}" if metric != "complaints_per_10k" else f"{v:.1f}"


def _diff(metric: str, v: float) -> str:
    if not math.isfinite(v):
        return "∞" if v > 0 else "-∞"
    if metric == "recovered":
        return ("-" if v < 0 else "+") + yuan(abs(round(v)))
    if metric.endswith("_rate"):
        return f"{v * 100:+.1f} pp"
    return f"{v:+.2f}"


@app.command("list")
def experiment_list() -> None:
    """The experiments of the active strategy (and of stored versions)."""
    from forbear.services import experiments

    forbear = open_app()
    with forbear.transaction() as conn:
        rows = experiments.experiments(conn, cli_actor())
    table = Table(title="Experiments 实验")
    for name in ("Experiment", "Segment", "Arms (treatment, share)", "Defined in", "In force"):
        table.add_column(name)
    for x in rows:
        arms = ", ".join(f"{a.name} ({a.treatment}, {a.share:.0%})" for a in x.arms)
        where = f"version {x.version.id}" if x.version else "shipped default"
        table.add_row(x.id, x.segment, arms, where, "yes" if x.active else "")
    console.print(table)


@app.command("report")
def experiment_report(
    experiment: Annotated[str, typer.Argument(help="experiment id")],
    start: From = None,
    end: To = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Per arm and for the hold-out control: accounts, recovery, cure and roll-forward,
    promises kept, contacts, complaints, opt-outs; each arm against the champion and the
    control with confidence intervals, the minimum detectable effect and a verdict."""
    from forbear.services import experiments

    forbear = open_app()
    first, last = _window(start, end)
    with forbear.reading() as conn:  # a readout writes nothing
        report = experiments.report(conn, experiment, cli_actor(), start=first, end=last)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    r = report.readout
    window = f"{report.start} to {report.end}" if report.start else "no run"
    arms = Table(title=f"Experiment 实验 {experiment} ({report.experiment.segment}), {window}, "
                       f"{report.days} run days")  # fmt: skip
    for name in ("Arm 组", "Accounts 账户", "Recovered 回收", "Per account 户均", "Cure 治愈",
                 "Roll 恶化", "Promises kept 兑现", "Contacts/acct 户均联系",
                 "Complaints/10k 万次投诉", "Opt-outs 退订"):  # fmt: skip
        arms.add_column(name, justify="right")
    for a in r.arms:
        arms.add_row(
            a.arm, f"{a.accounts:,}", yuan(a.recovered_total), yuan(round(a.recovered)),
            f"{a.cure_rate:.1%}", f"{a.roll_rate:.1%}", f"{a.promises_kept}/{a.promises}",
            f"{a.contacts_per_account:.2f}",
            "-" if a.complaints_per_10k is None else f"{a.complaints_per_10k:.1f}",
            f"{a.opted_out} ({a.opt_out_rate:.1%})",
        )  # fmt: skip
    console.print(arms)
    for c in r.comparisons:
        t = Table(title=f"{c.arm} − {c.reference} (each interval {c.level:.2%}, "
                        f"family {r.policy.confidence:.0%})")  # fmt: skip
        for name in ("Metric 指标", "Difference 差异", "Interval 区间", "p", "MDE 最小可测"):
            t.add_column(name, justify="right")
        for d in c.differences:
            mark = "" if not d.differs else (" ✓" if d.better else " ✗")
            t.add_row(
                METRIC_NAMES[d.metric], _diff(d.metric, d.estimate) + mark,
                f"[{_diff(d.metric, d.low)}, {_diff(d.metric, d.high)}]",
                f"{d.p_value:.3f}", _diff(d.metric, d.mde).lstrip("+"),
            )  # fmt: skip
        console.print(t)
        console.print(f"  {c.verdict.zh}", highlight=False)
        console.print(f"  {c.verdict.en}", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command("promote")
def experiment_promote(
    experiment: Annotated[str, typer.Argument(help="experiment id")],
    arm: Annotated[str, typer.Option("--arm", help="the arm whose treatment becomes champion")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="required when the evidence is weak")
    ] = None,
    start: From = None,
    end: To = None,
) -> None:
    """Store a new candidate strategy version in which ARM's treatment is the segment's
    champion (the experiment removed); audited with the readout it was shown."""
    from forbear.services import experiments

    forbear = open_app()
    first, last = _window(start, end)
    with forbear.transaction() as conn:
        p = experiments.promote(
            conn, experiment, arm, cli_actor(), now=forbear.now(), reason=reason,
            start=first, end=last,
        )  # fmt: skip
    console.print(
        f"[green]✓[/] stored strategy {p.strategy.id} ({p.strategy.name} v{p.strategy.version}): "
        f"{p.treatment} is the champion of experiment {p.experiment}'s segment "
        f"(verdict: {p.verdict}{', reason recorded' if p.weak else ''}); "
        f"check it with `forbear strategy check` and activate it with "
        f"`forbear strategy activate {p.strategy.id}`",
        highlight=False,
    )
