"""The HTML report: self-contained (no network), bilingual, charts for what was given."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from forbear.domain.scoring.monitoring import monitor
from forbear.domain.scoring.propensity import predict_propensity, train_propensity
from forbear.domain.scoring.report import render_report

from .factories import make_payers, make_scorecard

NETWORK_REF = re.compile(
    r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""",
    re.IGNORECASE,
)


def _assert_offline(doc: str) -> None:
    assert doc.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in doc
    assert NETWORK_REF.search(doc) is None
    assert "<script src" not in doc.lower()
    assert "<link" not in doc.lower()
    # the plotly.js bundle is inlined, exactly once
    bundle = get_plotlyjs()
    assert bundle[:2000] in doc
    assert doc.count("plotly.js v") == bundle.count("plotly.js v")


def _body(doc: str) -> str:
    return doc.split("</head>", 1)[1]


def _charts(doc: str) -> int:
    return len(re.findall(r'id="chart-\d+"', doc))


def _scorecard_population() -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    frame = pl.DataFrame(
        {
            "age": [None, -1.0, 20.0, 20.0, 40.0, 40.0, 40.0, 40.0, 60.0, 60.0] * 20,
            "region": (["east"] * 5 + ["west"] * 2 + ["north"] * 2 + ["south"]) * 20,
        }
    )
    scores = pl.Series("score", [450.0 + 10 * (i % 20) for i in range(200)])
    outcomes = pl.Series("bad", [1 if (s < 500 or i % 7 == 0) else 0 for i, s in enumerate(scores)])
    return frame, scores, outcomes


def test_a_scorecard_report_with_outcomes_is_complete_and_offline() -> None:
    art = make_scorecard(name="app<script>")
    frame, scores, outcomes = _scorecard_population()
    result = monitor(art, frame, scores=scores, outcomes=outcomes)
    doc = render_report(art, scores=scores, outcomes=outcomes, monitoring=result)
    _assert_offline(doc)
    # ROC, KS, score distribution, bad rate by band, IV
    assert _charts(doc) == 5
    for heading in (
        "<h3>ROC 曲线 <small>ROC curve</small></h3>",
        "<h3>KS 曲线 <small>KS curve</small></h3>",
        "<h3>分数分布 <small>Score distribution</small></h3>",
        "<h3>分数段事件率 <small>Event (bad) rate by band</small></h3>",
        "<h3>特征信息值 <small>Information value per feature</small></h3>",
    ):
        assert heading in doc
    # Chinese before English in headings
    assert "<h2>模型指标 <small>Metrics</small></h2>" in doc
    assert "<h2>特征 <small>Features</small></h2>" in doc
    assert "年龄" in doc and "0.210" in doc  # feature label and IV in the table
    assert "app&lt;script&gt;" in doc and "app<script>" not in doc


def test_a_scorecard_report_from_the_artefact_alone() -> None:
    doc = render_report(make_scorecard(), title="申请评分卡 Application scorecard")
    _assert_offline(doc)
    assert _charts(doc) == 2  # training score distribution and IV
    assert "<title>申请评分卡 Application scorecard</title>" in doc
    assert "ROC" not in _body(doc)


def test_warnings_are_shown_in_both_languages() -> None:
    art = make_scorecard()
    frame = pl.DataFrame({"age": [70.0] * 50, "region": ["east"] * 50})
    scores = pl.Series([700.0] * 50)
    doc = render_report(art, scores=scores, monitoring=monitor(art, frame, scores=scores))
    assert "评分分布显著偏移" in doc and "significant shift in the score distribution" in doc
    assert 'class="warn significant"' in doc


@pytest.fixture(scope="module")
def propensity():  # type: ignore[no-untyped-def]
    book = make_payers(3000, seed=11)
    artefact, _ = train_propensity(
        book,
        "paid",
        features=["z", "dpd", "channel", "noise"],
        categorical=["channel"],
        name="ptp",
        source="synthetic",
        created_at=datetime(2025, 3, 1, tzinfo=UTC),
        threads=1,
        folds=3,
    )
    return artefact, book


def test_a_propensity_report_draws_the_calibration_curve(propensity) -> None:  # type: ignore[no-untyped-def]
    artefact, book = propensity
    scores = predict_propensity(book, artefact)
    outcomes = book["paid"]
    result = monitor(artefact, book, scores=scores, outcomes=outcomes)
    doc = render_report(artefact, scores=scores, outcomes=outcomes, monitoring=result)
    _assert_offline(doc)
    assert "<h3>校准曲线 <small>Calibration curve (deciles)</small></h3>" in doc
    assert "特征信息值" not in _body(doc)
    assert _charts(doc) == 5  # ROC, KS, distribution, event rate by band, calibration
    assert "Brier" in doc
    assert "<h2>输入变量 <small>Inputs</small></h2>" in doc
