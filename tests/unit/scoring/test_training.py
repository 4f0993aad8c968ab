from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from forbear.domain.errors import ConfigurationError, ValidationError
from forbear.domain.scoring.artefact import Artefact, BinKind, ModelKind, load_artefact
from forbear.domain.scoring.binning import quiet_library, to_pandas
from forbear.domain.scoring.compiled import SCORE, score_frame
from forbear.domain.scoring.config import DEFAULT_CONFIG
from forbear.domain.scoring.scorecard import (
    ScorecardConfig,
    TrainingReport,
    stratified_split,
    train_scorecard,
)

from .conftest import CREATED, TARGET


def _optbinning_scorecard(
    train: pl.DataFrame, features: list[str], special_codes: dict[str, list[float]] | None = None
) -> Scorecard:
    """optbinning's own BinningProcess + Scorecard with the settings we use."""
    categorical = [f for f in features if not train.schema[f].is_numeric()]
    params = {}
    for f in features:
        p: dict[str, object] = {}
        if f not in categorical:
            p["monotonic_trend"] = DEFAULT_CONFIG.monotonic_trend
        if special_codes and f in special_codes:
            p["special_codes"] = special_codes[f]
        params[f] = p
    process = BinningProcess(
        features,
        categorical_variables=categorical,
        min_bin_size=0.05,
        min_prebin_size=0.05,
        binning_fit_params=params,
    )
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(C=1.0, max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    )
    with quiet_library():
        card.fit(
            to_pandas(train, features),
            train[TARGET].to_numpy(),
            metric_special="empirical",
            metric_missing="empirical",
        )
    return card


def _splits(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    tr, te = stratified_split(frame[TARGET].to_numpy(), 0.3, 42)
    return frame[tr], frame[te]


def test_split_is_stratified_70_30(german_credit: pl.DataFrame) -> None:
    train, test = _splits(german_credit)
    assert (train.height, test.height) == (700, 300)
    assert train[TARGET].sum() == 210 and test[TARGET].sum() == 90


def test_german_credit_auc_and_optbinning_parity(
    german_credit: pl.DataFrame, trained: tuple[Artefact, TrainingReport]
) -> None:
    artefact, report = trained
    assert artefact.metrics.auc >= 0.77
    assert artefact.metrics.gini == pytest.approx(2 * artefact.metrics.auc - 1)
    assert (artefact.metrics.rows_train, artefact.metrics.rows_test) == (700, 300)
    train, test = _splits(german_credit)
    card = _optbinning_scorecard(train, list(report.selected))
    with quiet_library():
        theirs = card.score(to_pandas(test, list(report.selected)))
    their_auc = roc_auc_score(test[TARGET].to_numpy(), -theirs)
    assert abs(artefact.metrics.auc - their_auc) <= 0.02


def test_compiled_points_equal_optbinning_score(
    german_credit: pl.DataFrame, trained: tuple[Artefact, TrainingReport]
) -> None:
    artefact, report = trained
    train, _ = _splits(german_credit)
    card = _optbinning_scorecard(train, list(report.selected))
    with quiet_library():
        theirs = card.score(to_pandas(german_credit, list(report.selected)))
    ours = score_frame(german_credit.lazy(), artefact).collect()[SCORE].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_missing_special_and_unseen_values_match_optbinning(german_credit: pl.DataFrame) -> None:
    rows = np.arange(german_credit.height)
    frame = german_credit.with_columns(
        pl.when(pl.Series(rows % 9 == 0))
        .then(None)
        .when(pl.Series(rows % 13 == 0))
        .then(-1)
        .otherwise(pl.col("credit_amount"))
        .alias("credit_amount"),
        pl.when(pl.Series(rows % 11 == 0)).then(None).otherwise(pl.col("purpose")).alias("purpose"),
    )
    features = [
        "credit_amount",
        "purpose",
        "duration_in_month",
        "status_of_existing_checking_account",
    ]
    config = ScorecardConfig(special_codes={"credit_amount": [-1]})
    artefact, report = train_scorecard(
        frame,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="gc-missing",
        source="test",
        created_at=CREATED,
        features=features,
        config=config,
    )
    amount = next(f for f in artefact.features if f.name == "credit_amount")
    kinds = {b.kind: b for b in amount.bins}
    assert kinds[BinKind.MISSING].count > 0 and kinds[BinKind.SPECIAL].count > 0
    train, _ = _splits(frame)
    card = _optbinning_scorecard(train, list(report.selected), {"credit_amount": [-1]})
    unseen = frame.head(5).with_columns(pl.lit("space travel").alias("purpose"))
    probe = pl.concat([frame, unseen])
    with quiet_library():
        theirs = card.score(to_pandas(probe, list(report.selected)))
    ours = score_frame(probe.lazy(), artefact).collect()[SCORE].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_report_holds_iv_woe_tables_and_reasons(trained: tuple[Artefact, TrainingReport]) -> None:
    artefact, report = trained
    assert set(report.iv) == set(report.woe_tables)
    assert len(report.iv) == 20
    assert set(report.selected) | set(report.dropped) == set(report.iv)
    assert all("IV" in why or "corr" in why for why in report.dropped.values())
    assert [f.name for f in artefact.features] == list(report.selected)
    table = report.woe_tables["duration_in_month"]
    assert table.columns[:3] == ["bin", "kind", "count"]
    assert table["count"].sum() == 700
    # flattened categorical bins
    purpose = next(f for f in artefact.features if f.name == "purpose")
    assert all(isinstance(c, str) for b in purpose.bins for c in b.categories)
    assert artefact.features[1].label_zh == "贷款期限（月）"


def test_tiers_follow_training_quantiles(trained: tuple[Artefact, TrainingReport]) -> None:
    artefact, _ = trained
    assert [t.label for t in artefact.tiers] == ["A", "B", "C", "D", "E"]
    cut = [t.min_score for t in artefact.tiers[:-1]]
    assert cut == sorted(cut, reverse=True) and artefact.tiers[-1].min_score is None
    assert len(artefact.score_band_shares) == len(artefact.score_bands) + 1
    assert sum(artefact.score_band_shares) == pytest.approx(1.0)


def test_fixed_tier_cutoffs(german_credit: pl.DataFrame) -> None:
    config = ScorecardConfig(tier_cutoffs=(600, 550, 500, 450))
    artefact, _ = train_scorecard(
        german_credit,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="x",
        source="t",
        created_at=CREATED,
        config=config,
    )
    assert [t.min_score for t in artefact.tiers] == [600, 550, 500, 450, None]


def test_same_seed_same_artefact(german_credit: pl.DataFrame, artefact: Artefact) -> None:
    again, _ = train_scorecard(
        german_credit,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="german-credit",
        source="germancredit.csv",
        created_at=CREATED,
        seed=42,
    )
    assert again == artefact
    assert len(artefact.training.fingerprint) == 64


def test_artefact_json_round_trip(artefact: Artefact) -> None:
    assert load_artefact(artefact.to_json()) == artefact


def test_newer_format_version_is_refused(artefact: Artefact) -> None:
    raw = json.loads(artefact.to_json())
    raw["format_version"] += 1
    with pytest.raises(ConfigurationError, match="newer"):
        load_artefact(json.dumps(raw))


def _train(frame: pl.DataFrame, **kw: object) -> None:
    train_scorecard(
        frame,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="x",
        source="t",
        created_at=CREATED,
        **kw,  # type: ignore[arg-type]
    )


def test_non_binary_target_is_refused_naming_values(german_credit: pl.DataFrame) -> None:
    frame = german_credit.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(2).otherwise(pl.col(TARGET)).alias(TARGET)
    )
    with pytest.raises(ValidationError, match=r"bad.*2") as err:
        _train(frame)
    assert err.value.field == TARGET


def test_string_target_is_refused(german_credit: pl.DataFrame) -> None:
    frame = german_credit.with_columns(pl.col(TARGET).cast(pl.String))
    with pytest.raises(ValidationError, match="'0', '1'"):
        _train(frame)


def test_constant_and_all_missing_features_are_named(german_credit: pl.DataFrame) -> None:
    with pytest.raises(ValidationError, match="constant") as err:
        _train(german_credit.with_columns(pl.lit(3).alias("flat")))
    assert err.value.field == "flat"
    empty = german_credit.with_columns(pl.lit(None, dtype=pl.Float64).alias("void"))
    with pytest.raises(ValidationError, match="missing in every row") as err:
        _train(empty)
    assert err.value.field == "void"


def test_too_few_bads_says_how_many(german_credit: pl.DataFrame) -> None:
    frame = pl.concat(
        [
            german_credit.filter(pl.col(TARGET) == 0),
            german_credit.filter(pl.col(TARGET) == 1).head(30),
        ]
    )
    with pytest.raises(ValidationError, match=r"too few bads.*30 in all"):
        _train(frame)


def test_requested_feature_missing_is_named(german_credit: pl.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        _train(german_credit, features=["duration_in_month", "salary"])
    assert err.value.field == "salary"


def test_score_frame_names_a_missing_column(
    german_credit: pl.DataFrame, artefact: Artefact
) -> None:
    with pytest.raises(ValidationError) as err:
        score_frame(german_credit.drop("purpose").lazy(), artefact)
    assert err.value.field == "purpose"
