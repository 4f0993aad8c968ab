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
from dataclasses import dataclass

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
REASON_PREFIX = "reason_"


def reason_column(position: int) -> str:
    """The fixed column of the ``position``-th reason (1 = the feature that cost most)."""
    return f"{REASON_PREFIX}{position}"


@dataclass(frozen=True, slots=True)
class RankTable:
    """Every (feature, bin) of a scorecard numbered by its loss of points, as one small
    integer: rank 0 is the smallest loss. A row's reason codes are then the largest
    ranks among its features' bins (repeated horizontal maxima of UInt8 columns, no list
    per row, no sort), and its points are a gather of the rank's points.

    Ranks are unique per (feature, bin), ordered by the quantised loss against the
    feature's best bin, ties by artefact order (the earlier feature ranks higher, so it
    is listed first, as :func:`forbear.domain.scoring.reasons.explain` does). Each
    feature also has a rank for "no bin fits" (0 points). A rank whose loss is 0 decodes
    to no reason.
    """

    ranks: tuple[tuple[int, ...], ...]  # per feature: per bin, then the no-bin rank
    points: tuple[float, ...]  # by rank
    reason: tuple[str | None, ...]  # by rank: the feature, or None where nothing is lost
    dtype: pl.DataType

    @classmethod
    def of(cls, artefact: Artefact) -> RankTable:
        entries: list[tuple[int, int, int, int, float]] = []
        for i, f in enumerate(artefact.features):
            best = f.best_points
            values = [b.points for b in f.bins] + [0.0]
            for j, value in enumerate(values):
                entries.append((quantised_loss(best, value), -i, i, j, value))
        entries.sort()
        ranks = [[0] * (len(f.bins) + 1) for f in artefact.features]
        points: list[float] = []
        reason: list[str | None] = []
        for rank, (loss, _, i, j, value) in enumerate(entries):
            ranks[i][j] = rank
            points.append(value)
            reason.append(artefact.features[i].name if loss > 0 else None)
        dtype = (
            pl.UInt8()
            if len(entries) <= 256
            else pl.UInt16()
            if len(entries) <= 65536
            else pl.UInt32()
        )
        return cls(tuple(tuple(r) for r in ranks), tuple(points), tuple(reason), dtype)

    def rank_expr(self, index: int, feature: Feature, dtype: pl.DataType | None) -> pl.Expr:
        ranks = self.ranks[index]
        return placed(feature, ranks[:-1], ranks[-1], self.dtype, dtype).alias(
            f"{_KEY_PREFIX}{index}"
        )

    def points_of(self, key: pl.Expr) -> pl.Expr:
        return pl.lit(pl.Series(self.points, dtype=pl.Float64)).gather(key)

    def reason_of(self, key: pl.Expr, names: Sequence[str]) -> pl.Expr:
        return pl.lit(pl.Series(self.reason, dtype=pl.Enum(list(names)))).gather(key)


def with_reason_codes(frame: pl.LazyFrame, artefact: Artefact, reasons: int) -> pl.LazyFrame:
    """Add ``reason_codes``: the ``reasons`` features losing the most points (loss > 0),
    as a list, from the fixed columns of :func:`score_frame` (kept for callers that
    store the list)."""
    if reasons <= 0 or not artefact.features:
        return frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(REASON_CODES))
    top = min(reasons, len(artefact.features))
    cols = [pl.col(reason_column(j + 1)).cast(pl.String) for j in range(top)]
    return frame.with_columns(pl.concat_list(cols).list.drop_nulls().alias(REASON_CODES))


def score_frame(
    frame: pl.LazyFrame,
    artefact: Artefact,
    *,
    reasons: int = 4,
    points: bool = True,
    reason_list: bool = True,
) -> pl.LazyFrame:
    """Add ``score``, ``score_int``, ``tier``, ``pd``, the fixed reason columns
    ``reason_1`` .. ``reason_<reasons>`` (an Enum of the feature names, null where fewer
    features lost points), with ``reason_list`` also ``reason_codes`` (the same as a
    list) and, with ``points``, ``pts_<feature>``.

    ``points=False`` keeps only the totals. A feature column missing from ``frame``
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
    n = len(artefact.features)
    score = pl.col(SCORE)
    top = min(max(reasons, 0), n)
    if top == 0:
        exprs = scorecard_expressions(artefact, dict(schema))
        if points:
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
    else:
        table = RankTable.of(artefact)
        keys = [table.rank_expr(i, f, schema.get(f.name)) for i, f in enumerate(artefact.features)]
        key_cols = [pl.col(f"{_KEY_PREFIX}{i}") for i in range(n)]
        pts = [
            table.points_of(k).alias(points_column(f.name))
            for k, f in zip(key_cols, artefact.features, strict=True)
        ]
        out = frame.with_columns(keys)
        if points:
            out = out.with_columns(pts)
            total = pl.sum_horizontal(points_column(f.name) for f in artefact.features)
        else:
            total = pl.sum_horizontal(pts)
        tops: list[pl.Expr] = []
        previous: pl.Expr | None = None
        for j in range(top):
            candidates = (
                key_cols
                if previous is None
                else [pl.when(k < previous).then(k).otherwise(0) for k in key_cols]
            )
            out = out.with_columns(pl.max_horizontal(candidates).alias(f"{_TOP_PREFIX}{j}"))
            previous = pl.col(f"{_TOP_PREFIX}{j}")
            tops.append(previous)
        names = [f.name for f in artefact.features]
        out = out.with_columns(
            (total + artefact.intercept_points).cast(pl.Float64).alias(SCORE),
            *[table.reason_of(t, names).alias(reason_column(j + 1)) for j, t in enumerate(tops)],
        ).drop([f"{_KEY_PREFIX}{i}" for i in range(n)] + [f"{_TOP_PREFIX}{j}" for j in range(top)])
    scaling = artefact.scaling or Scaling()
    out = out.with_columns(
        (score + 0.5).floor().cast(pl.Int64).alias(SCORE_INT),
        tier_expression(artefact, score).alias(TIER),
        pd_expression(scaling, score).alias(PD),
    )
    if reason_list:
        out = out.pipe(with_reason_codes, artefact, top)
    return out
