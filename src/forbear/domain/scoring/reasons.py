"""Reason codes for one account: which features cost it the most points.

PIPL art. 24 (个人信息保护法第二十四条): a person affected by an automated decision may ask
for an explanation. A reason is a feature whose bin gave fewer points than the feature's
best bin; reasons are ranked by the points lost (ties: artefact order), only losses > 0
count. :func:`explain` is the scalar twin of the vectorised ``reason_codes`` column of
:func:`forbear.domain.scoring.compiled.score_frame`; a test checks they agree row by row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from forbear.domain.scoring.artefact import Artefact, BinKind, Feature
from forbear.domain.scoring.compiled import (
    LOSS_RESOLUTION,
    missing_points,
    quantised_loss,
    unseen_points,
)


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    label_zh: str
    label_en: str
    points_lost: float


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def bin_points(feature: Feature, value: object) -> float:
    """Points of ``value`` for ``feature``, by the rules of the compiled expressions."""
    if _is_missing(value):
        return missing_points(feature)
    if feature.dtype == "categorical":
        text = _category_text(value)
        for b in feature.bins:
            if b.kind in (BinKind.CATEGORIES, BinKind.OTHER) and text in b.categories:
                return b.points
        return unseen_points(feature)
    number = float(value)  # type: ignore[arg-type]
    if feature.special_codes and number in feature.special_codes:
        for b in feature.bins:
            if b.kind is BinKind.SPECIAL:
                return b.points
    for b in feature.bins:
        if b.kind is not BinKind.INTERVAL:
            continue
        if (b.lower is None or number >= b.lower) and (b.upper is None or number < b.upper):
            return b.points
    return missing_points(feature)


def _category_text(value: object) -> str:
    # the same text Polars' cast to String gives
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def explain(row: Mapping[str, object], artefact: Artefact, n: int = 4) -> list[Reason]:
    """The ``n`` features that cost this account the most points, worst first."""
    losses: list[tuple[int, int, Feature, float]] = []
    for i, f in enumerate(artefact.features):
        points = bin_points(f, row.get(f.name))
        q = quantised_loss(f.best_points, points)
        if q > 0:
            losses.append((-q, i, f, f.best_points - points))
    losses.sort(key=lambda t: (t[0], t[1]))
    return [
        Reason(f.name, f.label_zh, f.label_en, round(lost / LOSS_RESOLUTION) * LOSS_RESOLUTION)
        for _, _, f, lost in losses[: max(n, 0)]
    ]
