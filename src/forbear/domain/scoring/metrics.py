"""Discrimination metrics of a score: AUC, KS, Gini.

Scores here are "higher is better" (fewer bads), as scorecard points are; the target is
1 for bad. Gini = 2 AUC - 1 (the accuracy ratio).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forbear.domain.errors import ValidationError


def discrimination(y: np.ndarray[Any, Any], score: np.ndarray[Any, Any]) -> dict[str, float]:
    """``{"auc", "ks", "gini"}`` of ``score`` against the bad flag ``y``."""
    # imported here: scoring the book needs no metrics, and scikit-learn takes a second
    # or more to import (the daily run imports it beside its ledger, see
    # :func:`forbear.services.models.warm_up`)
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        raise ValidationError("target", "AUC and KS need both goods and bads")
    neg = -np.asarray(score, dtype=np.float64)
    auc = float(roc_auc_score(y, neg))
    fpr, tpr, _ = roc_curve(y, neg)
    return {"auc": auc, "ks": float(np.max(tpr - fpr)), "gini": 2.0 * auc - 1.0}
