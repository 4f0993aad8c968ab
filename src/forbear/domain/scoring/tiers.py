"""Risk tiers A (lowest risk) to E from score cut-offs.

Either quantiles of the training score distribution (default 10/20/40/20/10% from best
to worst) or fixed cut-offs chosen by the risk team. A tier holds the scores
``>= min_score`` and below the next better tier's ``min_score``; the worst tier is the
floor (``min_score=None``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import Tier

TIER_LABELS: tuple[str, ...] = ("A", "B", "C", "D", "E")


def quantile_tiers(
    scores: np.ndarray[Any, np.dtype[np.float64]],
    shares: Sequence[float],
    labels: Sequence[str] = TIER_LABELS,
) -> tuple[Tier, ...]:
    """Cut-offs so that each tier holds about ``shares[i]`` of ``scores`` (best first)."""
    if len(shares) != len(labels):
        raise ValidationError("tier_shares", f"{len(shares)} shares for {len(labels)} tiers")
    if any(s <= 0 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
        raise ValidationError("tier_shares", "shares must be positive and sum to 1")
    cutoffs: list[float] = []
    above = 0.0
    for share in shares[:-1]:
        above += share
        cutoffs.append(float(np.quantile(scores, 1.0 - above)))
    return cutoff_tiers(cutoffs, labels)


def cutoff_tiers(cutoffs: Sequence[float], labels: Sequence[str] = TIER_LABELS) -> tuple[Tier, ...]:
    """Tiers from the minimum scores of every tier but the last, best tier first."""
    if len(cutoffs) != len(labels) - 1:
        raise ValidationError(
            "tier_cutoffs", f"{len(labels) - 1} cut-offs needed for {len(labels)} tiers"
        )
    if any(b > a for a, b in itertools.pairwise(cutoffs)):
        raise ValidationError("tier_cutoffs", "cut-offs must descend from the best tier")
    tiers = [Tier(label=lab, min_score=float(c)) for lab, c in zip(labels, cutoffs, strict=False)]
    tiers.append(Tier(label=labels[-1], min_score=None))
    return tuple(tiers)


def tier_of(score: float, tiers: Sequence[Tier]) -> str | None:
    """The tier of one score (the scalar twin of the compiled tier expression)."""
    floor: str | None = None
    for t in sorted(
        tiers, key=lambda t: -math.inf if t.min_score is None else t.min_score, reverse=True
    ):
        if t.min_score is None:
            floor = t.label
        elif score >= t.min_score:
            return t.label
    return floor


def tier_labels(tiers: Sequence[Tier], score: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The tier label of each score (the vectorised :func:`tier_of`; "" without tiers)."""
    ordered = sorted(
        tiers, key=lambda t: -math.inf if t.min_score is None else t.min_score, reverse=True
    )
    out = np.full(len(score), "", dtype=object)
    assigned = np.zeros(len(score), dtype=bool)
    for t in ordered:
        mask = ~assigned if t.min_score is None else (~assigned & (score >= t.min_score))
        out[mask] = t.label
        assigned |= mask
    return out
