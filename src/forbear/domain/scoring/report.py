"""A model report as one self-contained HTML document (opens offline, e-mails as a file).

:func:`render_report` returns the document as text; the caller writes it. The plotly.js
bundle is inlined once in the ``<head>`` and every chart is a ``<div>`` plus an inline
script, so the file references nothing on the network: it opens on an air-gapped
analyst laptop and inside a lender's intranet alike. Headings are bilingual, Chinese
(zh-CN) first. All text taken from the artefact or the data is HTML-escaped.

What is drawn depends on what is given:

* always: training metrics, the training score distribution, IV per feature
  (scorecards) or the training calibration curve (propensity models);
* with ``scores``: the current score distribution against training, score PSI;
* with ``scores`` and matured ``outcomes``: ROC and KS curves, event rate by band,
  current AUC/KS/Gini (and the current calibration curve for probability models);
* with ``monitoring`` (a :class:`~forbear.domain.scoring.monitoring.MonitoringResult`):
  its warnings and the feature PSI column.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from forbear.domain.scoring.artefact import Artefact
from forbear.domain.scoring.monitoring import (
    MonitoringResult,
    Performance,
    bad_rate_by_band,
    band_cuts,
    band_shares,
    performance,
    psi,
    psi_interpretation,
    roc_curve,
)
from forbear.domain.scoring.propensity import calibration_table

CHART_HEIGHT = "380px"
_CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;
margin:2rem auto;max-width:1100px;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:right}
th{background:#f0f4f8}td.l,th.l{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5rem 1rem;margin:.3rem 0}
.significant{border-left-color:#d64545}.meta{color:#52606d;font-size:.9rem}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _heading(zh: str, en: str, level: int = 2) -> str:
    return f"<h{level}>{_e(zh)} <small>{_e(en)}</small></h{level}>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Cells are already escaped/formatted; the first ``left`` columns align left."""
    head = "".join(
        f'<th class="l">{h}</th>' if i < left else f"<th>{h}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------------------ charts


class _Charts:
    """Collects figures as HTML fragments with stable ids (the same input, the same file)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, fig: Any) -> None:
        # The chart's title becomes an HTML heading (bilingual, searchable, readable
        # without JavaScript); plotly's own title would repeat it.
        title = str(fig.layout.title.text or "")
        zh, _, en = title.partition("|")  # "中文|English"
        fig.update_layout(
            title=None,
            margin={"l": 50, "r": 20, "t": 20, "b": 45},
            template="plotly_white",
            height=360,
        )
        fragment: str = fig.to_html(
            full_html=False,
            include_plotlyjs=False,  # the bundle is inlined once in <head>
            div_id=f"chart-{len(self.parts) + 1}",
            default_height=CHART_HEIGHT,
            config={"displaylogo": False, "responsive": True},
        )
        self.parts.append(f"<div>{_heading(zh, en, level=3)}{fragment}</div>")

    def html(self) -> str:
        return f'<div class="grid">{"".join(self.parts)}</div>' if self.parts else ""


def _roc_fig(roc: pl.DataFrame, auc: float) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=roc["fpr"].to_list(), y=roc["tpr"].to_list(), name=f"AUC {auc:.3f}")
    fig.add_scatter(x=[0, 1], y=[0, 1], name="随机 random", line={"dash": "dot", "color": "#999"})
    fig.update_layout(
        title="ROC 曲线|ROC curve",
        xaxis_title="假正率 false positive rate",
        yaxis_title="真正率 true positive rate",
    )
    return fig


def _ks_fig(roc: pl.DataFrame, events: int, rows: int) -> Any:
    import plotly.graph_objects as go

    fpr, tpr = roc["fpr"].to_numpy(), roc["tpr"].to_numpy()
    population = (tpr * events + fpr * (rows - events)) / rows
    gap = tpr - fpr
    at = int(np.argmax(gap))
    fig = go.Figure()
    fig.add_scatter(x=population, y=tpr, name="事件累计 events")
    fig.add_scatter(x=population, y=fpr, name="非事件累计 non-events")
    fig.add_scatter(x=population, y=gap, name=f"KS {gap[at]:.3f}", line={"dash": "dash"})
    fig.add_vline(x=float(population[at]), line={"color": "#999", "dash": "dot"})
    fig.update_layout(
        title="KS 曲线|KS curve",
        xaxis_title="按风险排序的人群占比 population share, riskiest first",
        yaxis_title="累计占比 cumulative share",
    )
    return fig


def _distribution_fig(
    labels: list[str], train: Sequence[float], current: Sequence[float] | None
) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(x=labels, y=list(train), name="训练 training")
    if current is not None:
        fig.add_bar(x=labels, y=list(current), name="当前 current")
    fig.update_layout(
        title="分数分布|Score distribution",
        xaxis_title="分数段 score band",
        yaxis_title="占比 share",
        barmode="group",
    )
    return fig


def _bad_rate_fig(bands: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(
        x=bands["label"].to_list(), y=bands["event_rate"].to_list(), name="事件率 event rate"
    )
    fig.update_layout(
        title="分数段事件率|Event (bad) rate by band",
        xaxis_title="分数段 score band",
        yaxis_title="事件率 event rate",
    )
    return fig


def _iv_fig(artefact: Artefact) -> Any:
    import plotly.graph_objects as go

    feats = sorted(artefact.features, key=lambda f: f.iv)
    fig = go.Figure()
    fig.add_bar(
        x=[f.iv for f in feats],
        y=[f"{f.label_zh} {f.name}" for f in feats],
        orientation="h",
        name="IV",
    )
    fig.update_layout(title="特征信息值|Information value per feature", xaxis_title="IV")
    return fig


def _calibration_fig(training: pl.DataFrame | None, current: pl.DataFrame | None) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], name="理想 perfect", line={"dash": "dot", "color": "#999"})
    for name, table in (("训练测试集 training test part", training), ("当前 current", current)):
        if table is not None and table.height:
            fig.add_scatter(
                x=table["mean_predicted"].to_list(),
                y=table["observed_rate"].to_list(),
                mode="lines+markers",
                name=name,
            )
    fig.update_layout(
        title="校准曲线|Calibration curve (deciles)",
        xaxis_title="平均预测概率 mean predicted",
        yaxis_title="实际发生率 observed rate",
    )
    return fig


# --------------------------------------------------------------------- sections


def _training_calibration(artefact: Artefact) -> pl.DataFrame | None:
    rows = (artefact.metrics.model_extra or {}).get("calibration")
    if not isinstance(rows, list) or not rows:
        return None
    return pl.DataFrame(rows)


def _metrics_section(
    artefact: Artefact, current: Performance | None, score_psi: float | None
) -> str:
    m = artefact.metrics
    extra = m.model_extra or {}
    rows: list[list[str]] = [
        ["AUC", _fmt(m.auc), _fmt(current.auc if current else None)],
        ["KS", _fmt(m.ks), _fmt(current.ks if current else None)],
        ["Gini", _fmt(m.gini), _fmt(current.gini if current else None)],
        ["事件率 event rate", _fmt(m.bad_rate), _fmt(current.event_rate if current else None)],
        [
            "样本数 rows",
            f"{_fmt(m.rows_train)} / {_fmt(m.rows_test)}",
            _fmt(current.rows if current else None),
        ],
    ]
    if isinstance(extra.get("brier"), float):
        rows.append(["Brier", _fmt(extra["brier"]), "–"])
    if isinstance(extra.get("calibration_error"), float):
        rows.append(["校准误差 calibration error", _fmt(extra["calibration_error"]), "–"])
    if score_psi is not None:
        rows.append(
            ["分数 PSI score PSI", "–", f"{_fmt(score_psi)} ({_e(psi_interpretation(score_psi))})"]
        )
    return _heading("模型指标", "Metrics") + _table(
        ["指标 metric", "训练（测试集）training (test part)", "当前 current"], rows
    )


def _features_section(artefact: Artefact, feature_psi: pl.DataFrame | None) -> str:
    psi_by_name: dict[str, float] = {}
    if feature_psi is not None and feature_psi.height:
        psi_by_name = dict(feature_psi.select("feature", "psi").iter_rows())
    if artefact.is_scorecard:
        rows = [
            [
                _e(f.name),
                _e(f.label_zh),
                _e(f.label_en),
                _fmt(f.iv),
                str(len(f.bins)),
                _fmt(psi_by_name.get(f.name)),
                _e(psi_interpretation(psi_by_name[f.name])) if f.name in psi_by_name else "–",
            ]
            for f in artefact.features
        ]
        header = ["特征 feature", "中文名", "name", "IV", "分箱 bins", "PSI", "判断 reading"]
        return _heading("特征", "Features") + _table(header, rows, left=3)
    rows = [
        [
            _e(name),
            _fmt(psi_by_name.get(name)),
            _e(psi_interpretation(psi_by_name[name])) if name in psi_by_name else "–",
        ]
        for name in artefact.inputs
    ]
    return _heading("输入变量", "Inputs") + _table(["输入 input", "PSI", "判断 reading"], rows)


def _tiers_section(artefact: Artefact, monitoring: MonitoringResult | None) -> str:
    """Rows and bad rate per tier at training (train and test splits) and, with matured
    outcomes, now: what a risk analyst sets cut-offs by."""
    if not artefact.tiers:
        return ""
    trained = {
        str(row.get("tier")): row
        for row in (artefact.metrics.model_extra or {}).get("tier_table", [])
        if isinstance(row, dict)
    }
    current: dict[str, dict[str, Any]] = {}
    if monitoring is not None and monitoring.tier_rates is not None:
        current = {str(r["tier"]): r for r in monitoring.tier_rates.iter_rows(named=True)}

    def pct(value: object) -> str:
        return f"{value:.2%}" if isinstance(value, float) else "–"

    def num(value: object) -> str:
        return f"{value:,}" if isinstance(value, int) else "–"

    rows = []
    for t in artefact.tiers:
        tr, now = trained.get(t.label, {}), current.get(t.label, {})
        rows.append(
            [
                _e(t.label),
                "floor 兜底" if t.min_score is None else f"≥ {t.min_score:.1f}",
                num(tr.get("rows")),
                pct(tr.get("bad_rate")),
                num(tr.get("rows_test")),
                pct(tr.get("bad_rate_test")),
                num(now.get("rows")),
                pct(now.get("event_rate")),
            ]
        )
    header = [
        "等级 tier",
        "最低分 min score",
        "训练样本 train rows",
        "训练坏账率 train bad rate",
        "测试样本 test rows",
        "测试坏账率 test bad rate",
        "当前样本 current rows",
        "当前坏账率 current bad rate",
    ]
    return _heading("风险等级", "Risk tiers") + _table(header, rows)


def _warnings_section(monitoring: MonitoringResult | None) -> str:
    if monitoring is None:
        return ""
    if not monitoring.warnings:
        return _heading("预警", "Warnings") + "<p>无预警。No warnings.</p>"
    items = "".join(
        f'<div class="warn {_e(w.severity)}">{_e(w.message_zh)}<br>'
        f"<small>{_e(w.message_en)}</small></div>"
        for w in monitoring.warnings
    )
    return _heading("预警", "Warnings") + items


def render_report(
    artefact: Artefact,
    *,
    scores: pl.Series | None = None,
    outcomes: pl.Series | None = None,
    monitoring: MonitoringResult | None = None,
    title: str = "模型报告 Model report",
) -> str:
    """The report as a complete HTML document (UTF-8 text); see the module docstring.

    ``scores`` are the current model outputs (points for a scorecard, probabilities
    otherwise) and ``outcomes`` the matching 1/0 events, null where not yet matured.
    """
    from plotly.offline import get_plotlyjs

    higher_means_event = not artefact.is_scorecard
    charts = _Charts()

    matured: Performance | None = monitoring.performance if monitoring else None
    roc: pl.DataFrame | None = None
    has_outcomes = (
        scores is not None and outcomes is not None and outcomes.drop_nulls().n_unique() == 2
    )
    if has_outcomes and scores is not None and outcomes is not None:
        roc = roc_curve(scores, outcomes, higher_means_event=higher_means_event)
        if matured is None:
            matured = performance(scores, outcomes, higher_means_event=higher_means_event)
        charts.add(_roc_fig(roc, matured.auc))
        charts.add(_ks_fig(roc, matured.events, matured.rows))

    score_psi_value = monitoring.score_psi if monitoring else None
    if artefact.score_band_shares:
        cuts = band_cuts(artefact)
        labels = [
            f"<{cuts[0]:.4g}" if i == 0 else f"≥{cuts[i - 1]:.4g}" for i in range(len(cuts) + 1)
        ]
        current = band_shares(scores, cuts) if scores is not None and scores.len() else None
        if current is not None and score_psi_value is None:
            score_psi_value = psi(artefact.score_band_shares, current)
        charts.add(_distribution_fig(labels, artefact.score_band_shares, current))
        if has_outcomes and scores is not None and outcomes is not None:
            bands = (
                monitoring.bad_rates if monitoring and monitoring.bad_rates is not None else None
            )
            charts.add(
                _bad_rate_fig(
                    bands if bands is not None else bad_rate_by_band(artefact, scores, outcomes)
                )
            )

    if artefact.is_scorecard:
        charts.add(_iv_fig(artefact))
    else:
        current_cal = (
            calibration_table(scores, outcomes)
            if has_outcomes and scores is not None and outcomes is not None
            else None
        )
        charts.add(_calibration_fig(_training_calibration(artefact), current_cal))

    t = artefact.training
    meta = (
        f'<p class="meta">模型 model: <b>{_e(artefact.name)}</b>'
        f" · 类型 kind: {_e(artefact.kind.value)}"
        f" · 创建 created: {_e(artefact.created_at.isoformat())}"
        f" · 训练数据 training data: {_e(t.source)}, {_fmt(t.rows)} 行 rows"
        f" · 目标 target {_e(t.target)}"
        f" · 指纹 fingerprint {_e(t.fingerprint[:12])}</p>"
    )
    if artefact.description:
        meta += f"<p>{_e(artefact.description)}</p>"
    body = "".join(
        [
            f"<h1>{_e(title)}</h1>",
            meta,
            _warnings_section(monitoring),
            _metrics_section(artefact, matured, score_psi_value),
            _tiers_section(artefact, monitoring),
            _heading("图表", "Charts"),
            charts.html(),
            _features_section(artefact, monitoring.feature_psi if monitoring else None),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
