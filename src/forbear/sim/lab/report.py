"""The lab's offline HTML report: one file, Plotly charts with plotly.js embedded inline
(nothing is fetched when it is opened), headings in Chinese first with English.

Sections: the comparison (recovery and complaints per 10,000 contacts with intervals per
strategy; the paired differences), over time (cumulative recovery and complaints, mean
and interval band across seeds), cost (agent minutes, messages by channel), the rules
(planned, blocked, violations), and the sensitivity (a tornado of the recovery
difference per assumption, and which assumptions would change the ranking).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from forbear.sim.lab.run import LabResult
from forbear.sim.lab.sensitivity import Sensitivity, tornado
from forbear.sim.lab.stats import METRICS, daily_bands, paired, summary

_COLOURS = ["#2a6f97", "#c8553d", "#588157", "#8e7dbe", "#f2a541", "#5c677d"]


def _bars(result: LabResult, table: pl.DataFrame, metric: str, title: str) -> go.Figure:
    rows = table.filter(pl.col("metric") == metric)
    means = rows["mean"].to_list()
    lows = [(m - lo) if lo is not None else 0.0 for m, lo in zip(means, rows["low"], strict=True)]
    highs = [(hi - m) if hi is not None else 0.0 for m, hi in zip(means, rows["high"], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=rows["strategy"].to_list(),
            y=means,
            error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
            marker_color=_COLOURS[: rows.height],
        )
    )
    fig.update_layout(title=title, height=360, margin={"t": 50, "b": 40})
    return fig


def _over_time(result: LabResult, column: str, title: str) -> go.Figure:
    bands = daily_bands(result, column)
    fig = go.Figure()
    for i, name in enumerate(result.strategies):
        b = bands.filter(pl.col("strategy") == name)
        colour = _COLOURS[i % len(_COLOURS)]
        days = b["day"].to_list()
        fig.add_trace(
            go.Scatter(
                x=days + days[::-1],
                y=b["high"].to_list() + b["low"].to_list()[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.2,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(go.Scatter(x=days, y=b["mean"].to_list(), name=name, line={"color": colour}))
    fig.update_layout(title=title, height=380, margin={"t": 50, "b": 40})
    return fig


def _tornado(sens: Sensitivity, a: str, b: str) -> go.Figure:
    t = tornado(sens, a, b).head(20).reverse()
    base = float(t["base"][0]) if t.height else 0.0
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=t["parameter"].to_list(),
            x=[v - base for v in t["low"].to_list()],
            base=base,
            orientation="h",
            name="区间下限 low end",
            marker_color="#2a6f97",
        )
    )
    fig.add_trace(
        go.Bar(
            y=t["parameter"].to_list(),
            x=[v - base for v in t["high"].to_list()],
            base=base,
            orientation="h",
            name="区间上限 high end",
            marker_color="#c8553d",
        )
    )
    fig.add_vline(x=0, line_dash="dot", line_color="#333")
    fig.add_vline(x=base, line_color="#888")
    fig.update_layout(
        barmode="overlay",
        title=f"回收差异敏感性 Recovery difference {b} − {a} (yuan), "
        "each assumption at its range ends",
        height=max(360, 28 * t.height + 120),
        margin={"l": 220, "t": 60},
    )
    return fig


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.iter_rows():
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.0f}"
    return str(v)


def _comparison_table(result: LabResult, table: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for metric, label in METRICS.items():
        row: dict[str, str] = {"指标 Metric": label}
        for name in result.strategies:
            r = table.filter((pl.col("strategy") == name) & (pl.col("metric") == metric))
            if r.height:
                mean, low, high = r["mean"][0], r["low"][0], r["high"][0]
                digits = 4 if metric == "recovery_rate" else (1 if "per_10k" in metric else 0)
                row[name] = (
                    f"{mean:,.{digits}f}"
                    if low is None
                    else f"{mean:,.{digits}f} [{low:,.{digits}f}, {high:,.{digits}f}]"
                )
        rows.append(row)
    return pl.DataFrame(rows)


def _cost_table(result: LabResult, table: pl.DataFrame) -> pl.DataFrame:
    keys = sorted({m for m in table["metric"].to_list() if m.startswith(("messages.", "tasks."))})
    rows = []
    for key in ["agent_minutes", "agent_tasks", *keys]:
        row: dict[str, str] = {"成本 Cost": key}
        for name in result.strategies:
            r = table.filter((pl.col("strategy") == name) & (pl.col("metric") == key))
            row[name] = f"{r['mean'][0]:,.0f}" if r.height else "0"
        rows.append(row)
    return pl.DataFrame(rows)


def render(
    result: LabResult,
    sens: Sensitivity | None = None,
    *,
    title: str = "策略实验室 Strategy lab",
    notes: list[str] | None = None,
) -> str:
    """The report as one self-contained HTML text."""
    table = summary(result)
    figures = [
        _bars(
            result, table, "recovered_yuan", "回收金额 Recovered (yuan), 95% interval across seeds"
        ),
        _bars(
            result,
            table,
            "complaints_per_10k",
            "每万次接触投诉 Complaints per 10,000 contacts, 95% interval",
        ),
        _over_time(result, "recovered_yuan", "累计回收 Cumulative recovery (yuan)"),
        _over_time(result, "complaints", "累计投诉 Cumulative complaints"),
    ]
    parts: list[str] = []
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False))
    diffs = []
    names = result.strategies
    for other in names[1:]:
        for metric in ("recovered_yuan", "complaints_per_10k", "opt_outs", "agent_minutes"):
            iv = paired(result, names[0], other, metric)
            diffs.append(
                {
                    "对比 Comparison": f"{other} − {names[0]}",
                    "指标 Metric": METRICS.get(metric, metric),
                    "差异 Difference [95%]": iv.text(1),
                }
            )
    violations = sum(r.totals.get("violations", 0.0) for r in result.runs)
    blocked: dict[str, int] = {}
    for r in result.runs:
        for rule, n in r.blocked_by_rule.items():
            blocked[rule] = blocked.get(rule, 0) + n
    sens_html = ""
    if sens is not None and len(names) >= 2:
        tfig = _tornado(sens, names[0], names[1])
        changes = sens.changes("recovered_yuan")
        changes_c = sens.changes("complaints_per_10k")
        sens_html = (
            "<h2>敏感性 Sensitivity</h2>"
            f"<p>Each simulator assumption set to each end of its stated range, one at a "
            f"time ({sens.seeds} seeds, {sens.days} days, {sens.loans:,} loans).</p>"
            + tfig.to_html(full_html=False, include_plotlyjs=False)
            + "<p><b>改变回收排名的假设 Assumptions that would change the ranking on recovery:</b> "
            + html.escape(
                ", ".join(changes) if changes else "none: the ranking holds over every range"
            )
            + "</p><p><b>改变投诉排名的假设 … on complaints per 10,000 contacts:</b> "
            + html.escape(", ".join(changes_c) if changes_c else "none")
            + "</p>"
            + (_table(sens.flips) if sens.flips.height else "")
        )
    blocked_html = (
        _table(pl.DataFrame({"rule": list(blocked), "blocked": list(blocked.values())}))
        if blocked
        else "<p>No planned contact was blocked.</p>"
    )
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in (notes or []) + result.notes)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "PingFang SC", "Noto Sans CJK SC", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th {{ background: #f0f0f0; }}
td:first-child {{ text-align: left; }}
.ok {{ color: #2d6a4f; }} .bad {{ color: #b00020; font-weight: bold; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{result.loans:,} loans ({result.borrowers:,} borrowers), {result.days} days from
{result.start.isoformat()}, {len({r.seed for r in result.runs})} seeds per strategy;
simulator parameters version {html.escape(result.params_version or "?")}. Intervals are
95% Student-t intervals of the mean across seeds; differences are paired by seed.</p>
<ul>{note_html}</ul>
<h2>对比 Comparison</h2>
{_table(_comparison_table(result, table))}
{parts[0]}{parts[1]}
<h3>配对差异 Paired differences</h3>
{_table(pl.DataFrame(diffs)) if diffs else ""}
<h2>随时间 Over time</h2>
{parts[2]}{parts[3]}
<h2>成本 Cost</h2>
{_table(_cost_table(result, table))}
<h2>合规 The rules</h2>
<p class="{"ok" if violations == 0 else "bad"}">违规 Rule violations among delivered
actions (each re-checked by the gate): {int(violations)}</p>
{blocked_html}
{sens_html}
</body></html>
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
