"""The scorecard as a scikit-learn classifier, for pipelines and cross-validation.

``fit`` trains on all of ``X`` (no internal 70/30 split: cross-validation does the
splitting), so the metrics in ``artefact_`` are in-sample. ``y`` may hold any two labels;
the greater one (``classes_[1]``, e.g. 1 or "bad") is the bad outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import Artefact, Scaling
from forbear.domain.scoring.compiled import PD, SCORE, score_frame
from forbear.domain.scoring.scorecard import ScorecardConfig, fit_scorecard

_TARGET = "__forbear_target__"
# The domain has no clock: an estimator's artefact carries this fixed timestamp; the
# service that stores a model version sets the real one.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _to_polars(x: Any) -> pl.DataFrame:
    if isinstance(x, pl.DataFrame):
        return x
    if isinstance(x, pl.LazyFrame):
        return x.collect()
    if isinstance(x, pd.DataFrame):
        return pl.from_pandas(x)
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValidationError("X", "a 2-d table of features is needed")
    return pl.DataFrame({f"x{i}": arr[:, i] for i in range(arr.shape[1])})


class ScorecardClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A points scorecard with the scikit-learn estimator interface."""

    def __init__(
        self,
        iv_threshold: float = 0.02,
        corr_threshold: float = 0.7,
        base_points: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        min_bin_share: float = 0.05,
        seed: int = 42,
    ) -> None:
        self.iv_threshold = iv_threshold
        self.corr_threshold = corr_threshold
        self.base_points = base_points
        self.base_odds = base_odds
        self.pdo = pdo
        self.min_bin_share = min_bin_share
        self.seed = seed

    def _config(self) -> ScorecardConfig:
        return ScorecardConfig(
            iv_threshold=self.iv_threshold,
            corr_threshold=self.corr_threshold,
            min_bin_share=self.min_bin_share,
            scaling=Scaling(base_points=self.base_points, base_odds=self.base_odds, pdo=self.pdo),
            min_bads=1,
        )

    def fit(self, X: Any, y: Any) -> ScorecardClassifier:
        frame = _to_polars(X)
        labels = np.asarray(y)
        classes = np.unique(labels)
        if len(classes) != 2:
            raise ValidationError("y", f"binary target needed; found {classes.tolist()[:10]}")
        if _TARGET in frame.columns:
            raise ValidationError(_TARGET, "reserved column name")
        bad = (labels == classes[1]).astype(np.int64)
        data = frame.with_columns(pl.Series(_TARGET, bad))
        names = list(frame.columns)
        artefact, _ = fit_scorecard(data, data, _TARGET, names=names, config=self._config())
        self.artefact_: Artefact = artefact.model_copy(
            update={"name": "sklearn", "created_at": _EPOCH}
        )
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        return self

    def _scored(self, X: Any) -> pl.DataFrame:
        if not hasattr(self, "artefact_"):
            raise ValidationError("ScorecardClassifier", "not fitted")
        frame = _to_polars(X)
        return score_frame(frame.lazy(), self.artefact_, reasons=0).select(SCORE, PD).collect()

    def score_points(self, X: Any) -> FloatArray:
        """Scorecard points per row (higher = lower risk)."""
        return cast(FloatArray, self._scored(X).get_column(SCORE).to_numpy().astype(np.float64))

    def predict_proba(self, X: Any) -> FloatArray:
        pd_bad = self._scored(X).get_column(PD).to_numpy().astype(np.float64)
        return np.column_stack([1.0 - pd_bad, pd_bad])

    def decision_function(self, X: Any) -> FloatArray:
        """Log-odds of bad, for scorers that want a continuous value."""
        p = self.predict_proba(X)[:, 1]
        return cast(FloatArray, np.log(p / (1.0 - p)))

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return cast(
            "np.ndarray[Any, Any]", self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
        )
