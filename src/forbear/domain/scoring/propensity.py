"""Propensity to pay: a calibrated gradient-boosting model on overdue accounts.

A scorecard is the right tool for credit risk that must be explained bin by bin; whether
an overdue borrower pays within the next 30 days depends on interactions (days past due
x amount x contact history) that a boosted tree ensemble captures better. The model is
scikit-learn's ``HistGradientBoostingClassifier`` (native categorical splits, missing
values routed by the tree, early stopping on a held-out tenth) wrapped in
``CalibratedClassifierCV`` so that its output is a probability a treatment policy can
use as one ("60% will pay by themselves: send a reminder, not an agent").

Training: a stratified 70/30 split; the calibrated model is cross-validated on the 70%
(each fold boosts on four fifths and calibrates on the fifth left out); AUC, KS, Gini,
Brier score and a decile calibration table are measured on the 30% the model never saw.

The artefact (kind ``propensity`` by default) carries the input columns, the category
vocabularies, baseline distributions for monitoring (score deciles and per-input
profiles) and the fitted model serialised with :mod:`pickle` then base64
(``estimator_b64``), with the sha256 of the pickle bytes in ``training.estimator_sha256``.

.. warning:: Artefacts are **trusted internal data**. Unpickling executes code, so an
   artefact must only ever come from Forbear's own trainer through the model store,
   never from a user upload. The sha256 check on load catches corruption and accidental
   edits; it is not a defence against someone who can write artefacts.

Categorical inputs are encoded here, not by the estimator: each category seen in
training gets an integer code (most frequent first, at most 250, the rest and unseen
values are treated as missing), and the vocabulary is stored in the artefact so that
batch and online scoring encode identically.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from threadpoolctl import threadpool_limits

from forbear.domain.errors import ConfigurationError, ValidationError
from forbear.domain.scoring import forest
from forbear.domain.scoring.artefact import Artefact, Metrics, ModelKind, TrainingData
from forbear.domain.scoring.monitoring import band_shares, performance, profile_bin_expr

MIN_CLASS_ROWS = 50  # per class: fewer cannot feed a 70/30 split and 5-fold calibration
MAX_CATEGORIES = 250  # HistGradientBoosting bins categories into at most 255 codes
PROFILE_CATEGORIES = 20  # categories kept apart in the monitoring profile of an input
TEST_SHARE = 0.3
OUTPUT_NAME = "propensity"
SMALL_FRAME = 10_000
# Below this many training rows the booster is fitted on one OpenMP thread unless the
# caller or OMP_NUM_THREADS says otherwise: each of its thousands of splits is a parallel
# region whose threads wait for each other, and on shared cores that waiting dominated
# (the 20,000-borrower demo's 4,700-row fit: 61 s wall with the default threads at load
# 7, 1.2 s on one; a 50,000-row fit at load 3: 34 CPU s against 15).
ONE_THREAD_ROWS = 100_000

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PropensityReport:
    """What the trainer measured on the held-out 30%.

    ``calibration`` has one row per decile of predicted probability:
    ``decile, rows, mean_predicted, observed_rate``; ``calibration_error`` is the
    row-weighted mean of ``|mean_predicted - observed_rate|``.
    """

    metrics: Metrics
    brier: float
    calibration: pl.DataFrame
    calibration_error: float
    method: str
    iterations: tuple[int, ...]  # boosting rounds kept by early stopping (final booster)
    categories: Mapping[str, tuple[str, ...]]


# ----------------------------------------------------------------- validation


def _require_columns(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    for c in columns:
        if c not in frame.columns:
            raise ValidationError(c, "missing input column")


def _binary_target(frame: pl.DataFrame, target: str) -> npt.NDArray[np.int8]:
    """The target as 0/1, refusing nulls, non-binary values and too few of a class.

    Messages give counts, never values: a wrongly chosen column could hold personal data.
    """
    if target not in frame.columns:
        raise ValidationError(target, "target column missing")
    col = frame[target]
    if col.null_count():
        raise ValidationError(target, f"target has {col.null_count()} null value(s)")
    if col.dtype == pl.Boolean:
        col = col.cast(pl.Int8)
    if not col.dtype.is_numeric():
        raise ValidationError(target, f"target must be binary 0/1, not {col.dtype}")
    values = col.cast(pl.Float64)
    if not values.is_in([0.0, 1.0]).all():
        raise ValidationError(
            target, f"target must be binary 0/1; it has {values.n_unique()} distinct values"
        )
    y = values.cast(pl.Int8).to_numpy()
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives < MIN_CLASS_ROWS:
        raise ValidationError(
            target, f"too few positives: {positives} (at least {MIN_CLASS_ROWS} needed)"
        )
    if negatives < MIN_CLASS_ROWS:
        raise ValidationError(
            target, f"too few negatives: {negatives} (at least {MIN_CLASS_ROWS} needed)"
        )
    return y


# ------------------------------------------------------------------- encoding


def _vocabulary(values: pl.Series) -> tuple[str, ...]:
    counts = (
        values.cast(pl.String)
        .drop_nulls()
        .value_counts(name="n")
        .sort(["n", values.name], descending=[True, False])
    )
    return tuple(counts[values.name].head(MAX_CATEGORIES).to_list())


def _encode(
    frame: pl.DataFrame, inputs: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> FloatArray:
    """The model matrix: numerical inputs as floats, categories as codes, missing as NaN."""
    _require_columns(frame, inputs)
    exprs: list[pl.Expr] = []
    for name in inputs:
        col = pl.col(name)
        if name in categories:
            vocab = list(categories[name])
            expr = col.cast(pl.String).replace_strict(
                vocab, list(range(len(vocab))), default=None, return_dtype=pl.Float64
            )
        else:
            dtype = frame.schema[name]
            if not (dtype.is_numeric() or dtype == pl.Boolean):
                raise ValidationError(
                    name, f"numerical input has type {dtype}; list it as categorical"
                )
            expr = col.cast(pl.Float64)
        exprs.append(expr.fill_null(float("nan")).alias(name))
    matrix: FloatArray = frame.select(exprs).to_numpy().astype(np.float64, copy=False)
    return matrix


def _input_profile(values: pl.Series, categorical: bool) -> dict[str, Any]:
    """Baseline distribution of one input on the training part (for feature PSI)."""
    name = values.name
    if categorical:
        cats = list(_vocabulary(values)[:PROFILE_CATEGORIES])
        profile: dict[str, Any] = {"kind": "categorical", "categories": cats}
    else:
        x = values.cast(pl.Float64).fill_nan(None).drop_nulls()
        qs = [x.quantile(q / 10, interpolation="linear") for q in range(1, 10)] if len(x) else []
        cuts = sorted({float(q) for q in qs if q is not None})
        profile = {"kind": "numerical", "cuts": cuts}
    n_bins = len(profile.get("cuts", profile.get("categories", []))) + 2
    profile["shares"] = [0.0] * n_bins  # placeholder so the expression can be built
    expr, _ = profile_bin_expr(name, profile)
    idx = values.to_frame().select(expr).to_series()
    counts = np.bincount(idx.to_numpy(), minlength=n_bins)
    profile["shares"] = [float(c) / max(len(idx), 1) for c in counts]
    return profile


# ------------------------------------------------------------- (de)serialising


def _dump(model: Any) -> tuple[str, str]:
    raw = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return base64.b64encode(raw).decode("ascii"), hashlib.sha256(raw).hexdigest()


@lru_cache(maxsize=8)
def _load(estimator_b64: str, expected_sha256: str) -> Any:
    # Cached so that online scoring of one account does not unpickle on every call;
    # the artefact's string is the key, so a changed artefact is a different entry.
    raw = base64.b64decode(estimator_b64.encode("ascii"), validate=True)
    if hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise ConfigurationError(
            "model artefact: estimator checksum mismatch (corrupted or edited artefact)"
        )
    return pickle.load(io.BytesIO(raw))  # trusted internal data, see the module docstring


def _trees(
    model: Any, inputs: int, *checks: tuple[FloatArray, pl.Series]
) -> tuple[str | None, str | None]:
    """The fitted model as arrays (:func:`forest.dump`), kept only when they give exactly
    the estimator's probabilities on every row of ``checks`` (matrix, probabilities);
    else (None, None) and scoring goes through the estimator."""
    try:  # the export reads the fitted estimator's internals: another version may differ
        trees = forest.export(model, inputs)
        if trees is None:
            return None, None
        for x, expected in checks:
            if not np.array_equal(forest.predict(trees, x), expected.to_numpy(), equal_nan=True):
                return None, None
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None, None
    return forest.dump(trees)


def load_trees(artefact: Artefact) -> forest.Forest | None:
    """The artefact's model as arrays (:mod:`forbear.domain.scoring.forest`), or None when
    it carries none (an older artefact, or one whose arrays did not reproduce it)."""
    if artefact.trees_b64 is None:
        return None
    sha = (artefact.training.model_extra or {}).get("trees_sha256")
    if not isinstance(sha, str):
        raise ConfigurationError(f"model {artefact.name}: artefact has no trees checksum")
    return forest.load(artefact.trees_b64, sha)


def load_estimator(artefact: Artefact) -> Any:
    """The fitted, calibrated scikit-learn model of a non-scorecard artefact."""
    if artefact.estimator_b64 is None:
        raise ConfigurationError(f"model {artefact.name}: artefact carries no estimator")
    extra = artefact.training.model_extra or {}
    sha = extra.get("estimator_sha256")
    if not isinstance(sha, str):
        raise ConfigurationError(f"model {artefact.name}: artefact has no estimator checksum")
    return _load(artefact.estimator_b64, sha)


def _categories(artefact: Artefact) -> dict[str, tuple[str, ...]]:
    extra = artefact.training.model_extra or {}
    raw = extra.get("categories", {})
    if not isinstance(raw, dict):
        raise ConfigurationError(f"model {artefact.name}: categories must be a mapping")
    return {str(k): tuple(str(v) for v in vs) for k, vs in raw.items()}


# ------------------------------------------------------------------- training


def fit_threads(rows: int, threads: int | None = None) -> int | None:
    """The OpenMP threads for fitting the booster on ``rows`` rows: ``threads`` if given;
    else the library default (all cores, or OMP_NUM_THREADS) when that variable is set or
    the frame has at least :data:`ONE_THREAD_ROWS` rows; else one thread."""
    if threads is not None:
        return threads
    if os.environ.get("OMP_NUM_THREADS") or rows >= ONE_THREAD_ROWS:
        return None
    return 1


def _fit(
    x: FloatArray, y: npt.NDArray[np.int8], categorical_mask: list[bool], *, method: str,
    folds: int, seed: int, threads: int | None,
) -> Any:  # fmt: skip
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    booster = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=500,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=categorical_mask if any(categorical_mask) else None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=seed,
    )
    # ensemble=False: the calibrator is fitted on out-of-fold predictions and one booster
    # is refitted on all the training part, so the artefact holds one model, not ``folds``.
    model = CalibratedClassifierCV(
        booster,
        method=method,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        ensemble=False,
    )
    with threadpool_limits(limits=threads):
        model.fit(x, y)
    return model


def _predict(model: Any, x: FloatArray) -> FloatArray:
    if len(x) == 0:
        return np.empty(0, dtype=np.float64)
    # Small frames (one account online) score faster on one thread than waking a pool.
    with threadpool_limits(limits=1 if len(x) < SMALL_FRAME else None):
        proba: FloatArray = np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
    return proba


def calibration_table(predicted: pl.Series, observed: pl.Series, groups: int = 10) -> pl.DataFrame:
    """Mean predicted probability against observed rate per equal-count group (deciles).

    Rows are ranked by prediction (ties broken by position) and cut into ``groups``
    groups of equal size, so the table exists even when predictions are heavily tied.
    Rows with a null prediction or outcome (not yet matured) are left out.
    """
    df = pl.DataFrame(
        {"p": predicted.cast(pl.Float64), "y": observed.cast(pl.Float64)}
    ).drop_nulls()
    n = df.height
    return (
        df.with_columns(
            ((pl.col("p").rank("ordinal") - 1) * groups // max(n, 1)).cast(pl.Int32).alias("decile")
        )
        .group_by("decile")
        .agg(
            pl.len().cast(pl.Int64).alias("rows"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed_rate"),
        )
        .sort("decile")
    )


def _fingerprint(frame: pl.DataFrame, columns: Sequence[str]) -> str:
    return hashlib.sha256(frame.select(columns).write_csv().encode()).hexdigest()


def train_propensity(
    frame: pl.DataFrame,
    target: str,
    *,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    name: str,
    source: str,
    created_at: datetime,
    seed: int = 42,
    method: Literal["isotonic", "sigmoid"] = "isotonic",
    folds: int = 5,
    kind: ModelKind = ModelKind.PROPENSITY,
    description: str = "",
    threads: int | None = None,
) -> tuple[Artefact, PropensityReport]:
    """Train a calibrated propensity model on ``frame`` (one row per account).

    ``target`` is 1 where the event happened (the account paid within the window).
    ``categorical`` names the inputs among ``features`` that are categories; any
    dtype is accepted for them (values are compared as strings). The result is
    deterministic for a given frame and ``seed``. ``threads`` caps the OpenMP threads
    of the booster (None: :func:`fit_threads` chooses, one thread on a small frame); on a
    shared, busy machine one thread can be many times faster than contending for all.
    """
    from sklearn.model_selection import train_test_split

    inputs = tuple(dict.fromkeys(features))
    if not inputs:
        raise ValidationError("features", "at least one input column is needed")
    if target in inputs:
        raise ValidationError(target, "the target cannot also be an input")
    for c in categorical:
        if c not in inputs:
            raise ValidationError(c, "categorical input is not among the features")
    _require_columns(frame, inputs)
    y = _binary_target(frame, target)
    if method not in ("isotonic", "sigmoid"):
        raise ValidationError("method", "calibration method must be isotonic or sigmoid")

    rows = np.arange(frame.height)
    train_idx, test_idx = train_test_split(
        rows, test_size=TEST_SHARE, stratify=y, random_state=seed
    )
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    test_idx = np.sort(np.asarray(test_idx, dtype=np.int64))
    train, test = frame[train_idx], frame[test_idx]
    y_train, y_test = y[train_idx], y[test_idx]

    cats = {c: _vocabulary(train[c]) for c in inputs if c in categorical}
    mask = [c in cats for c in inputs]
    x_train, x_test = _encode(train, inputs, cats), _encode(test, inputs, cats)
    threads = fit_threads(len(train_idx), threads)
    model = _fit(x_train, y_train, mask, method=method, folds=folds, seed=seed, threads=threads)
    estimator_b64, sha = _dump(model)

    p_train = pl.Series("p", _predict(model, x_train))
    p_test = pl.Series("p", _predict(model, x_test))
    trees_b64, trees_sha = _trees(model, len(inputs), (x_train, p_train), (x_test, p_test))
    y_test_s = pl.Series("y", y_test)
    perf = performance(p_test, y_test_s, higher_means_event=True)
    brier = float(np.mean((p_test.to_numpy() - y_test) ** 2))
    calib = calibration_table(p_test, y_test_s)
    calib_error = float(
        ((calib["mean_predicted"] - calib["observed_rate"]).abs() * calib["rows"]).sum()
        / max(int(calib["rows"].sum()), 1)
    )

    deciles = [p_train.quantile(q / 10, interpolation="linear") for q in range(1, 10)]
    cuts = tuple(sorted({float(q) for q in deciles if q is not None}))
    shares = band_shares(p_train, cuts)
    profiles = {c: _input_profile(train[c], c in cats) for c in inputs}
    iterations = tuple(int(cc.estimator.n_iter_) for cc in model.calibrated_classifiers_)

    import sklearn

    metrics = Metrics(
        auc=perf.auc,
        ks=perf.ks,
        gini=perf.gini,
        rows_train=len(train_idx),
        rows_test=len(test_idx),
        bad_rate=float(y.mean()),  # here: the event (payment) rate
        brier=brier,
        calibration_error=calib_error,
        calibration=calib.to_dicts(),
    )
    training = TrainingData(
        source=source,
        fingerprint=_fingerprint(frame, [*inputs, target]),
        rows=frame.height,
        bads=int(y.sum()),  # events
        target=target,
        seed=seed,
        estimator_sha256=sha,
        estimator_library=f"scikit-learn {sklearn.__version__}",
        **({"trees_sha256": trees_sha} if trees_sha else {}),
        calibration_method=method,
        categorical=sorted(cats),
        categories={k: list(v) for k, v in cats.items()},
        input_profiles=profiles,
        iterations=list(iterations),
    )
    artefact = Artefact(
        kind=kind,
        name=name,
        created_at=created_at,
        description=description,
        training=training,
        metrics=metrics,
        score_bands=cuts,
        score_band_shares=shares,
        inputs=inputs,
        estimator_b64=estimator_b64,
        trees_b64=trees_b64,
    )
    report = PropensityReport(
        metrics=metrics,
        brier=brier,
        calibration=calib,
        calibration_error=calib_error,
        method=method,
        iterations=iterations,
        categories=cats,
    )
    return artefact, report


# -------------------------------------------------------------------- scoring


def predict_propensity(frame: pl.DataFrame, artefact: Artefact) -> pl.Series:
    """Probability of the event for each row of ``frame`` (Float64, named ``propensity``).

    The same function serves the daily batch and one account online (a one-row frame).
    A missing input column raises :class:`ValidationError` naming it; a category not
    seen in training is treated as missing, as the model was trained to handle.
    """
    if artefact.is_scorecard or not artefact.inputs:
        raise ConfigurationError(f"model {artefact.name}: not a propensity-style artefact")
    x = _encode(frame, artefact.inputs, _categories(artefact))
    trees = load_trees(artefact)
    if trees is not None:  # the same probabilities without scikit-learn
        return pl.Series(OUTPUT_NAME, forest.predict(trees, x), dtype=pl.Float64)
    model = load_estimator(artefact)
    return pl.Series(OUTPUT_NAME, _predict(model, x), dtype=pl.Float64)
