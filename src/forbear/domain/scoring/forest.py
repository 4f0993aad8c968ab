"""A propensity model's fitted trees and calibrator as plain arrays: scoring without
scikit-learn.

Scoring through the pickled estimator (:func:`~forbear.domain.scoring.propensity.
load_estimator`) imports scikit-learn and SciPy (about a thousand modules) and unpickles:
over a second of CPU, held under the interpreter lock, in every process that scores, and
the daily run of a 100,000-borrower book spent about as long again in the estimator's
OpenMP threads for its few thousand rows. The trainer therefore also stores the fitted
model as arrays (:func:`export`): every tree's nodes (feature, threshold, where missing
values go, children, leaf values, categorical bitsets), the baseline, and the calibrator
(isotonic thresholds, or the sigmoid's two parameters). :func:`predict` walks them in a
compiled loop and gives the same probabilities, bit for bit, as the estimator's
``predict_proba`` (scikit-learn 1.9's rules, :mod:`forbear.domain.scoring.forest_walk`):

- raw score = the baseline, plus each tree's leaf value in boosting order (the same
  additions in the same order);
- at a node: a missing value goes where training sent missing values; a categorical value
  goes left when its bit is set in the node's bitset, right when it is a known category,
  and otherwise (negative, or unseen in training) as missing; a numerical value goes left
  when ``x <= threshold``;
- isotonic calibration: the raw score clipped to the calibrator's range, then
  ``np.interp`` over its thresholds (what SciPy's ``interp1d`` delegates to); sigmoid:
  ``1 / (1 + exp(a * raw + b))``.

The trainer keeps the arrays only when they reproduce the estimator's probabilities
exactly on its training and test rows (:func:`export` returns None otherwise, and scoring
then goes through the estimator): a later scikit-learn that changed a rule cannot make
stored scores drift silently. The arrays travel as an ``.npz`` archive read with
``allow_pickle=False`` (no code runs on load), base64 in the artefact, with its sha256.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from forbear.domain.errors import ConfigurationError

FloatArray = npt.NDArray[np.float64]

_NODE_ARRAYS = (
    "feature",
    "threshold",
    "missing_left",
    "left",
    "right",
    "is_leaf",
    "value",
    "is_categorical",
    "bitset_idx",
)


@dataclass(frozen=True, slots=True)
class Forest:
    """The arrays of one fitted, calibrated booster (see the module docstring).

    Nodes of every tree, concatenated in boosting order; tree ``t`` is nodes
    ``tree_start[t]:tree_start[t + 1]`` (children are indices within their tree).
    ``left_bitsets[bitset_idx[node]]`` are a categorical node's categories going left;
    ``known_bitsets[f_idx_map[feature]]`` the categories of a categorical feature seen in
    training (8 x 32 bits each)."""

    tree_start: npt.NDArray[np.int64]
    feature: npt.NDArray[np.int64]
    threshold: FloatArray
    missing_left: npt.NDArray[np.bool_]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    is_leaf: npt.NDArray[np.bool_]
    value: FloatArray
    is_categorical: npt.NDArray[np.bool_]
    bitset_idx: npt.NDArray[np.int64]
    left_bitsets: npt.NDArray[np.uint32]
    known_bitsets: npt.NDArray[np.uint32]
    f_idx_map: npt.NDArray[np.int64]
    baseline: float
    inputs: int  # the number of input columns
    # the booster's own input matrix: its columns are the inputs ``columns`` (categorical
    # ones first, as its preprocessor orders them); the ``encoded`` ones among them take
    # their value's position among the sorted categories it saw in training,
    # ``categories[category_start[k]:category_start[k + 1]]`` (an unseen value: missing)
    columns: npt.NDArray[np.int64]
    encoded: npt.NDArray[np.int64]
    category_start: npt.NDArray[np.int64]
    categories: FloatArray
    calibration: Literal["isotonic", "sigmoid"]
    # isotonic: x_min, x_max, thresholds (x, y); sigmoid: a, b
    calibrator: dict[str, Any]


def export(model: Any, inputs: int) -> Forest | None:
    """The :class:`Forest` of a fitted ``CalibratedClassifierCV(ensemble=False)`` around a
    binary ``HistGradientBoostingClassifier`` (what the trainer fits); None for any other
    shape of model. The caller checks it against the estimator (:func:`agrees`)."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if not calibrated or len(calibrated) != 1:
        return None
    one = calibrated[0]
    booster, calibrators = one.estimator, one.calibrators
    if getattr(booster, "n_trees_per_iteration_", None) != 1 or len(calibrators) != 1:
        return None
    if len(getattr(model, "classes_", ())) != 2:
        return None
    calibration, parameters = _calibrator(one.method, calibrators[0])
    if calibration is None:
        return None
    preprocessing = _preprocessing(getattr(booster, "_preprocessor", None), inputs)
    if preprocessing is None:
        return None
    columns, encoded, category_start, categories = preprocessing
    parts: dict[str, list[Any]] = {name: [] for name in _NODE_ARRAYS}
    starts, bitsets, offset, bitset_offset = [0], [], 0, 0
    for iteration in booster._predictors:
        (tree,) = iteration
        nodes = tree.nodes
        parts["feature"].append(nodes["feature_idx"].astype(np.int64))
        parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
        parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
        parts["left"].append(nodes["left"].astype(np.int64))
        parts["right"].append(nodes["right"].astype(np.int64))
        parts["is_leaf"].append(nodes["is_leaf"].astype(bool))
        parts["value"].append(nodes["value"].astype(np.float64))
        parts["is_categorical"].append(nodes["is_categorical"].astype(bool))
        parts["bitset_idx"].append(nodes["bitset_idx"].astype(np.int64) + bitset_offset)
        left_bits = np.asarray(tree.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        bitsets.append(left_bits)
        bitset_offset += left_bits.shape[0]
        offset += len(nodes)
        starts.append(offset)
    known, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    baseline = np.asarray(booster._baseline_prediction, dtype=np.float64).reshape(-1)
    if baseline.shape != (1,):
        return None
    return Forest(
        tree_start=np.asarray(starts, dtype=np.int64),
        **{name: np.concatenate(parts[name]) if parts[name] else _empty(name) for name in parts},
        left_bitsets=np.concatenate(bitsets) if bitsets else np.zeros((0, 8), np.uint32),
        known_bitsets=np.asarray(known, dtype=np.uint32).reshape(-1, 8),
        f_idx_map=np.asarray(f_idx_map, dtype=np.int64),
        baseline=float(baseline[0]),
        inputs=int(inputs),
        columns=columns,
        encoded=encoded,
        category_start=category_start,
        categories=categories,
        calibration=calibration,
        calibrator=parameters,
    )


def _preprocessing(
    preprocessor: Any, inputs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The booster's preprocessor as arrays (see :class:`Forest`): none (the inputs as
    they are), or its ``ColumnTransformer`` of an ordinal encoder of the categorical
    inputs followed by the numerical ones as they are; None for anything else."""
    if preprocessor is None:
        return (
            np.arange(inputs, dtype=np.int64),
            np.zeros(0, np.int64),
            np.zeros(1, np.int64),
            np.zeros(0, np.float64),
        )
    columns: list[int] = []
    encoded: list[int] = []
    starts, values = [0], []
    for name, transformer, selected in preprocessor.transformers_:
        picked = np.flatnonzero(np.asarray(selected, dtype=bool)).tolist()
        kind = type(transformer).__name__
        if name == "remainder" and (transformer == "drop" or not picked):
            continue
        if name == "encoder" and kind == "OrdinalEncoder":
            params = transformer.get_params()
            unknown, missing = params["unknown_value"], params["encoded_missing_value"]
            if params["handle_unknown"] != "use_encoded_value" or not (
                np.isnan(unknown) and np.isnan(missing)
            ):
                return None
            for index, cats in zip(picked, transformer.categories_, strict=True):
                encoded.append(len(columns))
                columns.append(index)
                values.append(np.asarray(cats, dtype=np.float64))
                starts.append(starts[-1] + len(cats))
        elif name == "numerical" and kind == "FunctionTransformer":
            columns.extend(picked)
        else:
            return None
    if sorted(columns) != list(range(inputs)):
        return None
    return (
        np.asarray(columns, dtype=np.int64),
        np.asarray(encoded, dtype=np.int64),
        np.asarray(starts, dtype=np.int64),
        np.concatenate(values) if values else np.zeros(0, np.float64),
    )


def _empty(name: str) -> np.ndarray:
    kinds = {"threshold": np.float64, "value": np.float64}
    flags = ("missing_left", "is_leaf", "is_categorical")
    return np.zeros(0, dtype=bool if name in flags else kinds.get(name, np.int64))


def _calibrator(method: str, calibrator: Any) -> tuple[Any, dict[str, Any]]:
    if method == "isotonic" and getattr(calibrator, "out_of_bounds", None) == "clip":
        x = np.asarray(calibrator.X_thresholds_)
        y = np.asarray(calibrator.y_thresholds_)
        if x.dtype != np.float64 or y.dtype != np.float64 or x.ndim != 1 or y.ndim != 1:
            return None, {}
        return "isotonic", {
            "x_min": float(calibrator.X_min_),
            "x_max": float(calibrator.X_max_),
            "x": x.copy(),
            "y": y.copy(),
        }
    if method == "sigmoid":
        return "sigmoid", {"a": float(calibrator.a_), "b": float(calibrator.b_)}
    return None, {}


def predict(forest: Forest, x: FloatArray) -> FloatArray:
    """The calibrated probability of the event for each row of ``x`` (the model matrix:
    ``forest.inputs`` float columns, categories as codes, missing as NaN)."""
    matrix = np.ascontiguousarray(x, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != forest.inputs:
        raise ConfigurationError(
            f"model trees: {forest.inputs} input columns expected, got {matrix.shape[1:]}"
        )
    if matrix.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    from forbear.domain.scoring import forest_walk  # numba: on the first prediction

    matrix = np.ascontiguousarray(matrix[:, forest.columns])
    for k, j in enumerate(forest.encoded):
        cats = forest.categories[forest.category_start[k] : forest.category_start[k + 1]]
        values = matrix[:, j]
        position = np.searchsorted(cats, values)
        known = position < len(cats)
        known[known] = cats[position[known]] == values[known]
        matrix[:, j] = np.where(known, position, np.nan)

    raw = forest_walk.raw_scores(
        matrix,
        forest.tree_start,
        forest.feature,
        forest.threshold,
        forest.missing_left,
        forest.left,
        forest.right,
        forest.is_leaf,
        forest.value,
        forest.is_categorical,
        forest.bitset_idx,
        forest.left_bitsets,
        forest.known_bitsets,
        forest.f_idx_map,
        forest.baseline,
    )
    c = forest.calibrator
    if forest.calibration == "sigmoid":
        return forest_walk.sigmoid(raw, float(c["a"]), float(c["b"]))
    xs, ys = c["x"], c["y"]
    if len(ys) == 1:
        return np.repeat(ys, raw.shape[0]).astype(np.float64)
    clipped = np.clip(raw, c["x_min"], c["x_max"])
    probability = np.interp(clipped, xs, ys)
    probability[(clipped < xs[0]) | (clipped > xs[-1])] = np.nan  # interp1d's fill
    return np.asarray(probability, dtype=np.float64)


def agrees(forest: Forest, model: Any, *matrices: FloatArray) -> bool:
    """Whether :func:`predict` gives exactly the estimator's probabilities on every row
    of ``matrices``."""
    for x in matrices:
        if len(x) == 0:
            continue
        expected = np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
        if not np.array_equal(predict(forest, x), expected, equal_nan=True):
            return False
    return True


# ----------------------------------------------------------------- (de)serialising


def dump(forest: Forest) -> tuple[str, str]:
    """The forest as base64 of an ``.npz`` archive, and the archive's sha256."""
    arrays: dict[str, np.ndarray] = {
        "tree_start": forest.tree_start,
        **{name: getattr(forest, name) for name in _NODE_ARRAYS},
        "left_bitsets": forest.left_bitsets,
        "known_bitsets": forest.known_bitsets,
        "f_idx_map": forest.f_idx_map,
        "baseline": np.asarray([forest.baseline], dtype=np.float64),
        "inputs": np.asarray([forest.inputs], dtype=np.int64),
        "columns": forest.columns,
        "encoded": forest.encoded,
        "category_start": forest.category_start,
        "categories": forest.categories,
    }
    if forest.calibration == "isotonic":
        c = forest.calibrator
        arrays["isotonic_range"] = np.asarray([c["x_min"], c["x_max"]], dtype=np.float64)
        arrays["isotonic_x"] = np.asarray(c["x"], dtype=np.float64)
        arrays["isotonic_y"] = np.asarray(c["y"], dtype=np.float64)
    else:
        c = forest.calibrator
        arrays["sigmoid_ab"] = np.asarray([c["a"], c["b"]], dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    raw = buffer.getvalue()
    return base64.b64encode(raw).decode("ascii"), hashlib.sha256(raw).hexdigest()


@lru_cache(maxsize=8)
def load(forest_b64: str, expected_sha256: str) -> Forest:
    """:func:`dump`'s output read back (cached by its text); a corrupted or edited archive
    is refused."""
    raw = base64.b64decode(forest_b64.encode("ascii"), validate=True)
    if hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise ConfigurationError("model artefact: trees checksum mismatch (corrupted or edited)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if "isotonic_x" in arrays:
            low, high = arrays["isotonic_range"]
            calibration: Literal["isotonic", "sigmoid"] = "isotonic"
            calibrator: dict[str, Any] = {
                "x_min": float(low),
                "x_max": float(high),
                "x": arrays["isotonic_x"],
                "y": arrays["isotonic_y"],
            }
        else:
            a, b = arrays["sigmoid_ab"]
            calibration, calibrator = "sigmoid", {"a": float(a), "b": float(b)}
        return Forest(
            tree_start=arrays["tree_start"].astype(np.int64),
            feature=arrays["feature"].astype(np.int64),
            threshold=arrays["threshold"].astype(np.float64),
            missing_left=arrays["missing_left"].astype(bool),
            left=arrays["left"].astype(np.int64),
            right=arrays["right"].astype(np.int64),
            is_leaf=arrays["is_leaf"].astype(bool),
            value=arrays["value"].astype(np.float64),
            is_categorical=arrays["is_categorical"].astype(bool),
            bitset_idx=arrays["bitset_idx"].astype(np.int64),
            left_bitsets=np.ascontiguousarray(arrays["left_bitsets"], dtype=np.uint32),
            known_bitsets=np.ascontiguousarray(arrays["known_bitsets"], dtype=np.uint32),
            f_idx_map=arrays["f_idx_map"].astype(np.int64),
            baseline=float(arrays["baseline"][0]),
            inputs=int(arrays["inputs"][0]),
            columns=arrays["columns"].astype(np.int64),
            encoded=arrays["encoded"].astype(np.int64),
            category_start=arrays["category_start"].astype(np.int64),
            categories=arrays["categories"].astype(np.float64),
            calibration=calibration,
            calibrator=calibrator,
        )
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        kind = type(exc).__name__
        raise ConfigurationError(f"model artefact: unreadable trees ({kind})") from None
