"""The propensity model as arrays (forbear.domain.scoring.forest): the same probabilities,
bit for bit, as the pickled estimator, on rows the model never saw, and refusals."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from forbear.domain.errors import ConfigurationError
from forbear.domain.scoring import forest
from forbear.domain.scoring.artefact import load_artefact
from forbear.domain.scoring.propensity import (
    _categories,
    _encode,
    load_estimator,
    load_trees,
    predict_propensity,
    train_propensity,
)

from .factories import make_payers

FEATURES = ["z", "dpd", "channel", "noise"]


def _train(frame: pl.DataFrame, method: str, categorical: list[str]):  # type: ignore[no-untyped-def]
    artefact, _ = train_propensity(
        frame,
        "paid",
        features=FEATURES,
        categorical=categorical,
        name=f"ptp-{method}",
        source="synthetic",
        created_at=datetime(2025, 3, 1, tzinfo=UTC),
        threads=1,
        folds=3,
        method=method,  # type: ignore[arg-type]
    )
    return artefact


@pytest.fixture(scope="module", params=["isotonic", "sigmoid"])
def artefact(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return _train(make_payers(4000, seed=11), request.param, ["channel"])


def _unseen_rows(n: int, seed: int) -> pl.DataFrame:
    """Rows drawn apart from the training book: wider ranges, missing values in every
    column, categories the model never saw, empty strings."""
    rng = np.random.default_rng(seed)
    frame = make_payers(n, seed=seed + 1000)
    z = rng.normal(size=n) * rng.choice([0.5, 3.0, 50.0], size=n)
    channel = rng.choice(["app", "sms", "call", "none", "fax", "", "APP"], size=n)
    return frame.with_columns(
        z=pl.Series(np.where(rng.random(n) < 0.08, np.nan, z)).fill_nan(None),
        channel=pl.Series(channel).set(pl.Series(rng.random(n) < 0.05), None),  # type: ignore[arg-type]
        noise=pl.Series(rng.standard_cauchy(size=n)).set(  # type: ignore[arg-type]
            pl.Series(rng.random(n) < 0.05), None
        ),
        dpd=pl.Series(rng.integers(-30, 400, size=n).astype(float)),
    )


def test_the_trainer_stores_the_trees_with_their_checksum(artefact) -> None:  # type: ignore[no-untyped-def]
    assert artefact.trees_b64 is not None
    raw = base64.b64decode(artefact.trees_b64)
    assert artefact.training.model_extra["trees_sha256"] == hashlib.sha256(raw).hexdigest()
    assert artefact.format_version == 2


def test_the_trees_give_the_estimators_probabilities_bit_for_bit(artefact) -> None:  # type: ignore[no-untyped-def]
    rows = _unseen_rows(5000, seed=3)
    x = _encode(rows, artefact.inputs, _categories(artefact))
    expected = load_estimator(artefact).predict_proba(x)[:, 1]
    trees = load_trees(artefact)
    assert trees is not None
    got = forest.predict(trees, x)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    # and through the scoring function, which takes the trees
    np.testing.assert_array_equal(predict_propensity(rows, artefact).to_numpy(), expected)


def test_raw_codes_out_of_range_go_as_missing(artefact) -> None:  # type: ignore[no-untyped-def]
    """Codes the encoder never gives (negative, fractional, beyond the vocabulary) are
    routed as the estimator routes them."""
    rng = np.random.default_rng(5)
    x = _encode(_unseen_rows(2000, seed=9), artefact.inputs, _categories(artefact))
    x[:, 2] = rng.choice([-3.0, -0.5, 0.0, 1.0, 2.5, 3.0, 7.0, 249.0, np.nan], size=len(x))
    expected = load_estimator(artefact).predict_proba(x)[:, 1]
    np.testing.assert_array_equal(forest.predict(load_trees(artefact), x), expected)  # type: ignore[arg-type]


def test_one_row_and_no_rows(artefact) -> None:  # type: ignore[no-untyped-def]
    rows = _unseen_rows(20, seed=4)
    batch = predict_propensity(rows, artefact)
    for i in range(rows.height):
        assert predict_propensity(rows.slice(i, 1), artefact)[0] == batch[i]
    assert predict_propensity(rows.clear(), artefact).len() == 0


def test_an_artefact_without_trees_scores_through_the_estimator(artefact) -> None:  # type: ignore[no-untyped-def]
    rows = _unseen_rows(500, seed=6)
    older = load_artefact(
        {**artefact.model_dump(mode="json"), "trees_b64": None, "format_version": 1}
    )
    assert load_trees(older) is None
    np.testing.assert_array_equal(
        predict_propensity(rows, older).to_numpy(), predict_propensity(rows, artefact).to_numpy()
    )


def test_a_model_without_categories_exports_too() -> None:
    artefact = _train(
        make_payers(3000, seed=12).drop("channel").with_columns(channel=pl.lit(1.0)), "isotonic", []
    )
    rows = _unseen_rows(1000, seed=8).with_columns(channel=pl.lit(1.0))
    x = _encode(rows, artefact.inputs, _categories(artefact))
    assert artefact.trees_b64 is not None
    np.testing.assert_array_equal(
        forest.predict(load_trees(artefact), x),  # type: ignore[arg-type]
        load_estimator(artefact).predict_proba(x)[:, 1],
    )


def test_edited_or_damaged_trees_are_refused(artefact) -> None:  # type: ignore[no-untyped-def]
    edited = base64.b64decode(artefact.trees_b64)[:-10] + b"0123456789"
    text = base64.b64encode(edited).decode()
    with pytest.raises(ConfigurationError, match="checksum"):
        forest.load(text, artefact.training.model_extra["trees_sha256"])
    with pytest.raises(ConfigurationError, match="unreadable trees"):
        forest.load(text, hashlib.sha256(edited).hexdigest())
    data = artefact.model_dump(mode="json")
    del data["training"]["trees_sha256"]
    bare = load_artefact(data)
    with pytest.raises(ConfigurationError, match="no trees checksum"):
        load_trees(bare)


def test_a_matrix_of_the_wrong_width_is_refused(artefact) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="4 input columns"):
        forest.predict(load_trees(artefact), np.zeros((3, 5)))  # type: ignore[arg-type]


def test_other_shapes_of_model_are_not_exported() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)
    plain = HistGradientBoostingClassifier(max_iter=5).fit(x, y)
    assert forest.export(plain, 3) is None  # not calibrated
    three = (x[:, 0] > 0.5).astype(int) + (x[:, 1] > 0).astype(int)
    from sklearn.calibration import CalibratedClassifierCV

    multi = CalibratedClassifierCV(
        HistGradientBoostingClassifier(max_iter=5), cv=3, ensemble=False
    ).fit(x, three)
    assert forest.export(multi, 3) is None  # three classes: not a binary booster


def test_an_estimator_whose_internals_differ_is_kept_without_trees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scikit-learn whose fitted booster lacks what the export reads: the trainer keeps
    the estimator alone (scored through it), it does not fail."""

    def missing(model: object, inputs: int) -> None:
        raise AttributeError("_predictors")

    monkeypatch.setattr(forest, "export", missing)
    artefact = _train(make_payers(1500, seed=13), "isotonic", ["channel"])
    assert artefact.trees_b64 is None
    assert "trees_sha256" not in artefact.training.model_extra
    assert predict_propensity(_unseen_rows(50, seed=2), artefact).len() == 50
