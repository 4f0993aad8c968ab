"""Optimal binning through optbinning's ``BinningProcess``, turned into plain data.

optbinning is the only place the library is touched during training (scoring never
touches it: :mod:`forbear.domain.scoring.compiled` works from the exported bins). What
comes out is a :class:`FittedBinning` per feature: bins in optbinning's order (regular
bins, then the special bin, then the missing bin), with counts, WoE and IV, and the
categorical bin arrays flattened to tuples of strings (DESIGN.md: ``Scorecard.table()``
holds arrays there).

optbinning's WoE is ``ln(non-event share / event share)``: a higher WoE is a *better*
(less risky) bin. Missing and special values are kept in their own bins and transformed
with their empirical WoE (0 when the bin is empty or pure), the same as
``Scorecard.fit(..., metric_special="empirical", metric_missing="empirical")``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import polars as pl
from optbinning import BinningProcess

from forbear.domain.scoring.artefact import BinKind

EMPIRICAL = "empirical"


@contextmanager
def quiet_library() -> Iterator[None]:
    """optbinning 1.0 trips pandas 3 deprecation warnings inside its own code (e.g.
    ``df.loc["Totals"] = ...`` on a float frame). They are not ours to fix, and our test
    suite turns warnings into errors, so they are silenced around library calls only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@dataclass(frozen=True, slots=True)
class BinStats:
    kind: BinKind
    label: str
    lower: float | None
    upper: float | None
    categories: tuple[str, ...]
    count: int
    event_count: int
    woe: float
    iv: float


@dataclass(frozen=True, slots=True)
class FittedBinning:
    name: str
    dtype: str  # "numerical" | "categorical"
    special_codes: tuple[float, ...]
    bins: tuple[BinStats, ...]

    @property
    def iv(self) -> float:
        return sum(b.iv for b in self.bins)

    def woe_table(self) -> pl.DataFrame:
        """The WoE/IV table of this feature as a risk analyst reads it."""
        total = sum(b.count for b in self.bins) or 1
        return pl.DataFrame(
            {
                "bin": [b.label for b in self.bins],
                "kind": [str(b.kind) for b in self.bins],
                "count": [b.count for b in self.bins],
                "share": [b.count / total for b in self.bins],
                "bad_count": [b.event_count for b in self.bins],
                "bad_rate": [b.event_count / b.count if b.count else 0.0 for b in self.bins],
                "woe": [b.woe for b in self.bins],
                "iv": [b.iv for b in self.bins],
            },
            schema={
                "bin": pl.String,
                "kind": pl.String,
                "count": pl.Int64,
                "share": pl.Float64,
                "bad_count": pl.Int64,
                "bad_rate": pl.Float64,
                "woe": pl.Float64,
                "iv": pl.Float64,
            },
        )


@dataclass(frozen=True, slots=True)
class BinningSettings:
    min_bin_share: float = 0.05
    min_prebin_share: float = 0.05
    max_n_prebins: int = 20
    max_n_bins: int | None = None
    monotonic_trend: str = "auto_asc_desc"
    monotonic_trends: Mapping[str, str] | None = None
    special_codes: Mapping[str, Sequence[float]] | None = None


def is_categorical(dtype: pl.DataType) -> bool:
    return not dtype.is_numeric()


def to_pandas(
    frame: pl.DataFrame, features: Sequence[str], categorical: Sequence[str] = ()
) -> pd.DataFrame:
    """The feature columns for optbinning: numbers as float64 (nulls as NaN), anything
    else as strings (nulls kept as missing), booleans as "true"/"false" like Polars'
    own cast, so training and compiled scoring see the same category names. Columns in
    ``categorical`` are strings whatever their type (integer codes: "1", "2")."""
    cols: list[pl.Expr] = []
    declared = set(categorical)
    for name in features:
        dtype = frame.schema[name]
        col = pl.col(name)
        numeric = dtype.is_numeric() and name not in declared
        cols.append(col.cast(pl.Float64) if numeric else col.cast(pl.String))
    return frame.select(cols).to_pandas()


def fit_binnings(
    x: pd.DataFrame,
    y: np.ndarray[Any, np.dtype[np.int64]],
    features: Sequence[str],
    categorical: Sequence[str],
    settings: BinningSettings,
) -> tuple[BinningProcess, dict[str, FittedBinning]]:
    """Fit one optimal binning per feature and export its table."""
    trends = dict(settings.monotonic_trends or {})
    specials: dict[str, list[float]] = {
        name: [float(c) for c in codes]
        for name, codes in (settings.special_codes or {}).items()
        if codes and name in features and name not in categorical
    }
    fit_params: dict[str, dict[str, Any]] = {}
    for name in features:
        params: dict[str, Any] = {}
        if name not in categorical:
            # categories are ordered by event rate before binning: no trend to impose
            params["monotonic_trend"] = trends.get(name, settings.monotonic_trend)
        if name in specials:
            params["special_codes"] = specials[name]
        fit_params[name] = params
    kwargs: dict[str, Any] = {}
    if settings.max_n_bins is not None:
        kwargs["max_n_bins"] = settings.max_n_bins
    process = BinningProcess(
        list(features),
        categorical_variables=list(categorical),
        min_bin_size=settings.min_bin_share,
        min_prebin_size=settings.min_prebin_share,
        max_n_prebins=settings.max_n_prebins,
        binning_fit_params=fit_params,
        **kwargs,
    )
    with quiet_library():
        process.fit(x, y)
        fitted = {
            name: _export(process, name, name in categorical, specials.get(name, []))
            for name in features
        }
    return process, fitted


def woe_frame(
    process: BinningProcess, x: pd.DataFrame, features: Sequence[str]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """WoE-transformed features (rows × features) for the regression."""
    with quiet_library():
        out = process.transform(x, metric="woe", metric_special=EMPIRICAL, metric_missing=EMPIRICAL)
    return cast("np.ndarray[Any, np.dtype[np.float64]]", out[list(features)].to_numpy(float))


def _num(v: object) -> float:
    return float(cast(float, v))


def _export(
    process: BinningProcess, name: str, categorical: bool, specials: Sequence[float]
) -> FittedBinning:
    optb = process.get_binned_variable(name)
    table = optb.binning_table.build(add_totals=False)
    rows = table.to_dict("records")
    n_regular = len(rows) - 2  # one special bin (list of codes), one missing bin
    splits = [] if categorical else [float(s) for s in np.asarray(optb.splits).ravel()]
    bins: list[BinStats] = []
    for i, row in enumerate(rows):
        count = int(_num(row["Count"]))
        events = int(_num(row["Event"]))
        woe = _num(row["WoE"])
        iv = _num(row["IV"])
        woe = 0.0 if math.isnan(woe) else woe
        iv = 0.0 if math.isnan(iv) else iv
        if i < n_regular:
            if categorical:
                cats = tuple(str(c) for c in np.asarray(row["Bin"], dtype=object).ravel())
                bins.append(
                    BinStats(
                        BinKind.CATEGORIES,
                        ", ".join(cats),
                        None,
                        None,
                        cats,
                        count,
                        events,
                        woe,
                        iv,
                    )
                )
            else:
                lower = splits[i - 1] if i > 0 else None
                upper = splits[i] if i < len(splits) else None
                bins.append(
                    BinStats(
                        BinKind.INTERVAL,
                        _interval_label(lower, upper),
                        lower,
                        upper,
                        (),
                        count,
                        events,
                        woe,
                        iv,
                    )
                )
        elif i == n_regular:
            bins.append(
                BinStats(BinKind.SPECIAL, "Special", None, None, (), count, events, woe, iv)
            )
        else:
            bins.append(
                BinStats(BinKind.MISSING, "Missing", None, None, (), count, events, woe, iv)
            )
    return FittedBinning(
        name=name,
        dtype="categorical" if categorical else "numerical",
        special_codes=tuple(float(c) for c in specials),
        bins=tuple(bins),
    )


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def _interval_label(lower: float | None, upper: float | None) -> str:
    lo = "(-inf" if lower is None else f"[{_fmt(lower)}"
    hi = "inf)" if upper is None else f"{_fmt(upper)})"
    return f"{lo}, {hi}"
