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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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
    each bin's points (or its rank, :class:`RankTable`), monitoring each bin's index.

    Numerical: intervals in order of their lower bound, the first whose upper bound is
    above ``x`` wins and the last is the fallback (optbinning's digitize); a special code
    goes to the special bin; null (and NaN, for float or unknown column types) to the
    missing bin. Categorical: the category's bin; an unseen category to the OTHER bin,
    else the missing bin (optbinning looks unseen categories up as the missing bin).

    ``dtype`` is the column's type when known. For an integer column each cut is an
    integer literal (``x < 35.5`` is ``x < 36``), so no comparison casts the column to
    floats; for a Float32 column each cut is rounded up to a Float32, so that the
    comparison is optbinning's double-precision one (:func:`_cut`). A categorical feature
    of up to :data:`_EQUALITY_CHAIN_MAX` categories is a chain of equality tests on the
    text (a few nanoseconds a row), a larger one a hash lookup (``replace_strict``).
    """

    def value(i: int | None) -> pl.Expr:
        return pl.lit(no_bin if i is None else values[i], dtype=return_dtype)

    missing = _kind_index(feature, BinKind.MISSING)
    col = pl.col(feature.name)
    # One chain of when/then per feature, its last test also the missing rule: a null
    # fails every comparison (null is not true) and lands in ``otherwise``; so does NaN,
    # which Polars orders above every number (``NaN <= inf`` is false).
    chain: Then | ChainedThen | None = None

    def then(cond: pl.Expr, i: int | None) -> None:
        nonlocal chain
        chain = pl.when(cond).then(value(i)) if chain is None else chain.when(cond).then(value(i))

    if feature.dtype == "numerical":
        numeric = dtype is not None and dtype.is_numeric()
        x = col if numeric else col.cast(pl.Float64, strict=False)
        floating = not numeric or (dtype is not None and dtype.is_float())
        special = _kind_index(feature, BinKind.SPECIAL)
        codes = [c for c in feature.special_codes if not math.isnan(c)]
        if codes and special is not None:
            then(x.cast(pl.Float64).is_in(codes), special)
        intervals = sorted(
            (i for i, b in enumerate(feature.bins) if b.kind is BinKind.INTERVAL),
            key=lambda i: _lower(feature.bins[i].lower),
        )
        for i in intervals[:-1]:
            then(x < _cut(feature.bins[i].upper, dtype if numeric else None), i)
        if intervals:
            then(x <= math.inf if floating else x.is_not_null(), intervals[-1])
    else:
        x = col.cast(pl.String)
        mapping: dict[str, float | int] = {}
        for i, b in enumerate(feature.bins):
            if b.kind in (BinKind.CATEGORIES, BinKind.OTHER):
                for c in b.categories:
                    mapping.setdefault(c, values[i])
        other = _kind_index(feature, BinKind.OTHER)
        unseen = other if other is not None else missing
        if len(mapping) <= _EQUALITY_CHAIN_MAX:
            for category, v in mapping.items():
                cond = x == pl.lit(category, dtype=pl.String)
                lit = pl.lit(v, dtype=return_dtype)
                chain = pl.when(cond).then(lit) if chain is None else chain.when(cond).then(lit)
            if unseen != missing:  # else an unseen category and null share the otherwise
                then(x.is_not_null(), unseen)
        else:
            looked_up = x.replace_strict(
                list(mapping),
                list(mapping.values()),
                default=value(unseen),
                return_dtype=return_dtype,
            )
            return pl.when(x.is_null()).then(value(missing)).otherwise(looked_up)
    return value(missing) if chain is None else chain.otherwise(value(missing))


# Up to this many categories a categorical feature is placed by equality tests: about 3 ms
# per category per 2M rows against 35 ms for a hash lookup whatever the count (measured:
# 8 categories 21 ms by equality, 34 by hash; 16: 44 against 34).
_EQUALITY_CHAIN_MAX = 12
# Integers up to 2**53 in magnitude are exact as floats: there ``float(x) < upper`` is
# ``x < ceil(upper)`` for every integer x (and beyond it too, see :func:`_cut`).
_EXACT_INTEGER = 2**53


def _cut(upper: float | None, dtype: pl.DataType | None) -> pl.Expr | float:
    """The right-hand side of ``x < upper`` for a column of ``dtype``, compared as
    optbinning compares: the value as a 64-bit float.

    - An integer column: ``ceil(upper)`` as a literal of the column's own type, so the
      column is never cast. ``float(x) < upper`` holds exactly when ``x < ceil(upper)`` for
      every 64-bit integer ``x`` as long as ``|ceil(upper)| < 2**53`` (a larger ``x``
      rounds to a float at least ``2**53``, a smaller one to at most ``-2**53``: on the
      same side of the cut either way); beyond that, the float itself.
    - A Float32 column: the smallest Float32 at or above ``upper`` (Polars would compare
      in Float32, where ``upper`` rounds to the nearest: ``35.000001`` to ``35.0``).
    - Otherwise the float itself.
    """
    bound = math.inf if upper is None else upper
    if dtype is None or not math.isfinite(bound):
        return bound
    if dtype == pl.Float32:
        largest = float(np.finfo(np.float32).max)
        if bound > largest:
            return pl.lit(math.inf, dtype=pl.Float32)
        single = np.float32(max(bound, -largest))
        if float(single) < bound:
            single = np.nextafter(single, np.float32(np.inf))
        return pl.lit(float(single), dtype=pl.Float32)
    if not dtype.is_integer():
        return bound
    whole = math.ceil(bound)
    info = _INTEGER_RANGES.get(type(dtype))
    if abs(whole) >= _EXACT_INTEGER or info is None or not info[0] <= whole <= info[1]:
        return bound
    return pl.lit(whole, dtype=dtype)


_INTEGER_RANGES: dict[type[pl.DataType], tuple[int, int]] = {
    pl.Int8: (-(2**7), 2**7 - 1),
    pl.Int16: (-(2**15), 2**15 - 1),
    pl.Int32: (-(2**31), 2**31 - 1),
    pl.Int64: (-(2**63), 2**63 - 1),
    pl.UInt8: (0, 2**8 - 1),
    pl.UInt16: (0, 2**16 - 1),
    pl.UInt32: (0, 2**32 - 1),
    pl.UInt64: (0, 2**64 - 1),
}


def _lower(bound: float | None) -> float:
    return -math.inf if bound is None else bound


def bin_index_expr(feature: Feature, dtype: pl.DataType | None = None) -> pl.Expr:
    """The index of the feature's bin per row (Int32; null where no bin fits), aliased
    ``bin_<feature>``: what monitoring counts for PSI."""
    indices = list(range(len(feature.bins)))
    return placed(feature, indices, None, pl.Int32(), dtype).alias(f"bin_{feature.name}")


def tier_expression(artefact: Artefact, score: pl.Expr) -> pl.Expr:
    """The tier of ``score`` (text): the best tier whose ``min_score`` it reaches, else the
    floor. A chain of comparisons gives the tier's index (UInt8) and one gather its
    label, so no text is moved per comparison."""
    tiers = sorted(
        artefact.tiers,
        key=lambda t: -math.inf if t.min_score is None else t.min_score,
        reverse=True,
    )
    if not tiers:
        return pl.lit(None, dtype=pl.String)
    labels: list[str | None] = []
    chain: Then | ChainedThen | None = None
    floor: str | None = None
    for t in tiers:
        if t.min_score is None:
            floor = t.label
            break
        cond = score >= t.min_score
        index = pl.lit(len(labels), dtype=pl.UInt8)
        labels.append(t.label)
        chain = pl.when(cond).then(index) if chain is None else chain.when(cond).then(index)
    if chain is None:
        return pl.lit(floor, dtype=pl.String)
    index = chain.otherwise(pl.lit(len(labels), dtype=pl.UInt8))
    return pl.lit(pl.Series([*labels, floor], dtype=pl.String)).gather(index)


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

    def total_of(self, keys: Sequence[pl.Expr]) -> pl.Expr:
        """The sum of the keys' points. Two UInt8 keys make one UInt16 index into the
        table of every pair's sum (at most 256² values, 512 KiB): half the gathers and
        half the additions of one gather per feature."""
        if self.dtype != pl.UInt8() or len(keys) < 2:
            return pl.sum_horizontal([self.points_of(k) for k in keys])
        size = len(self.points)
        pairs = pl.lit(pl.Series([a + b for a in self.points for b in self.points]))
        terms = [
            pairs.gather(a.cast(pl.UInt16) * size + b.cast(pl.UInt16))
            for a, b in zip(keys[0::2], keys[1::2], strict=False)
        ]
        if len(keys) % 2:
            terms.append(self.points_of(keys[-1]))
        # never null (every key has a rank): ``+`` skips sum_horizontal's null handling
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

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
    # every feature placed once, into its rank (UInt8); points, score and reasons from it
    table = RankTable.of(artefact)
    keys = [table.rank_expr(i, f, schema.get(f.name)) for i, f in enumerate(artefact.features)]
    key_cols = [pl.col(f"{_KEY_PREFIX}{i}") for i in range(n)]
    out = frame.with_columns(keys)
    total: pl.Expr
    if points:
        out = out.with_columns(
            table.points_of(k).alias(points_column(f.name))
            for k, f in zip(key_cols, artefact.features, strict=True)
        )
        total = pl.sum_horizontal(points_column(f.name) for f in artefact.features)
    else:
        total = table.total_of(key_cols) if key_cols else pl.lit(0.0)
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
