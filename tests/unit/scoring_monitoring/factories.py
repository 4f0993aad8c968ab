"""Small artefacts for monitoring and report tests, built by hand so tests need no trainer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from forbear.domain.scoring.artefact import (
    Artefact,
    Bin,
    BinKind,
    Feature,
    Metrics,
    ModelKind,
    Scaling,
    TrainingData,
)


def make_bin(kind: BinKind, label: str, count: int, **kw: Any) -> Bin:
    defaults: dict[str, Any] = {"event_count": count // 10, "woe": 0.0, "iv": 0.01, "points": 10.0}
    return Bin(kind=kind, label=label, count=count, **{**defaults, **kw})


def make_scorecard(**overrides: Any) -> Artefact:
    """A two-feature scorecard: ``age`` (missing, special -1, three intervals) and
    ``region`` (two category bins and other); score bands with interior cut points."""
    age = Feature(
        name="age",
        label_zh="年龄",
        label_en="Age",
        dtype="numerical",
        special_codes=(-1.0,),
        iv=0.21,
        coefficient=1.0,
        bins=(
            make_bin(BinKind.MISSING, "Missing", 100),
            make_bin(BinKind.SPECIAL, "-1", 100),
            make_bin(BinKind.INTERVAL, "(-inf, 30)", 200, upper=30.0),
            make_bin(BinKind.INTERVAL, "[30, 50)", 400, lower=30.0, upper=50.0),
            make_bin(BinKind.INTERVAL, "[50, inf)", 200, lower=50.0),
        ),
    )
    region = Feature(
        name="region",
        label_zh="地区",
        label_en="Region",
        dtype="categorical",
        iv=0.05,
        coefficient=1.0,
        bins=(
            make_bin(BinKind.CATEGORIES, "east", 500, categories=("east",)),
            make_bin(BinKind.CATEGORIES, "west, north", 400, categories=("west", "north")),
            make_bin(BinKind.OTHER, "Other", 100),
        ),
    )
    fields: dict[str, Any] = {
        "kind": ModelKind.APPLICATION,
        "name": "test-scorecard",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "training": TrainingData(
            source="synthetic", fingerprint="0" * 64, rows=1000, bads=100, target="bad", seed=1
        ),
        "metrics": Metrics(
            auc=0.80, ks=0.45, gini=0.60, rows_train=700, rows_test=300, bad_rate=0.1
        ),
        "score_bands": (500.0, 550.0, 600.0),
        "score_band_shares": (0.25, 0.25, 0.25, 0.25),
        "features": (age, region),
        "scaling": Scaling(),
    }
    return Artefact(**{**fields, **overrides})


def make_payers(n: int = 6000, seed: int = 7) -> pl.DataFrame:
    """Overdue accounts whose chance to pay is a known logistic function of the inputs.

    ``p = sigmoid(-0.3 + 1.2 * z - 1.5 * (dpd / 90) + channel effect)``; ``noise`` carries
    no signal; ``dpd`` is missing for 5% of rows. The true probability is kept in
    ``p_true`` so a test can compare the model against it.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    dpd = rng.integers(1, 91, size=n).astype(np.float64)
    channel = rng.choice(["app", "sms", "call", "none"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    effect = {"app": 0.6, "sms": 0.2, "call": 0.0, "none": -0.8}
    logit = -0.3 + 1.2 * z - 1.5 * (dpd / 90) + np.vectorize(effect.get)(channel)
    p = 1 / (1 + np.exp(-logit))
    paid = (rng.uniform(size=n) < p).astype(np.int8)
    dpd_obs = np.where(rng.uniform(size=n) < 0.05, np.nan, dpd)
    return pl.DataFrame(
        {
            "z": z,
            "dpd": pl.Series(dpd_obs).fill_nan(None),
            "channel": channel,
            "noise": rng.normal(size=n),
            "paid": paid,
            "p_true": p,
        }
    )
