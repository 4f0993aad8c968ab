"""The compiled loops of :mod:`forbear.domain.scoring.forest` (numba, cached on disk like
the ledger's): a booster's raw scores from its node arrays, and the sigmoid calibrator.
Imported on the first prediction."""

from __future__ import annotations

import math

import numpy as np

from forbear.domain.jit import numba


@numba.njit(cache=True, nogil=True)
def raw_scores(
    x: np.ndarray,
    tree_start: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing_left: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    is_leaf: np.ndarray,
    value: np.ndarray,
    is_categorical: np.ndarray,
    bitset_idx: np.ndarray,
    left_bitsets: np.ndarray,
    known_bitsets: np.ndarray,
    f_idx_map: np.ndarray,
    baseline: float,
) -> np.ndarray:
    """The baseline plus every tree's leaf value, tree after tree, for each row of ``x``
    (scikit-learn's ``_predict_one_from_raw_data`` per tree, summed in boosting order)."""
    rows = x.shape[0]
    out = np.empty(rows, dtype=np.float64)
    for i in range(rows):
        out[i] = 0.0 + baseline
    for t in range(tree_start.shape[0] - 1):
        base = tree_start[t]
        for i in range(rows):
            node = base
            while not is_leaf[node]:
                v = x[i, feature[node]]
                if math.isnan(v):
                    go_left = missing_left[node]
                elif is_categorical[node]:
                    if v < 0:
                        go_left = missing_left[node]  # out of range: as missing
                    else:
                        code = np.int64(v) & 0xFF  # the category's code (a byte)
                        word, bit = code >> 5, code & 31
                        row = bitset_idx[node]
                        if (left_bitsets[row, word] >> bit) & 1:
                            go_left = True
                        elif (known_bitsets[f_idx_map[feature[node]], word] >> bit) & 1:
                            go_left = False
                        else:
                            go_left = missing_left[node]  # unseen in training: as missing
                else:
                    go_left = v <= threshold[node]
                node = base + (left[node] if go_left else right[node])
            out[i] += value[node]
    return out


@numba.njit(cache=True, nogil=True)
def sigmoid(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    """``expit(-(a * raw + b))`` as SciPy computes it: ``1 / (1 + exp(-x))``."""
    out = np.empty(raw.shape[0], dtype=np.float64)
    for i in range(raw.shape[0]):
        x = -(a * raw[i] + b)
        out[i] = 1.0 / (1.0 + math.exp(-x))
    return out
