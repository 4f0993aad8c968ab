"""Model monitoring: population stability (PSI), discrimination on matured outcomes, warnings.

Pure functions over Polars frames and the model artefact; no clock, no I/O. The CLI
(``forbear model monitor``) and the HTML report (:mod:`forbear.domain.scoring.report`)
call :func:`monitor` and read its :class:`MonitoringResult`.

Conventions
-----------
* **Score bands.** ``Artefact.score_bands`` holds the ascending *interior cut points*
  of the score distribution and ``score_band_shares`` one training share per band, so
  ``len(shares) == len(bands) + 1``; band ``i`` is ``bands[i-1] <= s < bands[i]``.
  Two other layouts are read too, so trainers need not agree on more than order:
  lower bounds of each band (``len(shares) == len(bands)``, the first band open below)
  and full edges (``len(bands) == len(shares) + 1``, outer edges ignored).
* **Feature bins** are found by the same placement as scoring (:func:`bin_index_expr`,
  the rules of :mod:`forbear.domain.scoring.compiled`). A value that fits no bin (a
  null where training had no missing bin) is counted as "unbinned", with an expected
  share of zero: it shows up in the PSI instead of vanishing.
* **Event orientation.** Outcomes are 1 for the modelled event (a "bad" for a
  scorecard, a payment for propensity). A scorecard score is higher for *fewer*
  events, a propensity probability higher for *more*; :func:`monitor` picks the
  orientation from the artefact, :func:`performance` takes it as an argument.

PSI thresholds follow the industry rule of thumb (Siddiqi, *Credit Risk Scorecards*,
2006, ch. 11): below 0.10 stable, 0.10-0.25 a moderate shift worth a look, above 0.25
a significant shift that calls for a review of the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import Artefact, Feature
from forbear.domain.scoring.compiled import bin_index_expr
from forbear.domain.scoring.metrics import discrimination
from forbear.domain.scoring.tiers import tier_labels

PSI_MODERATE = 0.10
PSI_SIGNIFICANT = 0.25
AUC_DROP = 0.05
# Threshold comparisons tolerate float noise (0.80 - 0.75 == 0.05000000000000004).
_TOL = 1e-9

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- PSI


def psi(
    expected_shares: Sequence[float], actual_shares: Sequence[float], eps: float = 1e-4
) -> float:
    """Population stability index ``sum((a - e) * ln(a / e))`` over bands.

    Shares are renormalised to sum to one; a zero share is replaced by ``eps`` so an
    empty band contributes a large but finite term.
    """
    if len(expected_shares) != len(actual_shares):
        raise ValidationError(
            "shares",
            f"expected {len(expected_shares)} bands, actual has {len(actual_shares)}",
        )
    if not expected_shares:
        raise ValidationError("shares", "no bands")
    e = np.asarray(expected_shares, dtype=np.float64)
    a = np.asarray(actual_shares, dtype=np.float64)
    if (e < 0).any() or (a < 0).any():
        raise ValidationError("shares", "a share is negative")
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValidationError("shares", "shares sum to zero")
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def band_cuts(artefact: Artefact) -> tuple[float, ...]:
    """The interior cut points of the artefact's score bands (see the module docstring)."""
    bands, shares = artefact.score_bands, artefact.score_band_shares
    if not shares:
        raise ValidationError("score_band_shares", f"artefact {artefact.name} has no score bands")
    if len(shares) == len(bands) + 1:
        cuts = bands
    elif len(shares) == len(bands):
        cuts = bands[1:]
    elif len(bands) == len(shares) + 1:
        cuts = bands[1:-1]
    else:
        raise ValidationError(
            "score_bands",
            f"{len(bands)} band bounds do not match {len(shares)} shares",
        )
    if any(b >= c for b, c in itertools.pairwise(cuts)):
        raise ValidationError("score_bands", "band bounds are not strictly ascending")
    return tuple(cuts)


def band_index(scores: pl.Series, cuts: Sequence[float]) -> npt.NDArray[np.int64]:
    """Band of each score: the number of cuts ``<=`` the score (nulls are dropped)."""
    values = scores.drop_nulls().cast(pl.Float64).to_numpy()
    values = values[~np.isnan(values)]
    idx: npt.NDArray[np.int64] = np.searchsorted(
        np.asarray(cuts, dtype=np.float64), values, side="right"
    ).astype(np.int64)
    return idx


def band_shares(scores: pl.Series, cuts: Sequence[float]) -> tuple[float, ...]:
    """Share of (non-null) scores in each of the ``len(cuts) + 1`` bands."""
    idx = band_index(scores, cuts)
    counts = np.bincount(idx, minlength=len(cuts) + 1).astype(np.float64)
    total = counts.sum()
    if total == 0:
        raise ValidationError(scores.name or "scores", "no non-null scores")
    return tuple(float(c) for c in counts / total)


def score_psi(artefact: Artefact, scores: pl.Series) -> float:
    """PSI of current scores against the training score distribution of the artefact."""
    return psi(artefact.score_band_shares, band_shares(scores, band_cuts(artefact)))


# ------------------------------------------------------------------ feature binning


def _training_shares(feature: Feature) -> list[float]:
    total = sum(b.count for b in feature.bins)
    if total == 0:
        raise ValidationError(feature.name, "training bin counts are all zero")
    return [b.count / total for b in feature.bins]


def _input_profiles(artefact: Artefact) -> dict[str, dict[str, Any]]:
    """Baseline input distributions of a non-scorecard model (see propensity.py)."""
    extra = artefact.training.model_extra or {}
    profiles = extra.get("input_profiles", {})
    return profiles if isinstance(profiles, dict) else {}


def profile_bin_expr(name: str, profile: dict[str, Any]) -> tuple[pl.Expr, list[float]]:
    """Bin expression and expected shares for one input of a propensity model.

    A profile is ``{"kind": "numerical", "cuts": [...], "shares": [...]}`` (bands by
    the cut points, then a last band for missing) or ``{"kind": "categorical",
    "categories": [...], "shares": [...]}`` (categories, then other, then missing).
    """
    shares = [float(s) for s in profile["shares"]]
    col = pl.col(name)
    if profile["kind"] == "numerical":
        cuts = [float(c) for c in profile["cuts"]]
        x = col.cast(pl.Float64, strict=False)
        missing = len(cuts) + 1
        band: pl.Expr = pl.lit(0, dtype=pl.Int32)
        for c in cuts:
            band = band + (x >= c).cast(pl.Int32)
        is_missing = x.is_null() | x.is_nan()
        numeric = pl.when(is_missing).then(pl.lit(missing, dtype=pl.Int32)).otherwise(band)
        return numeric.cast(pl.Int32).alias(f"bin_{name}"), shares
    cats = [str(c) for c in profile["categories"]]
    s = col.cast(pl.String)
    other, missing = len(cats), len(cats) + 1
    mapped = s.replace_strict(cats, list(range(len(cats))), default=other, return_dtype=pl.Int32)
    categorical = pl.when(s.is_null()).then(pl.lit(missing, dtype=pl.Int32)).otherwise(mapped)
    return categorical.cast(pl.Int32).alias(f"bin_{name}"), shares


def _psi_from_index(name: str, idx: pl.Series, expected: list[float]) -> dict[str, Any]:
    n_bins = len(expected)
    counts = idx.value_counts()
    by_bin = dict(zip(counts[idx.name].to_list(), counts["count"].to_list(), strict=True))
    rows = int(idx.len())
    if rows == 0:
        raise ValidationError("current", "no rows to compare")
    actual = [by_bin.get(i, 0) / rows for i in range(n_bins)]
    unbinned = by_bin.get(None, 0) / rows
    exp = list(expected)
    if unbinned > 0:
        actual.append(unbinned)
        exp.append(0.0)
    return {
        "feature": name,
        "psi": psi(exp, actual),
        "rows": rows,
        "unbinned_share": unbinned,
    }


FEATURE_PSI_SCHEMA = {
    "feature": pl.String,
    "psi": pl.Float64,
    "rows": pl.Int64,
    "unbinned_share": pl.Float64,
}


def feature_psi(artefact: Artefact, frame: pl.DataFrame) -> pl.DataFrame:
    """PSI per feature: ``feature, psi, rows, unbinned_share``, in the artefact's order.

    Scorecards use the features' bins (training shares from the bin counts); other
    models use the input profiles stored at training, where present. A feature
    column absent from ``frame`` raises :class:`ValidationError` naming it.
    """
    specs: list[tuple[str, pl.Expr, list[float]]] = []
    if artefact.is_scorecard:
        specs = [(f.name, bin_index_expr(f), _training_shares(f)) for f in artefact.features]
    else:
        for name, profile in _input_profiles(artefact).items():
            expr, shares = profile_bin_expr(name, profile)
            specs.append((name, expr, shares))
    for name, _, _ in specs:
        if name not in frame.columns:
            raise ValidationError(name, "feature column missing from the current frame")
    if not specs:
        return pl.DataFrame(schema=FEATURE_PSI_SCHEMA)
    binned = frame.select([expr for _, expr, _ in specs])
    rows = [_psi_from_index(name, binned[f"bin_{name}"], shares) for (name, _, shares) in specs]
    return pl.DataFrame(rows, schema=FEATURE_PSI_SCHEMA)


# ------------------------------------------------------------ discrimination metrics


def _clean(scores: pl.Series, outcomes: pl.Series) -> tuple[FloatArray, FloatArray]:
    if scores.len() != outcomes.len():
        raise ValidationError(
            outcomes.name or "outcomes",
            f"{outcomes.len()} outcomes for {scores.len()} scores",
        )
    df = pl.DataFrame(
        {"s": scores.cast(pl.Float64), "y": outcomes.cast(pl.Float64, strict=False)}
    ).drop_nulls()
    df = df.filter(pl.col("s").is_not_nan())
    y = df["y"].to_numpy()
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValidationError(outcomes.name or "outcomes", "outcomes must be 0 or 1")
    return df["s"].to_numpy(), y


def _roc(
    s: FloatArray, y: FloatArray, higher_means_event: bool, name: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    events, non_events = float(y.sum()), float(len(y) - y.sum())
    if events == 0 or non_events == 0:
        raise ValidationError(name, "needs both events and non-events to rank")
    key = s if higher_means_event else -s
    order = np.argsort(-key, kind="mergesort")
    key, ys = key[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(key))[0], len(key) - 1]
    tp = np.cumsum(ys)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    thresholds = key[last_of_tie] if higher_means_event else -key[last_of_tie]
    start = np.inf if higher_means_event else -np.inf
    return (
        np.r_[start, thresholds].astype(np.float64),
        np.r_[0.0, fp / non_events].astype(np.float64),
        np.r_[0.0, tp / events].astype(np.float64),
    )


def roc_curve(
    scores: pl.Series, outcomes: pl.Series, *, higher_means_event: bool = True
) -> pl.DataFrame:
    """ROC points ``threshold, fpr, tpr`` from (0, 0) to (1, 1), one per distinct score.

    At each threshold, rows with a score at least as event-like are predicted events;
    ``tpr - fpr`` along the curve is the KS curve. Null scores or outcomes are left out.
    """
    s, y = _clean(scores, outcomes)
    thresholds, fpr, tpr = _roc(s, y, higher_means_event, outcomes.name or "outcomes")
    return pl.DataFrame({"threshold": thresholds, "fpr": fpr, "tpr": tpr})


@dataclass(frozen=True, slots=True)
class Performance:
    """Discrimination on matured outcomes (same meaning as the artefact's Metrics)."""

    auc: float
    ks: float
    gini: float
    rows: int
    events: int

    @property
    def event_rate(self) -> float:
        return self.events / self.rows if self.rows else 0.0


def performance(
    scores: pl.Series, outcomes: pl.Series, *, higher_means_event: bool = True
) -> Performance:
    """AUC (ties count one half), KS (max of TPR - FPR) and Gini (2 AUC - 1).

    ``higher_means_event`` is True for probabilities of the event (propensity, PD)
    and False for scorecard scores, where a higher score means fewer bads.
    """
    s, y = _clean(scores, outcomes)
    # One definition of the metrics for training and monitoring: metrics.py takes
    # "higher is better" scores, so probabilities of the event are negated.
    m = discrimination(y, -s if higher_means_event else s)
    auc, ks = m["auc"], m["ks"]
    return Performance(auc=auc, ks=ks, gini=2.0 * auc - 1.0, rows=len(y), events=int(y.sum()))


def _band_label(i: int, cuts: Sequence[float]) -> str:
    lo = "-inf" if i == 0 else f"{cuts[i - 1]:.4g}"
    hi = "+inf" if i == len(cuts) else f"{cuts[i]:.4g}"
    return f"[{lo}, {hi})"


def bad_rate_by_band(artefact: Artefact, scores: pl.Series, outcomes: pl.Series) -> pl.DataFrame:
    """Per score band: ``band, label, rows, events, event_rate, share, expected_share``.

    Bands are the artefact's training score bands, so the rows line up with the
    training distribution; bands with no current rows have a null event rate.
    """
    cuts = band_cuts(artefact)
    s, y = _clean(scores, outcomes)
    idx = np.searchsorted(np.asarray(cuts, dtype=np.float64), s, side="right")
    n_bands = len(cuts) + 1
    rows = np.bincount(idx, minlength=n_bands)
    events = np.bincount(idx, weights=y, minlength=n_bands)
    total = max(int(rows.sum()), 1)
    return pl.DataFrame(
        {
            "band": list(range(n_bands)),
            "label": [_band_label(i, cuts) for i in range(n_bands)],
            "rows": rows.astype(np.int64),
            "events": events.astype(np.int64),
            "event_rate": [float(e / r) if r else None for e, r in zip(events, rows, strict=True)],
            "share": rows / total,
            "expected_share": list(artefact.score_band_shares),
        },
        schema_overrides={"band": pl.Int32, "event_rate": pl.Float64},
    )


def check_binary_outcomes(outcomes: pl.Series) -> None:
    """Refuse outcomes that are not 0/1 (nulls: not yet matured), naming what was found:
    a 4-valued column is not silently "no matured outcomes"."""
    name = outcomes.name or "outcomes"
    present = outcomes.drop_nulls()
    if present.dtype == pl.Boolean:
        return
    values = present.cast(pl.String).unique().sort().to_list()
    numeric = present.dtype.is_numeric()
    if numeric and set(present.cast(pl.Float64).unique().to_list()) <= {0.0, 1.0}:
        return
    shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
    raise ValidationError(
        name,
        f"monitoring needs a binary outcome (0/1, 1 = bad); found {len(values)} values: "
        f"{shown}; give --bad VALUE for a two-valued column, or derive a 0/1 column",
    )


def bad_rate_by_tier(artefact: Artefact, scores: pl.Series, outcomes: pl.Series) -> pl.DataFrame:
    """Per tier, best first: ``tier, rows, events, event_rate, training_rows,
    training_event_rate`` (training figures from the artefact, where it holds them)."""
    s, y = _clean(scores, outcomes)
    labels = tier_labels(artefact.tiers, s)
    training = {
        str(row.get("tier")): row
        for row in (artefact.metrics.model_extra or {}).get("tier_table", [])
        if isinstance(row, dict)
    }
    rows = []
    for t in artefact.tiers:
        mask = labels == t.label
        n, events = int(mask.sum()), int(y[mask].sum())
        trained = training.get(t.label, {})
        rows.append(
            (
                t.label,
                n,
                events,
                events / n if n else None,
                trained.get("rows"),
                trained.get("bad_rate"),
            )
        )
    return pl.DataFrame(
        rows,
        schema={
            "tier": pl.String,
            "rows": pl.Int64,
            "events": pl.Int64,
            "event_rate": pl.Float64,
            "training_rows": pl.Int64,
            "training_event_rate": pl.Float64,
        },
        orient="row",
    )


# ------------------------------------------------------------------------ monitor


@dataclass(frozen=True, slots=True)
class MonitoringWarning:
    """One finding worth a person's attention; ``code`` is stable for machines."""

    code: Literal["score_psi", "feature_psi", "auc_drop"]
    severity: Literal["moderate", "significant"]
    subject: str  # "score", a feature name, or "auc"
    value: float
    threshold: float
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return self.message_en


@dataclass(frozen=True, slots=True)
class MonitoringResult:
    """Everything ``forbear model monitor`` prints and the report draws."""

    model: str
    rows: int
    score_psi: float | None
    feature_psi: pl.DataFrame
    performance: Performance | None
    training_auc: float
    bad_rates: pl.DataFrame | None
    warnings: tuple[MonitoringWarning, ...] = field(default=())
    # per tier (scorecards with matured outcomes): tier, rows, events, event_rate,
    # training_rows, training_event_rate
    tier_rates: pl.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return not self.warnings


def _exceeds(value: float, threshold: float) -> bool:
    return value > threshold + _TOL


def _at_least(value: float, threshold: float) -> bool:
    return value >= threshold - _TOL


def score_psi_warning(value: float) -> MonitoringWarning | None:
    """Significant above 0.25; moderate from 0.10 up to and including 0.25."""
    if _exceeds(value, PSI_SIGNIFICANT):
        return MonitoringWarning(
            "score_psi", "significant", "score", value, PSI_SIGNIFICANT,
            f"评分分布显著偏移 (PSI {value:.3f} > {PSI_SIGNIFICANT})，需复核模型",
            f"significant shift in the score distribution (PSI {value:.3f} > {PSI_SIGNIFICANT})",
        )  # fmt: skip
    if _at_least(value, PSI_MODERATE):
        return MonitoringWarning(
            "score_psi", "moderate", "score", value, PSI_MODERATE,
            f"评分分布中度偏移 (PSI {value:.3f})",
            f"moderate shift in the score distribution (PSI {value:.3f}, 0.10-0.25)",
        )  # fmt: skip
    return None


def feature_psi_warning(name: str, value: float) -> MonitoringWarning | None:
    """A feature whose PSI is above 0.25."""
    if not _exceeds(value, PSI_SIGNIFICANT):
        return None
    return MonitoringWarning(
        "feature_psi", "significant", name, value, PSI_SIGNIFICANT,
        f"特征 {name} 分布显著偏移 (PSI {value:.3f} > {PSI_SIGNIFICANT})",
        f"significant shift in feature {name} (PSI {value:.3f} > {PSI_SIGNIFICANT})",
    )  # fmt: skip


def auc_warning(training_auc: float, current_auc: float) -> MonitoringWarning | None:
    """AUC fallen by more than 0.05 against training."""
    drop = training_auc - current_auc
    if not _exceeds(drop, AUC_DROP):
        return None
    return MonitoringWarning(
        "auc_drop", "significant", "auc", current_auc, training_auc - AUC_DROP,
        f"区分能力下降：AUC {current_auc:.3f}，训练时 {training_auc:.3f} (降幅 > {AUC_DROP})",
        f"discrimination fell: AUC {current_auc:.3f} against {training_auc:.3f} at training "
        f"(drop > {AUC_DROP})",
    )  # fmt: skip


def monitor(
    artefact: Artefact,
    current: pl.DataFrame,
    *,
    scores: pl.Series,
    outcomes: pl.Series | None = None,
) -> MonitoringResult:
    """Compare a current population (and, where matured, its outcomes) with training.

    ``current`` holds the model's input columns; ``scores`` the model output for the
    same rows (the points score for a scorecard, the probability otherwise);
    ``outcomes`` 1/0 for the modelled event, null where not yet matured.
    """
    higher_means_event = not artefact.is_scorecard
    if outcomes is not None:
        check_binary_outcomes(outcomes)
    warnings: list[MonitoringWarning] = []
    s_psi: float | None = None
    if artefact.score_band_shares:
        s_psi = score_psi(artefact, scores)
        if (w := score_psi_warning(s_psi)) is not None:
            warnings.append(w)
    f_psi = feature_psi(artefact, current)
    for name, value in f_psi.select("feature", "psi").iter_rows():
        if (w := feature_psi_warning(name, value)) is not None:
            warnings.append(w)
    perf: Performance | None = None
    bad_rates: pl.DataFrame | None = None
    tier_rates: pl.DataFrame | None = None
    if outcomes is not None and outcomes.drop_nulls().n_unique() == 2:
        perf = performance(scores, outcomes, higher_means_event=higher_means_event)
        if (w := auc_warning(artefact.metrics.auc, perf.auc)) is not None:
            warnings.append(w)
        if artefact.score_band_shares:
            bad_rates = bad_rate_by_band(artefact, scores, outcomes)
        if artefact.tiers:
            tier_rates = bad_rate_by_tier(artefact, scores, outcomes)
    return MonitoringResult(
        model=artefact.name,
        rows=current.height,
        score_psi=s_psi,
        feature_psi=f_psi,
        performance=perf,
        training_auc=artefact.metrics.auc,
        bad_rates=bad_rates,
        warnings=tuple(warnings),
        tier_rates=tier_rates,
    )


def psi_interpretation(value: float) -> str:
    """Bilingual one-word reading of a PSI value for tables."""
    if _exceeds(value, PSI_SIGNIFICANT):
        return "显著 significant"
    if _at_least(value, PSI_MODERATE):
        return "中度 moderate"
    return "稳定 stable"
