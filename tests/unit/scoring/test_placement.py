"""Bin placement (``compiled.placed``) against a scalar statement of optbinning's rule, on
every column type scoring meets: integer columns of each width (compared through integer
cuts), Float64 and Float32 (NaN, infinities), text and integer-coded categories (equality
chain and, past its size, hash lookup); and the totals, tiers and reasons of
``score_frame`` on such columns against the scalar twins (``bin_points``, ``tier_of``,
``explain``).

The oracle is the rule itself, written for one value: null or NaN -> missing bin; a
special code -> special bin; otherwise the first interval (by lower bound) whose upper
bound is above the value compared as a 64-bit float, the last interval as fallback.
Categories: the category's bin, an unseen one to OTHER, else the missing bin.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain.scoring.artefact import (
    Artefact,
    Bin,
    BinKind,
    Feature,
    Metrics,
    ModelKind,
    Scaling,
    Tier,
    TrainingData,
)
from forbear.domain.scoring.compiled import (
    PD,
    SCORE,
    SCORE_INT,
    TIER,
    bin_index_expr,
    points_column,
    reason_column,
    score_frame,
)
from forbear.domain.scoring.reasons import bin_points, explain
from forbear.domain.scoring.tiers import tier_of

INTEGER_TYPES: dict[type[pl.DataType], tuple[int, int]] = {
    pl.Int8: (-(2**7), 2**7 - 1),
    pl.Int16: (-(2**15), 2**15 - 1),
    pl.Int32: (-(2**31), 2**31 - 1),
    pl.Int64: (-(2**63), 2**63 - 1),
    pl.UInt8: (0, 2**8 - 1),
    pl.UInt16: (0, 2**16 - 1),
    pl.UInt32: (0, 2**32 - 1),
    pl.UInt64: (0, 2**64 - 1),
}
TWO_53 = float(2**53)


def _bin(kind: BinKind, points: float, **kw: Any) -> Bin:
    return Bin(
        kind=kind, label=kind.value, count=10, event_count=1, woe=0.0, iv=0.0, points=points, **kw
    )


def numeric_feature(
    name: str, cuts: list[float], points: list[float], *, special: bool, missing: bool
) -> Feature:
    """Intervals ``(-inf, c0), [c0, c1) ... [c_last, inf)`` (listed in a shuffled order:
    placement sorts them), then optional special (code -1) and missing bins."""
    bounds = [None, *cuts, None]
    intervals = [
        _bin(BinKind.INTERVAL, points[i], lower=bounds[i], upper=bounds[i + 1])
        for i in range(len(cuts) + 1)
    ]
    bins = intervals[1::2] + intervals[0::2]
    extra = len(intervals)
    if special:
        bins.append(_bin(BinKind.SPECIAL, points[extra]))
    if missing:
        bins.append(_bin(BinKind.MISSING, points[extra + 1]))
    return Feature(
        name=name,
        label_zh=name,
        label_en=name,
        dtype="numerical",
        special_codes=(-1.0,) if special else (),
        iv=0.1,
        coefficient=1.0,
        bins=tuple(bins),
    )


def categorical_feature(
    name: str, groups: list[list[str]], points: list[float], *, other: bool, missing: bool
) -> Feature:
    bins = [_bin(BinKind.CATEGORIES, points[i], categories=tuple(g)) for i, g in enumerate(groups)]
    if other:
        bins.append(_bin(BinKind.OTHER, points[len(groups)]))
    if missing:
        bins.append(_bin(BinKind.MISSING, points[len(groups) + 1]))
    return Feature(
        name=name,
        label_zh=name,
        label_en=name,
        dtype="categorical",
        iv=0.1,
        coefficient=1.0,
        bins=tuple(bins),
    )


def scorecard(*features: Feature) -> Artefact:
    return Artefact(
        kind=ModelKind.APPLICATION,
        name="placement",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        training=TrainingData(
            source="t", fingerprint="0" * 64, rows=10, bads=1, target="b", seed=1
        ),
        metrics=Metrics(auc=0.7, ks=0.3, gini=0.4, rows_train=7, rows_test=3, bad_rate=0.1),
        features=features,
        intercept_points=12.5,
        scaling=Scaling(),
        tiers=(
            Tier(label="A", min_score=40.0),
            Tier(label="B", min_score=0.0),
            Tier(label="C", min_score=None),
        ),
    )


def oracle(feature: Feature, value: Any) -> int | None:
    """The index of the bin optbinning's rule places ``value`` in (None: no bin)."""

    def index(kind: BinKind) -> int | None:
        return next((i for i, b in enumerate(feature.bins) if b.kind is kind), None)

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return index(BinKind.MISSING)
    if feature.dtype == "categorical":
        text = str(value)
        for i, b in enumerate(feature.bins):
            if b.kind is BinKind.CATEGORIES and text in b.categories:
                return i
        other = index(BinKind.OTHER)
        return other if other is not None else index(BinKind.MISSING)
    number = float(value)
    if number in feature.special_codes and index(BinKind.SPECIAL) is not None:
        return index(BinKind.SPECIAL)
    intervals = sorted(
        (i for i, b in enumerate(feature.bins) if b.kind is BinKind.INTERVAL),
        key=lambda i: -math.inf if feature.bins[i].lower is None else feature.bins[i].lower,  # type: ignore[arg-type,return-value]
    )
    for i in intervals[:-1]:
        upper = feature.bins[i].upper
        if number < (math.inf if upper is None else upper):
            return i
    return intervals[-1]


def _check_placement(feature: Feature, series: pl.Series) -> None:
    frame = series.alias(feature.name).to_frame()
    placed = frame.select(bin_index_expr(feature, frame.schema[feature.name]))
    untyped = frame.select(bin_index_expr(feature))  # monitoring's call: no column type
    expected = [oracle(feature, v) for v in series.to_list()]
    assert placed.to_series().to_list() == expected
    assert untyped.to_series().to_list() == expected


def _cuts(draw: st.DrawFn, near: list[float]) -> list[float]:
    pool = st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.integers(-300, 300).map(float),
        st.integers(-300, 300).map(lambda i: i + 0.5),
        st.sampled_from(near),
    )
    cuts = sorted(set(draw(st.lists(pool, min_size=0, max_size=8))))
    return cuts


@st.composite
def integer_case(draw: st.DrawFn) -> tuple[Feature, pl.Series]:
    dtype = draw(st.sampled_from(list(INTEGER_TYPES)))
    low, high = INTEGER_TYPES[dtype]
    near = [
        TWO_53,
        -TWO_53,
        TWO_53 + 2,
        -TWO_53 - 2,
        2.0**63,
        -(2.0**63),
        1e300,
        -1e300,
        float(low),
        float(high),
        high + 0.5,
    ]
    cuts = _cuts(draw, near)
    points = draw(st.lists(st.floats(-50, 50), min_size=len(cuts) + 3, max_size=len(cuts) + 3))
    feature = numeric_feature(
        "x", cuts, points, special=draw(st.booleans()), missing=draw(st.booleans())
    )
    around = [
        v
        for c in cuts
        if math.isfinite(c)
        for v in (math.floor(c) - 1, math.floor(c), math.ceil(c), math.ceil(c) + 1)
    ]
    extremes = [low, high, 2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, -(2**53), -1, 0]
    candidates = [v for v in around + extremes if low <= v <= high]
    values = draw(
        st.lists(
            st.one_of(st.none(), st.integers(low, high), st.sampled_from(candidates)),
            min_size=1,
            max_size=40,
        )
    )
    return feature, pl.Series("x", values, dtype=dtype)


@st.composite
def float_case(draw: st.DrawFn) -> tuple[Feature, pl.Series]:
    dtype = draw(st.sampled_from([pl.Float64, pl.Float32]))
    width = 64 if dtype == pl.Float64 else 32
    cuts = _cuts(draw, [35.000001, 0.1, 1e-30, 3.4e38, 1e39, -1e39])
    points = draw(st.lists(st.floats(-50, 50), min_size=len(cuts) + 3, max_size=len(cuts) + 3))
    feature = numeric_feature(
        "x", cuts, points, special=draw(st.booleans()), missing=draw(st.booleans())
    )
    near = [c for c in cuts if abs(c) < 3e38] + [math.inf, -math.inf, math.nan, -1.0, 35.0]
    values = draw(
        st.lists(
            st.one_of(
                st.none(),
                st.floats(width=width, allow_nan=True, allow_infinity=True),
                st.sampled_from(near),
                st.sampled_from(near).map(
                    lambda v: float(np.nextafter(np.float32(v), np.float32(np.inf)))
                ),
            ),
            min_size=1,
            max_size=40,
        )
    )
    series = pl.Series("x", values, dtype=pl.Float64).cast(dtype)
    return feature, series


@settings(max_examples=150, deadline=None)
@given(case=integer_case())
def test_integer_columns_are_placed_as_optbinning_places_their_float_value(
    case: tuple[Feature, pl.Series],
) -> None:
    _check_placement(*case)


@settings(max_examples=150, deadline=None)
@given(case=float_case())
def test_float_columns_place_nan_as_missing_and_compare_at_double_precision(
    case: tuple[Feature, pl.Series],
) -> None:
    feature, series = case
    # the oracle compares the column's own values as 64-bit floats, as optbinning does
    _check_placement(feature, series)


def test_float32_value_just_below_a_cut_that_float32_cannot_hold() -> None:
    # 35.000001 rounds to 35.0 in Float32: compared there, 35.0 < 35.000001 would fail
    feature = numeric_feature("x", [35.000001], [1.0, 2.0, 0.0, 0.0], special=False, missing=True)
    values = pl.Series("x", [35.0, 35.5, None, float("nan"), float("inf")], dtype=pl.Float32)
    _check_placement(feature, values)
    out = values.to_frame().select(bin_index_expr(feature, pl.Float32)).to_series().to_list()
    assert out == [1, 0, 2, 2, 0]  # [-inf, 35.000001) is listed second


@pytest.mark.parametrize("many", [False, True], ids=["equality-chain", "hash-lookup"])
@pytest.mark.parametrize("coded", [False, True], ids=["text", "integer-codes"])
@pytest.mark.parametrize("other", [False, True], ids=["no-other", "other"])
def test_categories_seen_unseen_and_missing(many: bool, coded: bool, other: bool) -> None:
    names = [str(i) for i in range(60 if many else 5)]
    groups = [names[i : i + 3] for i in range(0, len(names), 3)]
    points = [float(i) for i in range(len(groups) + 2)]
    for missing in (False, True):
        feature = categorical_feature("c", groups, points, other=other, missing=missing)
        raw = [*names, "999", None, "-1", names[0]]
        series = (
            pl.Series("c", [None if v is None else int(v) for v in raw], dtype=pl.Int32)
            if coded
            else pl.Series("c", raw, dtype=pl.String)
        )
        _check_placement(feature, series)


@st.composite
def book(draw: st.DrawFn) -> tuple[Artefact, pl.DataFrame]:
    """Three features on typed columns (Int16, Float32, text) and a few rows."""
    a_cuts = sorted(set(draw(st.lists(st.integers(-20, 20).map(lambda i: i / 2), max_size=5))))
    b_cuts = sorted(set(draw(st.lists(st.floats(-5, 5), max_size=5))))
    pts = st.integers(-40, 40).map(float)
    a = numeric_feature(
        "a",
        a_cuts,
        draw(st.lists(pts, min_size=len(a_cuts) + 3, max_size=len(a_cuts) + 3)),
        special=True,
        missing=True,
    )
    b = numeric_feature(
        "b",
        b_cuts,
        draw(st.lists(pts, min_size=len(b_cuts) + 3, max_size=len(b_cuts) + 3)),
        special=False,
        missing=draw(st.booleans()),
    )
    c = categorical_feature(
        "c",
        [["x"], ["y", "z"]],
        draw(st.lists(pts, min_size=4, max_size=4)),
        other=draw(st.booleans()),
        missing=True,
    )
    n = draw(st.integers(1, 30))
    frame = pl.DataFrame(
        {
            "a": draw(st.lists(st.one_of(st.none(), st.integers(-12, 12)), min_size=n, max_size=n)),
            "b": draw(
                st.lists(
                    st.one_of(st.none(), st.floats(-6, 6, width=32), st.just(math.nan)),
                    min_size=n,
                    max_size=n,
                )
            ),
            "c": draw(
                st.lists(
                    st.one_of(st.none(), st.sampled_from(["x", "y", "z", "w"])),
                    min_size=n,
                    max_size=n,
                )
            ),
        },
        schema={"a": pl.Int16, "b": pl.Float32, "c": pl.String},
    )
    return scorecard(a, b, c), frame


@settings(max_examples=80, deadline=None)
@given(case=book(), reasons=st.integers(0, 4))
def test_totals_tiers_and_reasons_agree_with_the_scalar_twins(
    case: tuple[Artefact, pl.DataFrame], reasons: int
) -> None:
    artefact, frame = case
    full = score_frame(frame.lazy(), artefact, reasons=reasons).collect()
    lean = score_frame(
        frame.lazy(), artefact, reasons=reasons, points=False, reason_list=False
    ).collect()
    top = min(reasons, len(artefact.features))
    assert lean.columns == [
        *frame.columns,
        SCORE,
        *[reason_column(j + 1) for j in range(top)],
        SCORE_INT,
        TIER,
        PD,
    ]
    for i, row in enumerate(frame.iter_rows(named=True)):
        # Float32 values reach the scalar twin as Python floats: their exact value
        points = [bin_points(f, row[f.name]) for f in artefact.features]
        for f, p in zip(artefact.features, points, strict=True):
            assert full[points_column(f.name)][i] == p
        expected = math.fsum(points) + artefact.intercept_points
        assert lean[SCORE][i] == pytest.approx(expected, abs=1e-9)
        assert full[SCORE][i] == pytest.approx(expected, abs=1e-9)
        assert lean[TIER][i] == tier_of(lean[SCORE][i], artefact.tiers)
        assert lean[SCORE_INT][i] == math.floor(lean[SCORE][i] + 0.5)
        named = [r.feature for r in explain(row, artefact, reasons)]
        assert full["reason_codes"][i].to_list() == named
        got = [lean[reason_column(j + 1)][i] for j in range(top)]
        assert [g for g in got if g is not None] == named
