"""Training a points scorecard: binning, WoE/IV selection, logistic regression, scaling.

:func:`train_scorecard` is the one entry point. Steps, in order:

1. check the input (binary target, features present, not constant, enough bads) and
   split it 70/30, stratified on the target, with the seed;
2. bin every candidate feature on the training split with optbinning's ``BinningProcess``
   (monotonic trends for numbers, missing and special values in their own bins, a
   minimum bin share), see :mod:`forbear.domain.scoring.binning`;
3. keep features with IV >= ``iv_threshold``; of each pair whose WoE columns correlate
   beyond ``corr_threshold`` keep the one with the higher IV;
4. fit a scikit-learn logistic regression on the WoE of the kept features;
5. scale to points exactly as optbinning's ``Scorecard`` with ``scaling_method="pdo_odds"``
   does (``-(woe * coef + intercept / n) * factor + offset / n`` per bin), so the sum of
   our points equals ``Scorecard.score`` on the same data;
6. tiers, metrics on the test split, baselines for PSI monitoring, the data fingerprint.

Nothing is returned half-built: any refusal is a :class:`ValidationError` before an
artefact exists.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import (
    Artefact,
    Bin,
    Feature,
    Metrics,
    ModelKind,
    Tier,
    TrainingData,
)
from forbear.domain.scoring.binning import (
    BinningSettings,
    FittedBinning,
    fit_binnings,
    is_categorical,
    to_pandas,
    woe_frame,
)
from forbear.domain.scoring.compiled import SCORE, scaling_factor_offset, score_frame
from forbear.domain.scoring.config import DEFAULT_CONFIG as DEFAULT_CONFIG
from forbear.domain.scoring.config import ScorecardConfig as ScorecardConfig
from forbear.domain.scoring.labels import feature_label
from forbear.domain.scoring.metrics import discrimination
from forbear.domain.scoring.protected import ProtectedAttribute, protected_candidates
from forbear.domain.scoring.tiers import TIER_LABELS, cutoff_tiers, quantile_tiers, tier_labels

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class TrainingReport:
    """What a risk analyst reviews before activating a model."""

    iv: dict[str, float]  # every candidate feature
    woe_tables: dict[str, pl.DataFrame]  # every candidate feature
    selected: tuple[str, ...]
    dropped: dict[str, str]  # feature -> reason
    coefficients: dict[str, float]
    intercept: float
    metrics_train: dict[str, float]
    metrics_test: dict[str, float]
    # per tier, best first: tier, min_score, rows/bads/bad rate on train and test
    tier_table: pl.DataFrame = field(default_factory=pl.DataFrame)
    # candidate features that read as protected attributes (sex, age, ethnicity, ...)
    protected: dict[str, ProtectedAttribute] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()  # left out by the configuration's exclusion list

    @property
    def warnings(self) -> tuple[tuple[str, str], ...]:
        """``(zh, en)`` warnings: protected attributes kept among the features."""
        out = []
        for name, attr in self.protected.items():
            used = name in self.selected
            state_zh = "已入模" if used else "为候选特征"
            state_en = "is IN the model" if used else "is a candidate feature"
            out.append(
                (
                    f"特征 {name} 疑似受保护属性（{attr.label_zh}，{attr.law}）{state_zh}；"
                    "如无合法理由请用 --exclude 排除",
                    f"feature {name} looks like a protected attribute ({attr.label_en}, "
                    f"{attr.law}) and {state_en}; exclude it with --exclude unless there is "
                    "a lawful reason",
                )
            )
        return tuple(out)


@dataclass(frozen=True)
class _Split:
    train: pl.DataFrame
    test: pl.DataFrame


def fingerprint(frame: pl.DataFrame) -> str:
    """sha256 of the frame with its columns sorted by name, written as CSV."""
    buf = io.BytesIO()
    frame.select(sorted(frame.columns)).write_csv(buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _binary_target(frame: pl.DataFrame, target: str) -> IntArray:
    if target not in frame.columns:
        raise ValidationError(target, "target column not in the frame")
    col = frame.get_column(target)
    values = col.unique().sort(nulls_last=True).to_list()
    shown = ", ".join(repr(v) for v in values[:10])
    if col.null_count() or (not col.dtype.is_numeric() and col.dtype != pl.Boolean):
        raise ValidationError(target, f"target must be binary 0/1 (1 = bad); found {shown}")
    if not set(values) <= {0, 1}:
        raise ValidationError(target, f"target must be binary 0/1 (1 = bad); found {shown}")
    return col.cast(pl.Int64).to_numpy()


def _check_features(frame: pl.DataFrame, target: str, features: Sequence[str] | None) -> list[str]:
    names = list(features) if features is not None else [c for c in frame.columns if c != target]
    for name in names:
        if name not in frame.columns:
            raise ValidationError(name, "requested feature not in the frame")
        if name == target:
            raise ValidationError(name, "the target cannot be a feature")
    if not names:
        raise ValidationError("features", "no feature to train on")
    for name in names:
        col = frame.get_column(name)
        if col.dtype.is_float():
            col = col.fill_nan(None)
        if col.null_count() == len(col):
            raise ValidationError(name, "feature is missing in every row")
        if col.drop_nulls().n_unique() <= 1:
            raise ValidationError(name, "feature is constant")
    return names


def stratified_split(y: IntArray, share: float, seed: int) -> tuple[IntArray, IntArray]:
    """Row indices (sorted) of the training and test splits, stratified on ``y``."""
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=share, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(te)


def _select(
    fitted: Mapping[str, FittedBinning],
    woe: FloatArray,
    names: Sequence[str],
    config: ScorecardConfig,
) -> tuple[list[str], dict[str, str]]:
    dropped: dict[str, str] = {}
    passing = []
    for name in names:
        iv = fitted[name].iv
        if iv < config.iv_threshold:
            dropped[name] = f"IV {iv:.4f} < {config.iv_threshold}"
        else:
            passing.append(name)
    # higher IV first (ties: given order), so each kept feature beats later ones
    passing.sort(key=lambda n: -fitted[n].iv)
    column = {n: i for i, n in enumerate(names)}
    kept: list[str] = []
    for name in passing:
        x = woe[:, column[name]]
        for other in kept:
            corr = _corr(x, woe[:, column[other]])
            if abs(corr) > config.corr_threshold:
                dropped[name] = (
                    f"|corr of WoE| {abs(corr):.3f} > {config.corr_threshold} with {other} "
                    f"(IV {fitted[other].iv:.4f} >= {fitted[name].iv:.4f})"
                )
                break
        else:
            kept.append(name)
    return [n for n in names if n in kept], dropped


def _corr(a: FloatArray, b: FloatArray) -> float:
    if float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _score_bands(score: FloatArray, count: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Band edges (quantiles of the training score) and the training share per band;
    band ``i`` is ``edges[i-1] <= score < edges[i]``, so there are ``len(edges)+1``."""
    qs = np.quantile(score, [i / count for i in range(1, count)])
    edges = tuple(sorted({float(q) for q in qs}))
    idx = np.searchsorted(np.asarray(edges), score, side="right")
    shares = np.bincount(idx, minlength=len(edges) + 1) / len(score)
    return edges, tuple(float(s) for s in shares)


def train_scorecard(
    frame: pl.DataFrame,
    target: str,
    *,
    kind: ModelKind,
    name: str,
    source: str,
    created_at: datetime,
    seed: int = 42,
    features: Sequence[str] | None = None,
    config: ScorecardConfig = DEFAULT_CONFIG,
    labels: Mapping[str, tuple[str, str]] | None = None,
    observation_date: date | None = None,
    performance_window_days: int | None = None,
) -> tuple[Artefact, TrainingReport]:
    """Train a scorecard on ``frame`` (target: 1 = bad, 0 = good)."""
    y = _binary_target(frame, target)
    for name in config.categorical:
        if name not in frame.columns:
            raise ValidationError(name, "column declared categorical is not in the table")
    excluded = tuple(n for n in config.exclude if n in frame.columns and n != target)
    if features is None:
        features = [c for c in frame.columns if c != target and c not in excluded]
    else:
        for name in features:
            if name in config.exclude:
                raise ValidationError(name, "feature is on the exclusion list")
    names = _check_features(frame, target, features)
    bads = int(y.sum())
    expected_test_bads = math.floor(bads * config.test_share)
    if min(bads - expected_test_bads, expected_test_bads) < config.min_bads:
        raise ValidationError(
            target,
            f"too few bads to fit: {bads} in all, about {expected_test_bads} in the test "
            f"split; at least {config.min_bads} per split are needed",
        )
    tr, te = stratified_split(y, config.test_share, seed)
    used = frame.select([*names, target])
    artefact, report = fit_scorecard(
        used[tr],
        used[te],
        target,
        names=names,
        config=config,
        labels=labels,
    )
    training = TrainingData(
        source=source,
        fingerprint=fingerprint(used),
        rows=frame.height,
        bads=bads,
        target=target,
        observation_date=observation_date,
        performance_window_days=performance_window_days,
        seed=seed,
    )
    final = artefact.model_copy(
        update={"kind": kind, "name": name, "created_at": created_at, "training": training}
    )
    report = replace(report, protected=protected_candidates(names), excluded=excluded)
    return Artefact.model_validate(final.model_dump()), report


def fit_scorecard(
    train: pl.DataFrame,
    test: pl.DataFrame,
    target: str,
    *,
    names: Sequence[str],
    config: ScorecardConfig = DEFAULT_CONFIG,
    labels: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Artefact, TrainingReport]:
    """Fit on ``train``, measure on ``test`` (already split and checked). The returned
    artefact carries placeholder identity fields; :func:`train_scorecard` fills them."""
    y_train: IntArray = train.get_column(target).cast(pl.Int64).to_numpy()
    y_test: IntArray = test.get_column(target).cast(pl.Int64).to_numpy()
    declared = set(config.categorical)
    categorical = [n for n in names if n in declared or is_categorical(train.schema[n])]
    x_train = to_pandas(train, names, categorical)
    settings = BinningSettings(
        min_bin_share=config.min_bin_share,
        min_prebin_share=config.min_prebin_share,
        max_n_prebins=config.max_n_prebins,
        max_n_bins=config.max_n_bins,
        monotonic_trend=config.monotonic_trend,
        monotonic_trends=config.monotonic_trends,
        special_codes=config.special_codes,
    )
    process, fitted = fit_binnings(x_train, y_train, names, categorical, settings)
    woe_all = woe_frame(process, x_train, names)
    selected, dropped = _select(fitted, woe_all, names, config)
    if not selected:
        raise ValidationError(
            "features", f"no feature passes IV >= {config.iv_threshold}: {dropped}"
        )
    columns = [names.index(n) for n in selected]
    model = LogisticRegression(C=config.regularisation_c, max_iter=config.max_iter)
    model.fit(woe_all[:, columns], y_train)
    coefs = [float(c) for c in np.asarray(model.coef_).ravel()]
    intercept = float(np.asarray(model.intercept_).ravel()[0])

    factor, offset = scaling_factor_offset(config.scaling)
    n = len(selected)
    feats: list[Feature] = []
    for fname, coef in zip(selected, coefs, strict=True):
        fb = fitted[fname]
        zh, en = feature_label(fname, labels)
        bins = tuple(
            Bin(
                kind=b.kind,
                label=b.label,
                lower=b.lower,
                upper=b.upper,
                categories=b.categories,
                count=b.count,
                event_count=b.event_count,
                woe=b.woe,
                iv=b.iv,
                # optbinning's pdo_odds scaling, term by term
                points=-(b.woe * coef + intercept / n) * factor + offset / n,
            )
            for b in fb.bins
        )
        feats.append(
            Feature(
                name=fname,
                label_zh=zh,
                label_en=en,
                dtype="categorical" if fb.dtype == "categorical" else "numerical",
                special_codes=fb.special_codes,
                iv=fb.iv,
                coefficient=coef,
                bins=bins,
            )
        )

    draft = Artefact(
        kind=ModelKind.APPLICATION,
        name="draft",
        created_at=datetime(1970, 1, 1),
        training=TrainingData(source="", fingerprint="", rows=0, bads=0, target=target, seed=0),
        metrics=Metrics(auc=0, ks=0, gini=0, rows_train=0, rows_test=0, bad_rate=0),
        features=tuple(feats),
        scaling=config.scaling,
        tiers=(),
    )
    score_train = _scores(train, draft)
    score_test = _scores(test, draft)
    if config.tier_cutoffs is not None:
        tiers = cutoff_tiers(config.tier_cutoffs, TIER_LABELS)
    else:
        tiers = quantile_tiers(score_train, config.tier_shares, TIER_LABELS)
    m_train = discrimination(y_train, score_train)
    m_test = discrimination(y_test, score_test)
    bands, shares = _score_bands(score_train, config.score_band_count)
    tier_table = tier_outcomes(tiers, score_train, y_train, score_test, y_test)
    metrics = Metrics(
        auc=m_test["auc"],
        ks=m_test["ks"],
        gini=m_test["gini"],
        rows_train=train.height,
        rows_test=test.height,
        bad_rate=float((y_train.sum() + y_test.sum()) / (len(y_train) + len(y_test))),
        auc_train=m_train["auc"],
        ks_train=m_train["ks"],
        gini_train=m_train["gini"],
        tier_table=tier_table.to_dicts(),
    )
    artefact = draft.model_copy(
        update={
            "metrics": metrics,
            "tiers": tiers,
            "score_bands": bands,
            "score_band_shares": shares,
        }
    )
    report = TrainingReport(
        iv={n: fitted[n].iv for n in names},
        woe_tables={n: fitted[n].woe_table() for n in names},
        selected=tuple(selected),
        dropped=dropped,
        coefficients=dict(zip(selected, coefs, strict=True)),
        intercept=intercept,
        metrics_train=m_train,
        metrics_test=m_test,
        tier_table=tier_table,
    )
    return artefact, report


def tier_outcomes(
    tiers: Sequence[Tier],
    score_train: FloatArray,
    y_train: IntArray,
    score_test: FloatArray,
    y_test: IntArray,
) -> pl.DataFrame:
    """Rows, bads and bad rate per tier (best first) on the training and test splits:
    the figures a risk analyst checks before setting cut-offs (bad rates must rise from
    A to E)."""
    rows = []
    for split, score, y in (("train", score_train, y_train), ("test", score_test, y_test)):
        labels = tier_labels(tiers, score)
        for t in tiers:
            mask = labels == t.label
            n, bads = int(mask.sum()), int(y[mask].sum())
            rows.append((split, t.label, t.min_score, n, bads, bads / n if n else None))
    frame = pl.DataFrame(
        rows,
        schema={
            "split": pl.String,
            "tier": pl.String,
            "min_score": pl.Float64,
            "rows": pl.Int64,
            "bads": pl.Int64,
            "bad_rate": pl.Float64,
        },
        orient="row",
    )
    train = frame.filter(pl.col("split") == "train").drop("split")
    test = frame.filter(pl.col("split") == "test").select(
        "tier",
        pl.col("rows").alias("rows_test"),
        pl.col("bads").alias("bads_test"),
        pl.col("bad_rate").alias("bad_rate_test"),
    )
    return train.join(test, on="tier", how="left", maintain_order="left")


def _scores(frame: pl.DataFrame, artefact: Artefact) -> FloatArray:
    out = score_frame(frame.lazy(), artefact, reasons=0).select(SCORE).collect()
    return out.get_column(SCORE).to_numpy().astype(np.float64)
