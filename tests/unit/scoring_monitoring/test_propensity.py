"""Propensity to pay on a synthetic book whose true payment probability is known."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from forbear.domain.errors import ConfigurationError, ValidationError
from forbear.domain.scoring.artefact import ModelKind, load_artefact
from forbear.domain.scoring.monitoring import feature_psi, monitor, score_psi
from forbear.domain.scoring.propensity import (
    ONE_THREAD_ROWS,
    PropensityReport,
    fit_threads,
    predict_propensity,
    train_propensity,
)

from .factories import make_payers

FEATURES = ["z", "dpd", "channel", "noise"]
WHEN = datetime(2025, 3, 1, tzinfo=UTC)


def _train(frame: pl.DataFrame, **kw: object):  # type: ignore[no-untyped-def]
    args: dict = {
        "features": FEATURES,
        "categorical": ["channel"],
        "name": "ptp-test",
        "source": "synthetic",
        "created_at": WHEN,
        "threads": 1,  # the test machine is shared: one thread is faster than contention
        "folds": 3,
        **kw,
    }
    return train_propensity(frame, "paid", **args)


@pytest.fixture(scope="module")
def book() -> pl.DataFrame:
    return make_payers(6000, seed=7)


@pytest.fixture(scope="module")
def trained(book: pl.DataFrame):  # type: ignore[no-untyped-def]
    return _train(book)


def test_the_model_ranks_and_is_calibrated(trained) -> None:  # type: ignore[no-untyped-def]
    artefact, report = trained
    assert isinstance(report, PropensityReport)
    assert artefact.kind is ModelKind.PROPENSITY
    # the oracle (true probability) reaches about 0.79 on this book
    assert report.metrics.auc > 0.72
    assert report.metrics.ks > 0.3
    assert report.metrics.gini == pytest.approx(2 * report.metrics.auc - 1)
    # Brier of a constant guess at the base rate is p(1-p) ~ 0.227
    base = report.metrics.bad_rate
    assert report.brier < base * (1 - base) - 0.03
    assert report.calibration.height == 10
    assert report.calibration["rows"].sum() == report.metrics.rows_test
    gaps = (report.calibration["mean_predicted"] - report.calibration["observed_rate"]).abs()
    assert report.calibration_error < 0.05
    assert gaps.max() < 0.12
    assert report.metrics.rows_train + report.metrics.rows_test == 6000


def test_the_artefact_round_trips_and_predicts_the_same(
    book: pl.DataFrame,
    trained,  # type: ignore[no-untyped-def]
) -> None:
    artefact, _ = trained
    again = load_artefact(artefact.to_json())
    p = predict_propensity(book, again)
    assert p.dtype == pl.Float64 and p.name == "propensity" and p.len() == book.height
    assert p.is_between(0.0, 1.0).all()
    # predictions track the true probability
    assert np.corrcoef(p.to_numpy(), book["p_true"].to_numpy())[0, 1] > 0.8
    assert artefact.inputs == tuple(FEATURES)
    assert artefact.training.model_extra is not None
    assert len(artefact.training.model_extra["estimator_sha256"]) == 64


def test_one_row_predicts_as_in_the_batch(book: pl.DataFrame, trained) -> None:  # type: ignore[no-untyped-def]
    artefact, _ = trained
    batch = predict_propensity(book.head(50), artefact)
    for i in (0, 7, 31, 49):
        one = predict_propensity(book.slice(i, 1), artefact)
        assert one.len() == 1
        assert one[0] == pytest.approx(batch[i], abs=1e-12)


def test_unseen_category_and_missing_values_are_scored(trained) -> None:  # type: ignore[no-untyped-def]
    artefact, _ = trained
    row = pl.DataFrame(
        {"z": [0.3], "dpd": [None], "channel": ["carrier-pigeon"], "noise": [None]},
        schema={"z": pl.Float64, "dpd": pl.Float64, "channel": pl.String, "noise": pl.Float64},
    )
    p = predict_propensity(row, artefact)
    assert 0.0 < p[0] < 1.0


def test_a_missing_input_column_is_named(book: pl.DataFrame, trained) -> None:  # type: ignore[no-untyped-def]
    artefact, _ = trained
    with pytest.raises(ValidationError, match="dpd") as exc:
        predict_propensity(book.drop("dpd"), artefact)
    assert exc.value.field == "dpd"


@pytest.mark.parametrize("checksum", ["estimator_sha256", "trees_sha256"])
def test_a_tampered_estimator_is_refused(trained, checksum: str) -> None:  # type: ignore[no-untyped-def]
    artefact, _ = trained
    extra = dict(artefact.training.model_extra or {})
    extra[checksum] = "0" * 64
    update: dict = {"training": artefact.training.model_copy(update=extra)}
    if checksum == "estimator_sha256":
        update["trees_b64"] = None  # scored through the estimator
    bad = artefact.model_copy(update=update)
    with pytest.raises(ConfigurationError, match="checksum"):
        predict_propensity(pl.DataFrame({c: [0.0] for c in FEATURES}), bad)


def test_training_baselines_are_stable_on_the_training_population(
    book: pl.DataFrame,
    trained,  # type: ignore[no-untyped-def]
) -> None:
    artefact, _ = trained
    assert len(artefact.score_band_shares) == len(artefact.score_bands) + 1
    assert sum(artefact.score_band_shares) == pytest.approx(1.0)
    p = predict_propensity(book, artefact)
    assert score_psi(artefact, p) < 0.02
    out = feature_psi(artefact, book)
    assert out["feature"].to_list() == FEATURES
    assert out["psi"].max() < 0.02
    # a later book where almost nobody uses the app any more
    shifted = book.with_columns(pl.lit("none").alias("channel"))
    result = monitor(artefact, shifted, scores=predict_propensity(shifted, artefact))
    assert {(w.code, w.subject) for w in result.warnings} >= {("feature_psi", "channel")}


def test_training_is_deterministic(book: pl.DataFrame, trained) -> None:  # type: ignore[no-untyped-def]
    small = book.head(2000)
    a1, _ = _train(small, method="sigmoid")
    a2, _ = _train(small, method="sigmoid")
    assert a1.metrics.auc == a2.metrics.auc
    assert a1.training.fingerprint == a2.training.fingerprint
    assert a1.score_bands == a2.score_bands


def test_a_non_binary_target_is_refused_by_name(book: pl.DataFrame) -> None:
    frame = book.with_columns((pl.col("paid") * 2 + (pl.col("z") > 1)).alias("paid"))
    with pytest.raises(ValidationError, match="paid: target must be binary"):
        _train(frame)


def test_a_null_target_is_refused(book: pl.DataFrame) -> None:
    frame = book.with_columns(pl.when(pl.col("z") > 2).then(None).otherwise("paid").alias("paid"))
    with pytest.raises(ValidationError, match="paid: target has"):
        _train(frame)


def test_too_few_positives_is_refused(book: pl.DataFrame) -> None:
    frame = book.with_columns((pl.col("z") > 3.0).cast(pl.Int8).alias("paid"))
    with pytest.raises(ValidationError, match="too few positives"):
        _train(frame)


def test_a_missing_feature_column_is_named(book: pl.DataFrame) -> None:
    with pytest.raises(ValidationError, match="dpd: missing input column"):
        _train(book.drop("dpd"))


def test_a_text_column_must_be_declared_categorical(book: pl.DataFrame) -> None:
    with pytest.raises(ValidationError, match="channel"):
        _train(book, categorical=[])


def test_fit_threads_one_on_a_small_frame_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert fit_threads(4_700) == 1
    assert fit_threads(ONE_THREAD_ROWS - 1) == 1
    assert fit_threads(ONE_THREAD_ROWS) is None  # the library's default: every core
    assert fit_threads(4_700, 2) == 2  # the caller's count wins
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert fit_threads(4_700) is None  # the library reads the operator's variable
    assert fit_threads(4_700, 1) == 1
