from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from forbear.domain.scoring.artefact import Artefact, BinKind
from forbear.domain.scoring.compiled import (
    PD,
    REASON_CODES,
    SCORE,
    SCORE_INT,
    TIER,
    pd_expression,
    points_column,
    score_frame,
)
from forbear.domain.scoring.estimator import ScorecardClassifier
from forbear.domain.scoring.export import scorecard_table, write_csv, write_excel
from forbear.domain.scoring.labels import feature_label
from forbear.domain.scoring.reasons import bin_points, explain
from forbear.domain.scoring.tiers import tier_of

from .conftest import TARGET


def test_scored_columns_and_types(german_credit: pl.DataFrame, artefact: Artefact) -> None:
    out = score_frame(german_credit.lazy(), artefact).collect()
    assert out.schema[SCORE] == pl.Float64
    assert out.schema[SCORE_INT] == pl.Int64
    assert out.schema[REASON_CODES] == pl.List(pl.String)
    pts = sum(out[points_column(f.name)] for f in artefact.features)
    np.testing.assert_allclose(out[SCORE].to_numpy(), pts.to_numpy())
    assert (out[SCORE_INT] == (out[SCORE] + 0.5).floor().cast(pl.Int64)).all()
    assert out[REASON_CODES].list.len().max() <= 4


def test_pd_follows_the_scaling(artefact: Artefact) -> None:
    assert artefact.scaling is not None
    frame = pl.DataFrame({SCORE: [600.0, 620.0, 580.0]})
    pd = frame.select(pd_expression(artefact.scaling, pl.col(SCORE)).alias(PD))[PD].to_list()
    assert pd[0] == pytest.approx(1 / 51)  # 50:1 good:bad at 600
    assert pd[1] == pytest.approx(1 / 101)  # odds double every 20 points


def test_one_row_equals_batch_and_explain_matches(
    german_credit: pl.DataFrame, artefact: Artefact
) -> None:
    batch = score_frame(german_credit.lazy(), artefact).collect()
    for i in range(0, german_credit.height, 37):
        row = german_credit.row(i, named=True)
        one = score_frame(german_credit.slice(i, 1).lazy(), artefact).collect()
        assert one[SCORE][0] == batch[SCORE][i]
        assert one[TIER][0] == batch[TIER][i] == tier_of(batch[SCORE][i], artefact.tiers)
        reasons = explain(row, artefact)
        assert [r.feature for r in reasons] == batch[REASON_CODES][i].to_list()
        for r in reasons:
            assert r.points_lost > 0
            assert r.points_lost == pytest.approx(
                next(f.best_points for f in artefact.features if f.name == r.feature)
                - batch[points_column(r.feature)][i],
                abs=1e-6,
            )


@settings(max_examples=60, deadline=None)
@given(
    amount=st.one_of(
        st.none(), st.just(math.nan), st.floats(-1e6, 1e6), st.sampled_from([3913.5, 7696.0, -1.0])
    ),
    duration=st.one_of(st.none(), st.integers(-10, 100)),
    purpose=st.one_of(st.none(), st.sampled_from(["business", "repairs", "space travel", ""])),
    n=st.integers(0, 6),
)
def test_vectorised_equals_scalar_on_generated_rows(
    artefact: Artefact,
    german_credit: pl.DataFrame,
    amount: float | None,
    duration: int | None,
    purpose: str | None,
    n: int,
) -> None:
    row = german_credit.row(0, named=True) | {
        "credit_amount": amount,
        "duration_in_month": duration,
        "purpose": purpose,
    }
    frame = pl.DataFrame([row], schema=german_credit.schema | {"credit_amount": pl.Float64})
    out = score_frame(frame.lazy(), artefact, reasons=n).collect()
    for f in artefact.features:
        assert out[points_column(f.name)][0] == pytest.approx(bin_points(f, row[f.name]), abs=1e-9)
    assert [r.feature for r in explain(row, artefact, n=n)] == out[REASON_CODES][0].to_list()


def test_unseen_category_scores_as_missing_bin(
    german_credit: pl.DataFrame, artefact: Artefact
) -> None:
    purpose = next(f for f in artefact.features if f.name == "purpose")
    frame = german_credit.head(2).with_columns(
        pl.Series("purpose", ["space travel", None], dtype=pl.String)
    )
    out = score_frame(frame.lazy(), artefact).collect()
    assert out[points_column("purpose")].to_list() == [purpose.bins[-1].points] * 2


def test_labels_fall_back_to_the_column_name() -> None:
    assert feature_label("duration.in.month") == ("贷款期限（月）", "Duration in months")
    assert feature_label("max_dpd_6m")[0] == "近6个月最大逾期天数"
    assert feature_label("shoe_size") == ("shoe_size", "shoe_size")


def _xy(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    return frame.drop(TARGET), frame[TARGET].to_numpy()


def test_estimator_in_pipeline_and_cross_validation(german_credit: pl.DataFrame) -> None:
    x, y = _xy(german_credit)
    pipe = Pipeline([("identity", FunctionTransformer(None)), ("card", ScorecardClassifier())])
    scores = cross_val_score(pipe, x.to_pandas(), y, cv=3, scoring="roc_auc")
    assert scores.mean() > 0.7
    card = ScorecardClassifier(pdo=40).fit(x, y)
    assert card.get_params()["pdo"] == 40
    assert card.set_params(seed=7).seed == 7
    proba = card.predict_proba(x)
    assert proba.shape == (1000, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(card.predict(x)) <= {0, 1}
    assert card.artefact_.scaling is not None and card.artefact_.scaling.pdo == 40
    np.testing.assert_allclose(
        card.score_points(x),
        score_frame(x.lazy(), card.artefact_).collect()[SCORE].to_numpy(),
    )


def test_export_csv_and_excel_read_back(artefact: Artefact, tmp_path: Path) -> None:
    table = scorecard_table(artefact)
    printed = [
        b
        for f in artefact.features
        for b in f.bins
        if b.count > 0 or b.kind not in (BinKind.SPECIAL, BinKind.MISSING)
    ]
    assert table.height == len(printed) < sum(len(f.bins) for f in artefact.features)
    # whole points, as a scorecard is printed (halves up), in the bins' order
    assert table["points"].dtype == pl.Int64
    assert table["points"].to_list() == [math.floor(b.points + 0.5) for b in printed]
    csv = write_csv(artefact, tmp_path / "card.csv")
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(raw[3:])
    assert back.height == table.height
    assert "贷款期限（月）" in back["中文名称"].to_list()
    xlsx = write_excel(artefact, tmp_path / "card.xlsx")
    wb = load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == ["Scorecard", "Summary", "Tiers"]
    tiers = list(wb["Tiers"].iter_rows(values_only=True))
    assert [r[0] for r in tiers[1:]] == ["A", "B", "C", "D", "E"]
    assert sum(r[2] for r in tiers[1:]) == artefact.metrics.rows_train
    tier_csv = pl.read_csv((tmp_path / "card-tiers.csv").read_bytes()[3:])
    assert tier_csv.height == 5 and "训练坏样本率 Train bad rate" in tier_csv.columns
    rows = list(wb["Scorecard"].iter_rows(values_only=True))
    assert len(rows) == table.height + 1
    assert rows[1][-1] == table["points"][0]
    summary = dict(wb["Summary"].iter_rows(values_only=True))
    assert summary["AUC"] == pytest.approx(artefact.metrics.auc)
    assert summary["pdo"] == 20
