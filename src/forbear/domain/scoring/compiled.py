"""A scorecard artefact compiled to Polars expressions: the hot path of scoring.

The daily batch scores the whole book with :func:`score_frame`; an online request scores
one account with the very same function on a one-row frame. Nothing here touches the
training library (DESIGN.md: scoring through optbinning is 5-10x slower than a lookup).

How a value finds its bin (the same rules as optbinning's ``Scorecard.score``):

- numerical: null or NaN -> the missing bin; one of the feature's special codes -> the
  special bin; otherwise the interval ``lower <= x < upper``;
- categorical (the column is read as text): null -> the missing bin; a category seen in
  training -> its bin; an unseen category -> the artefact's OTHER bin if it has one,
  else the missing bin (optbinning indexes unseen categories as bin ``-1``, which is the
  missing bin), else 0 points.

``score`` is the sum of bin points plus ``intercept_points``; ``score_int`` rounds it half
up; ``pd`` is the probability of bad implied by the PDO scaling; ``reason_codes`` lists
the features that cost the most points against their best bin (ties: artefact order).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import Artefact, BinKind, Feature, Scaling

SCORE = "score"
SCORE_INT = "score_int"
TIER = "tier"
PD = "pd"
REASON_CODES = "reason_codes"
POINTS_PREFIX = "pts_"

# Losses are compared at a resolution of 1e-6 points so that the vectorised ranking and
# the scalar one in :mod:`forbear.domain.scoring.reasons` break ties identically.
LOSS_RESOLUTION = 1e-6
_MAX_FEATURES = 1024  # feature index packed under the loss in one Int64 sort key


def points_column(feature: str) -> str:
    return f"{POINTS_PREFIX}{feature}"


def quantised_loss(best: float, points: float) -> int:
    """Points lost against the best bin, as an integer number of 1e-6 points."""
    return max(0, round((best - points) / LOSS_RESOLUTION))


def scaling_factor_offset(scaling: Scaling) -> tuple[float, float]:
    """``score = offset + factor * ln(good:bad odds)``."""
    factor = scaling.pdo / math.log(2)
    return factor, scaling.base_points - factor * math.log(scaling.base_odds)


def _bin_points(feature: Feature, kind: BinKind) -> float | None:
    for b in feature.bins:
        if b.kind is kind:
            return b.points
    return None


def unseen_points(feature: Feature) -> float:
    """Points for a category not seen in training: OTHER bin, else missing bin, else 0."""
    other = _bin_points(feature, BinKind.OTHER)
    if other is not None:
        return other
    missing = _bin_points(feature, BinKind.MISSING)
    return 0.0 if missing is None else missing


def missing_points(feature: Feature) -> float:
    missing = _bin_points(feature, BinKind.MISSING)
    return 0.0 if missing is None else missing


def _kind_index(feature: Feature, kind: BinKind) -> int | None:
    return next((i for i, b in enumerate(feature.bins) if b.kind is kind), None)


def placed(
    feature: Feature,
    values: Sequence[float | int],
    no_bin: float | int | None,
    return_dtype: pl.DataType,
    dtype: pl.DataType | None = None,
) -> pl.Expr:
    """Per row, ``values[i]`` for the bin ``i`` that scoring places the feature's value in
    (``no_bin`` when none fits). The one place the placement rules live: scoring passes
    each bin's points, monitoring each bin's index.

    Numerical: intervals in order of their lower bound, the first whose upper bound is
    above ``x`` wins and the last is the fallback (optbinning's digitize); a special code
    goes to the special bin; null (and NaN, for float or unknown column types) to the
    missing bin. Categorical: the category's bin; an unseen category to the OTHER bin,
    else the missing bin (optbinning looks unseen categories up as the missing bin).
    """

    def value(i: int | None) -> pl.Expr:
        return pl.lit(no_bin if i is None else values[i], dtype=return_dtype)

    missing = _kind_index(feature, BinKind.MISSING)
    col = pl.col(feature.name)
    expr: pl.Expr
    if feature.dtype == "numerical":
        numeric = dtype is not None and dtype.is_numeric()
        x = col if numeric else col.cast(pl.Float64, strict=False)
        is_missing = x.is_null()
        if not numeric or (dtype is not None and dtype.is_float()):
            is_missing = is_missing | x.is_nan()
        intervals = sorted(
            (i for i, b in enumerate(feature.bins) if b.kind is BinKind.INTERVAL),
            key=lambda i: _lower(feature.bins[i].lower),
        )
        if not intervals:
            expr = value(missing)
        else:
            chain: Then | ChainedThen | None = None
            for i in intervals[:-1]:
                upper = feature.bins[i].upper
                cond = x < (math.inf if upper is None else upper)
                chain = (
                    pl.when(cond).then(value(i))
                    if chain is None
                    else chain.when(cond).then(value(i))
                )
            last = value(intervals[-1])
            expr = last if chain is None else chain.otherwise(last)
        special = _kind_index(feature, BinKind.SPECIAL)
        if feature.special_codes and special is not None:
            expr = (
                pl.when(x.cast(pl.Float64).is_in(list(feature.special_codes)))
                .then(value(special))
                .otherwise(expr)
            )
    else:
        x = col.cast(pl.String)
        is_missing = x.is_null()
        mapping: dict[str, float | int] = {}
        for i, b in enumerate(feature.bins):
            if b.kind in (BinKind.CATEGORIES, BinKind.OTHER):
                for c in b.categories:
                    mapping.setdefault(c, values[i])
        other = _kind_index(feature, BinKind.OTHER)
        unseen = other if other is not None else missing
        expr = x.replace_strict(
            list(mapping), list(mapping.values()), default=value(unseen), return_dtype=return_dtype
        )
    return pl.when(is_missing).then(value(missing)).otherwise(expr).cast(return_dtype)


def _lower(bound: float | None) -> float:
    return -math.inf if bound is None else bound


def points_expr(feature: Feature, dtype: pl.DataType | None = None) -> pl.Expr:
    """The feature's points per row (a value with no bin scores 0)."""
    return placed(feature, [b.points for b in feature.bins], 0.0, pl.Float64(), dtype)


def bin_index_expr(feature: Feature, dtype: pl.DataType | None = None) -> pl.Expr:
    """The index of the feature's bin per row (Int32; null where no bin fits), aliased
    ``bin_<feature>``: what monitoring counts for PSI."""
    indices = list(range(len(feature.bins)))
    return placed(feature, indices, None, pl.Int32(), dtype).alias(f"bin_{feature.name}")


def scorecard_expressions(
    artefact: Artefact, schema: Mapping[str, pl.DataType] | None = None
) -> dict[str, pl.Expr]:
    """One expression per feature giving its points, aliased ``pts_<feature>``.

    With ``schema`` (the input frame's), NaN checks are only emitted for float columns.
    """
    out: dict[str, pl.Expr] = {}
    for f in artefact.features:
        dtype = schema.get(f.name) if schema is not None else None
        out[f.name] = points_expr(f, dtype).alias(points_column(f.name))
    return out


def tier_expression(artefact: Artefact, score: pl.Expr) -> pl.Expr:
    tiers = sorted(
        artefact.tiers,
        key=lambda t: -math.inf if t.min_score is None else t.min_score,
        reverse=True,
    )
    if not tiers:
        return pl.lit(None, dtype=pl.String)
    chain: Then | ChainedThen | None = None
    floor: str | None = None
    for t in tiers:
        if t.min_score is None:
            floor = t.label
            break
        cond = score >= t.min_score
        chain = (
            pl.when(cond).then(pl.lit(t.label))
            if chain is None
            else chain.when(cond).then(pl.lit(t.label))
        )
    fallback = pl.lit(floor, dtype=pl.String)
    return fallback if chain is None else chain.otherwise(fallback)


def pd_expression(scaling: Scaling, score: pl.Expr) -> pl.Expr:
    """Probability of bad: ``ln(good:bad) = (score - offset) / factor``."""
    factor, offset = scaling_factor_offset(scaling)
    return 1.0 / (1.0 + ((score - offset) / factor).exp())


_KEY_PREFIX = "__forbear_reason_key_"
_TOP_PREFIX = "__forbear_reason_top_"


def with_reason_codes(frame: pl.LazyFrame, artefact: Artefact, reasons: int) -> pl.LazyFrame:
    """Add ``reason_codes``: the ``reasons`` features losing the most points (loss > 0).

    ``frame`` must hold the ``pts_<feature>`` columns. Each feature's loss is packed with
    its position into one Int64 key (bigger loss first, then artefact order); the top
    keys are then taken by repeated horizontal maxima. That avoids sorting a list per
    row, which was 20x slower than scoring itself on a million rows.
    """
    if reasons <= 0 or not artefact.features:
        return frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(REASON_CODES))
    n = len(artefact.features)
    if n > _MAX_FEATURES:
        raise ValidationError("features", f"at most {_MAX_FEATURES} features for reason codes")
    keys: list[pl.Expr] = []
    for i, f in enumerate(artefact.features):
        loss = ((f.best_points - pl.col(points_column(f.name))) / LOSS_RESOLUTION).round(0)
        key = loss.cast(pl.Int64) * _MAX_FEATURES + (_MAX_FEATURES - 1 - i)
        keys.append(pl.when(loss > 0).then(key).alias(f"{_KEY_PREFIX}{i}"))
    key_cols = [pl.col(f"{_KEY_PREFIX}{i}") for i in range(n)]
    out = frame.with_columns(keys)
    top = min(reasons, n)
    previous: pl.Expr | None = None
    for j in range(top):
        candidates = (
            key_cols if previous is None else [pl.when(k < previous).then(k) for k in key_cols]
        )
        out = out.with_columns(pl.max_horizontal(candidates).alias(f"{_TOP_PREFIX}{j}"))
        previous = pl.col(f"{_TOP_PREFIX}{j}")
    names = [f.name for f in artefact.features]
    decoded = [
        (_MAX_FEATURES - 1 - pl.col(f"{_TOP_PREFIX}{j}") % _MAX_FEATURES).replace_strict(
            list(range(n)), names, default=None, return_dtype=pl.String
        )
        for j in range(top)
    ]
    return out.with_columns(pl.concat_list(decoded).list.drop_nulls().alias(REASON_CODES)).drop(
        [f"{_KEY_PREFIX}{i}" for i in range(n)] + [f"{_TOP_PREFIX}{j}" for j in range(top)]
    )


def score_frame(
    frame: pl.LazyFrame, artefact: Artefact, *, reasons: int = 4, points: bool = True
) -> pl.LazyFrame:
    """Add ``score``, ``score_int``, ``tier``, ``pd``, ``reason_codes`` and, with ``points``,
    ``pts_<feature>``.

    ``points=False`` keeps only the totals: the per-feature points are then never
    materialised unless reason codes need them (and are dropped afterwards), which halves
    the work when only the score is wanted. A feature column missing from ``frame``
    raises :class:`ValidationError` naming it.
    """
    if not artefact.is_scorecard:
        raise ValidationError("artefact", f"{artefact.name} is not a scorecard")
    schema = frame.collect_schema()
    for f in artefact.features:
        if f.name not in schema:
            raise ValidationError(f.name, "column missing from the frame to score")
        dtype = schema[f.name]
        if f.dtype == "numerical" and not (dtype.is_numeric() or dtype == pl.Null):
            raise ValidationError(f.name, f"numerical feature has column type {dtype}")
    exprs = scorecard_expressions(artefact, dict(schema))
    score = pl.col(SCORE)
    keep = points or reasons > 0
    if keep:
        out = frame.with_columns(exprs.values()).with_columns(
            (
                pl.sum_horizontal(points_column(f.name) for f in artefact.features)
                + artefact.intercept_points
            )
            .cast(pl.Float64)
            .alias(SCORE)
        )
    else:
        out = frame.with_columns(
            (pl.sum_horizontal(list(exprs.values())) + artefact.intercept_points)
            .cast(pl.Float64)
            .alias(SCORE)
        )
    scaling = artefact.scaling or Scaling()
    out = out.with_columns(
        (score + 0.5).floor().cast(pl.Int64).alias(SCORE_INT),
        tier_expression(artefact, score).alias(TIER),
        pd_expression(scaling, score).alias(PD),
    ).pipe(with_reason_codes, artefact, reasons)
    if keep and not points:
        out = out.drop([points_column(f.name) for f in artefact.features])
    return out
