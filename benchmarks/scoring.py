"""Benchmark: scoring a whole book with Forbear's compiled scorecard against the libraries.

Run from the repository root::

    .venv/bin/python benchmarks/scoring.py                  # 10M rows, libraries on 1M
    .venv/bin/python benchmarks/scoring.py --rows 2000000 --subset 200000
    .venv/bin/python benchmarks/scoring.py --rounds 5       # each contender 5 times, in turns
    .venv/bin/python benchmarks/scoring.py --smoke          # tiny, one round, used by the tests
    .venv/bin/python benchmarks/scoring.py --json out.json  # also write the figures

The data is synthetic and seeded, built with numpy: 20 features (15 numeric, some integer,
several with missing values; 5 categorical) with a known logistic signal on 13 of the
numeric features and all the categorical ones (two numeric features are pure noise), and a
binary target (1 = bad, about 10%). A training table (``--train-rows``, default 1M) and a
scoring table (``--rows``, default 10M, same generator, other seed, no target) are drawn.

Steps, each in its own child process (a fresh interpreter, so that peak memory is its own):

- ``train forbear``: ``train_scorecard`` on the training table (timed; printed);
- ``fit optbinning``: the same scorecard through optbinning's own ``Scorecard``: a
  ``BinningProcess`` with Forbear's binning settings on the features Forbear selected, a
  ``LogisticRegression`` with Forbear's settings, ``pdo_odds`` scaling 600 @ 50:1 / 20 and
  empirical WoE for missing and special values, on the same 70% training split;
- ``fit toad``: toad's ``Combiner`` (decision-tree binning: DESIGN.md says its default
  chi-merge does not finish at this size), ``WOETransformer`` and ``ScoreCard``;
- then the scoring contenders, which read their inputs untimed and time the scoring only:
  ``forbear, reasons=4`` (``score_frame(..., points=False, reason_list=False)`` on all
  rows: ``score``, ``score_int``, ``tier``, ``pd`` and the fixed reason columns
  ``reason_1`` .. ``reason_4``, an Enum of feature names, null where fewer features lost
  points), ``forbear, no reasons`` (``reasons=0, points=False``: ``score``,
  ``score_int``, ``tier`` and ``pd`` only, the like-for-like output of a library's score;
  the per-feature points for the identity check are computed afterwards, untimed), each
  also on the first ``--subset`` rows ("(subset)", for a ratio on equal work), ``optbinning``
  (``Scorecard.score``) and ``toad`` (``ScoreCard.predict``). The libraries are slow, so by
  default they score the first ``--subset`` rows (1M) and their time for all rows is a
  LINEAR projection from their rows per second; the output says so. Their input is a
  pandas frame built from the Polars one before the clock starts.

The scoring contenders take turns for ``--rounds`` rounds (default 3; each run a fresh
child process), so that a change of load on a shared machine falls on all of them alike;
each is reported by the min and the median of its wall and CPU seconds. CPU seconds are
the scoring process's own, every thread counted (Polars scores on all cores):
``time.process_time``, checked against ``getrusage``'s user + system time. The issue's
target is reason codes at least 20x optbinning's plain ``Scorecard.score`` (points only)
per row; it is judged by CPU and by wall separately, each on the min over the rounds.

Points are checked on the shared rows: Forbear's ``pts_<feature>`` against optbinning's
points per feature (its scorecard table looked up with its own bin indices, exactly what
``Scorecard.score`` sums) and Forbear's ``score`` against ``Scorecard.score``; identical
means a max abs difference <= 1e-6. toad bins the data its own way, so it is compared on
speed only. Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _measure import memory, print_table

SEED = 20250701
TARGET = "bad"
TOLERANCE = 1e-6
FORBEAR = "forbear"
OPTBINNING = "optbinning"
TOAD = "toad"
LIBRARIES = (OPTBINNING, TOAD)

# numeric features: name -> (kind, logit effect per unit of the transformed value, missing share)
NUMERIC: dict[str, tuple[str, float, float]] = {
    "age": ("age", -0.03, 0.0),
    "monthly_income": ("log_income", -0.6, 0.08),
    "debt_to_income": ("dti", 2.0, 0.0),
    "credit_utilisation": ("util", 1.5, 0.05),
    "months_on_book": ("mob", -0.01, 0.0),
    "max_dpd_12m": ("dpd", 0.04, 0.0),
    "open_loans": ("count2", 0.15, 0.0),
    "inquiries_3m": ("count15", 0.2, 0.03),
    "paid_ratio_6m": ("paid", -2.5, 0.10),
    "loan_amount": ("log_amount", 0.1, 0.0),
    "instalment_to_income": ("share", 1.0, 0.0),
    "days_since_payment": ("days", 0.01, 0.06),
    "term_months": ("term", 0.01, 0.0),
    "noise_normal": ("noise", 0.0, 0.02),
    "noise_uniform": ("noise_u", 0.0, 0.0),
}
INTEGER = {"age", "months_on_book", "max_dpd_12m", "open_loans", "inquiries_3m", "term_months"}
MISSING_EFFECT = 0.4
# categorical features: name -> {level: (share, logit effect)}
CATEGORICAL: dict[str, dict[str, tuple[float, float]]] = {
    "product": {"CASH": (0.4, 0.0), "INST": (0.35, -0.2), "SHORT": (0.25, 0.35)},
    "channel": {"APP": (0.5, 0.0), "H5": (0.2, 0.25), "STORE": (0.2, -0.3), "PARTNER": (0.1, 0.4)},
    "city_tier": {"T1": (0.2, -0.2), "T2": (0.3, -0.1), "T3": (0.3, 0.1), "T4": (0.2, 0.25)},
    "education": {
        "PRIMARY": (0.15, 0.3),
        "SECONDARY": (0.45, 0.1),
        "BACHELOR": (0.3, -0.2),
        "MASTER": (0.1, -0.4),
    },
    "employment": {
        "SALARIED": (0.55, -0.2),
        "SELF": (0.2, 0.1),
        "GIG": (0.15, 0.35),
        "RETIRED": (0.05, 0.0),
        "STUDENT": (0.05, 0.5),
    },
}
BASE_LOGIT = -2.55


# ------------------------------------------------------------------------- timing


class Clock:
    """Wall and CPU seconds of the timed block. CPU is the whole process's (every thread:
    Polars scores on all cores), read twice: ``time.process_time`` and ``getrusage``'s
    user + system time, which must agree."""

    def __enter__(self) -> Clock:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._usage = _rusage_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu
        self.rusage_cpu_s = _rusage_cpu() - self._usage


def _rusage_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------- synthetic data


def _numeric(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(value, transformed value the signal is linear in)."""
    if kind == "age":
        x = rng.integers(18, 66, n).astype(np.float64)
        return x, x - 40
    if kind == "log_income":
        x = np.round(rng.lognormal(8.8, 0.5, n), 0)
        return x, np.log(x / 6600)
    if kind == "dti":
        x = rng.beta(2, 5, n)
        return x, x - 0.3
    if kind == "util":
        x = rng.uniform(0, 1.2, n)
        return x, x - 0.5
    if kind == "mob":
        x = rng.integers(0, 121, n).astype(np.float64)
        return x, x - 36
    if kind == "dpd":
        x = np.minimum(rng.geometric(0.5, n) - 1, 20) * 5.0
        return x, x - 5
    if kind == "count2":
        x = rng.poisson(2.0, n).astype(np.float64)
        return x, x - 2
    if kind == "count15":
        x = rng.poisson(1.5, n).astype(np.float64)
        return x, x - 1.5
    if kind == "paid":
        x = rng.beta(8, 2, n)
        return x, x - 0.8
    if kind == "log_amount":
        x = np.round(rng.lognormal(9.5, 0.8, n), -2) + 100
        return x, np.log(x / 13000)
    if kind == "share":
        x = rng.uniform(0.05, 0.6, n)
        return x, x - 0.3
    if kind == "days":
        x = np.round(rng.exponential(20, n), 0)
        return x, x - 20
    if kind == "term":
        x = rng.choice(np.array([3.0, 6.0, 12.0, 24.0, 36.0]), n)
        return x, x - 12
    if kind == "noise":
        x = rng.normal(0, 1, n)
        return x, np.zeros(n)
    if kind == "noise_u":
        x = rng.uniform(0, 100, n)
        return x, np.zeros(n)
    raise ValueError(kind)


def synthetic(n: int, seed: int, *, target: bool = True) -> pl.DataFrame:
    """``n`` rows of the 20 features (and the target), seeded."""
    rng = np.random.default_rng(seed)
    logit = np.full(n, BASE_LOGIT)
    columns: list[pl.Series] = []
    for name, (kind, beta, missing_share) in NUMERIC.items():
        value, effect = _numeric(kind, n, rng)
        logit += beta * effect
        missing = rng.random(n) < missing_share if missing_share else None
        if missing is not None:
            logit += MISSING_EFFECT * missing
        series = pl.Series(name, value)
        if name in INTEGER:
            series = series.cast(pl.Int64)
        if missing is not None:
            series = pl.select(
                pl.when(pl.lit(pl.Series(missing))).then(None).otherwise(pl.lit(series))
            ).to_series()
        columns.append(series.alias(name))
    for name, levels in CATEGORICAL.items():
        labels = np.array(list(levels))
        shares = np.array([s for s, _ in levels.values()])
        effects = np.array([e for _, e in levels.values()])
        idx = rng.choice(len(labels), n, p=shares / shares.sum())
        logit += effects[idx]
        columns.append(pl.Series(name, labels[idx], dtype=pl.String))
    frame = pl.DataFrame(columns)
    if target:
        p = 1.0 / (1.0 + np.exp(-logit))
        frame = frame.with_columns(pl.Series(TARGET, (rng.random(n) < p).astype(np.int8)))
    return frame


def _to_pandas(frame: pl.DataFrame, features: list[str]) -> Any:
    """Library input: numbers as float64 (missing as NaN), categories as strings."""
    cols = [
        pl.col(c).cast(pl.Float64) if frame.schema[c].is_numeric() else pl.col(c) for c in features
    ]
    return frame.select(cols).to_pandas()


# ------------------------------------------------------------------------- child processes


def _quiet() -> None:
    """optbinning and toad trip pandas 3 / scikit-learn deprecation warnings in their own
    code; they are not ours to fix and would only clutter the output."""
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", UserWarning)


def _train_split(n: int, y: np.ndarray, seed: int, test_share: float) -> np.ndarray:
    """The training rows ``train_scorecard`` uses (its documented split: scikit-learn's
    stratified ``train_test_split`` with the seed), for the libraries to fit on the same."""
    from sklearn.model_selection import train_test_split

    tr, _ = train_test_split(np.arange(n), test_size=test_share, stratify=y, random_state=seed)
    return np.sort(tr)


def work_train_forbear(workdir: Path, seed: int) -> dict[str, Any]:
    from forbear.domain.scoring.artefact import ModelKind
    from forbear.domain.scoring.scorecard import train_scorecard

    train = pl.read_parquet(workdir / "train.parquet")
    before = memory()
    t0, c0 = time.perf_counter(), time.process_time()
    artefact, report = train_scorecard(
        train,
        TARGET,
        kind=ModelKind.BEHAVIOUR,
        name="synthetic-20",
        source="benchmarks/scoring.py synthetic",
        created_at=datetime(2025, 7, 1, tzinfo=UTC),
        seed=seed,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    (workdir / "artefact.json").write_text(artefact.to_json())
    return {
        "rows": train.height,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": memory()["peak_mb"],
        "inputs_mb": before["rss_mb"],
        "selected": list(report.selected),
        "dropped": report.dropped,
        "auc_test": artefact.metrics.auc,
        "gini_test": artefact.metrics.gini,
    }


def work_fit_optbinning(workdir: Path, seed: int) -> dict[str, Any]:
    """optbinning's own Scorecard with Forbear's settings, on Forbear's training split."""
    _quiet()
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    from forbear.domain.scoring.artefact import load_artefact
    from forbear.domain.scoring.scorecard import DEFAULT_CONFIG as config

    artefact = load_artefact((workdir / "artefact.json").read_text())
    train = pl.read_parquet(workdir / "train.parquet")
    y_all = train[TARGET].to_numpy().astype(np.int64)
    rows = _train_split(train.height, y_all, seed, config.test_share)
    names = [f.name for f in artefact.features]
    categorical = [f.name for f in artefact.features if f.dtype == "categorical"]
    x = _to_pandas(train[rows], names)
    y = y_all[rows]
    del train
    t0 = time.perf_counter()
    process = BinningProcess(
        names,
        categorical_variables=categorical,
        min_bin_size=config.min_bin_share,
        min_prebin_size=config.min_prebin_share,
        max_n_prebins=config.max_n_prebins,
        binning_fit_params={
            n: {"monotonic_trend": config.monotonic_trend} for n in names if n not in categorical
        },
    )
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(C=config.regularisation_c, max_iter=config.max_iter),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": config.scaling.pdo,
            "odds": config.scaling.base_odds,
            "scorecard_points": config.scaling.base_points,
        },
    )
    card.fit(x, y, metric_special="empirical", metric_missing="empirical")
    wall = time.perf_counter() - t0
    with (workdir / "optbinning.pkl").open("wb") as fh:
        pickle.dump(card, fh)
    return {"rows": len(rows), "features": len(names), "wall_s": wall}


def work_fit_toad(workdir: Path, seed: int) -> dict[str, Any]:
    """toad's scorecard on the same training rows and features, decision-tree binning."""
    _quiet()
    from toad.scorecard import ScoreCard
    from toad.transform import Combiner, WOETransformer

    from forbear.domain.scoring.artefact import load_artefact
    from forbear.domain.scoring.scorecard import DEFAULT_CONFIG as config

    artefact = load_artefact((workdir / "artefact.json").read_text())
    train = pl.read_parquet(workdir / "train.parquet")
    y_all = train[TARGET].to_numpy().astype(np.int64)
    rows = _train_split(train.height, y_all, seed, config.test_share)
    names = [f.name for f in artefact.features]
    x = _to_pandas(train[rows], names)
    x[TARGET] = y_all[rows]
    del train
    t0 = time.perf_counter()
    combiner = Combiner()
    combiner.fit(x, y=TARGET, method="dt", min_samples=config.min_bin_share)
    binned = combiner.transform(x, labels=False)
    woe = WOETransformer()
    x_woe = woe.fit_transform(binned, x[TARGET], exclude=[TARGET])
    card = ScoreCard(
        combiner=combiner,
        transer=woe,
        base_score=config.scaling.base_points,
        base_odds=config.scaling.base_odds,
        pdo=config.scaling.pdo,
        rate=2,
        C=config.regularisation_c,
        max_iter=config.max_iter,
    )
    card.fit(x_woe.drop(columns=[TARGET]), x[TARGET])
    wall = time.perf_counter() - t0
    with (workdir / "toad.pkl").open("wb") as fh:
        pickle.dump(card, fh)
    return {"rows": len(rows), "features": len(names), "wall_s": wall}


def work_score(
    role: str, workdir: Path, n_rows: int, reasons: int, write_points: bool
) -> dict[str, Any]:
    """Score ``n_rows`` rows of the scoring table with one contender; time the scoring."""
    if role == FORBEAR:
        from forbear.domain.scoring.artefact import load_artefact
        from forbear.domain.scoring.compiled import score_frame

        artefact = load_artefact((workdir / "artefact.json").read_text())
        frame = pl.read_parquet(workdir / "score.parquet", n_rows=n_rows)
        before = memory()
        with Clock() as clock:
            # the totals (score, score_int, tier, pd), like a library's score, and with
            # reasons the fixed reason columns reason_1 .. reason_<reasons> (no list per
            # row); collected by Polars's default engine (streaming)
            out = score_frame(
                frame.lazy(), artefact, reasons=reasons, points=False, reason_list=False
            ).collect()
        after = memory()
        rows = out.height
        columns = out.columns[frame.width :]
        filled = {
            c: int(out.get_column(c).is_not_null().sum())
            for c in columns
            if c.startswith("reason_")
        }
        extra: dict[str, Any] = {"output_columns": columns, "reasons_filled": filled}
        if write_points:  # untimed: the per-feature points, for the identity check
            out = score_frame(frame.lazy(), artefact, reasons=0, points=True).collect()
            pts = [c for c in out.columns if c.startswith("pts_")]
            out.select("score", *pts).write_parquet(workdir / "points_forbear.parquet")
    else:
        extra = {}
        _quiet()
        with (workdir / ("optbinning.pkl" if role == OPTBINNING else "toad.pkl")).open("rb") as fh:
            card = pickle.load(fh)
        if role == OPTBINNING:
            names = list(card.binning_process_.variable_names)
        else:
            names = list(card.features_)
        frame = pl.read_parquet(workdir / "score.parquet", n_rows=n_rows)
        x = _to_pandas(frame, names)
        rows = frame.height
        del frame
        before = memory()
        with Clock() as clock:
            scores = card.score(x) if role == OPTBINNING else card.predict(x)
        after = memory()
        if write_points:
            _write_optbinning_points(card, x, np.asarray(scores), workdir)
    return {
        "rows": rows,
        "wall_s": clock.wall_s,
        "cpu_s": clock.cpu_s,
        "rusage_cpu_s": clock.rusage_cpu_s,
        "polars_threads": pl.thread_pool_size() if role == FORBEAR else None,
        "rows_per_s": rows / clock.wall_s if clock.wall_s > 0 else float("inf"),
        "peak_mb": after["peak_mb"],
        "inputs_mb": before["rss_mb"],
        **extra,
    }


def _write_optbinning_points(card: Any, x: Any, scores: np.ndarray, workdir: Path) -> None:
    """optbinning's points per feature: its scorecard table indexed by its own bin indices,
    exactly the terms ``Scorecard.score`` sums (untimed)."""
    process = card.binning_process_
    indices = process.transform(
        x[process.variable_names],
        metric="indices",
        metric_special="empirical",
        metric_missing="empirical",
    )
    table = card.table(style="detailed")
    cols = {"score": scores.astype(np.float64)}
    for name in process.get_support(names=True):
        points = table.loc[table["Variable"] == name, "Points"].to_numpy(dtype=np.float64)
        cols[f"pts_{name}"] = points[indices[name].to_numpy()]
    cols["intercept"] = np.full(len(scores), float(card.intercept_))
    pl.DataFrame(cols).write_parquet(workdir / "points_optbinning.parquet")


def run_child(step: str, workdir: Path, extra: list[str], tag: str = "") -> dict[str, Any]:
    """Run one step in a fresh interpreter, so that its peak memory is its own."""
    out = workdir / f"figures_{tag or step}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", step, str(workdir), *extra]
    cmd += ["--tag", tag or step]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    return json.loads(out.read_text())


# ------------------------------------------------------------------------- comparison, output


def compare_points(workdir: Path) -> dict[str, Any]:
    """Max abs difference of Forbear's points and score against optbinning's, shared rows."""
    ours = pl.read_parquet(workdir / "points_forbear.parquet")
    theirs = pl.read_parquet(workdir / "points_optbinning.parquet")
    n = min(ours.height, theirs.height)
    ours, theirs = ours.head(n), theirs.head(n)
    per_feature: dict[str, float] = {}
    missing = []
    for c in ours.columns:
        if c == "score":
            continue
        if c not in theirs.columns:
            missing.append(c)
            continue
        per_feature[c.removeprefix("pts_")] = float(
            np.max(np.abs(ours[c].to_numpy() - theirs[c].to_numpy()))
        )
    extra = [c for c in theirs.columns if c.startswith("pts_") and c not in ours.columns]
    score_diff = float(np.max(np.abs(ours["score"].to_numpy() - theirs["score"].to_numpy())))
    worst = max([score_diff, *per_feature.values()])
    return {
        "rows_compared": n,
        "max_abs_diff_score": score_diff,
        "max_abs_diff_points": max(per_feature.values()) if per_feature else float("nan"),
        "per_feature": per_feature,
        "features_only_in_forbear": [c.removeprefix("pts_") for c in missing],
        "features_only_in_optbinning": [c.removeprefix("pts_") for c in extra],
        "identical": bool(worst <= TOLERANCE and not missing and not extra),
    }


def _table(results: list[dict[str, Any]], title: str) -> None:
    headers = [
        "contender",
        "rows",
        "wall s min",
        "wall s median",
        "CPU s min",
        "CPU s median",
        "rows per CPU s",
        "rows per wall s",
        "peak MB",
    ]
    body = [
        [
            r["name"],
            f"{r['rows']:,}",
            f"{r['wall_s']:.3f}",
            f"{r['wall_s_median']:.3f}",
            f"{r['cpu_s']:.3f}",
            f"{r['cpu_s_median']:.3f}",
            f"{r['rows_per_cpu_s']:,.0f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['peak_mb']:,.0f}",
        ]
        for r in results
    ]
    print_table(title, headers, body, width=150)


def aggregate(name: str, reasons: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One contender over the rounds: min and median of wall and CPU seconds (the min is
    the run least disturbed by other work on the machine), every run's figures kept."""
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    rows = runs[0]["rows"]
    first = runs[0]
    return {
        **{k: v for k, v in first.items() if k not in ("wall_s", "cpu_s", "rows_per_s")},
        "name": name,
        "reasons": reasons,
        "rounds": len(runs),
        "wall_s": min(walls),
        "wall_s_median": statistics.median(walls),
        "cpu_s": min(cpus),
        "cpu_s_median": statistics.median(cpus),
        "walls_s": walls,
        "cpus_s": cpus,
        "rusage_cpus_s": [r["rusage_cpu_s"] for r in runs],
        "rows_per_s": rows / min(walls) if min(walls) > 0 else float("inf"),
        "rows_per_s_median": rows / statistics.median(walls),
        "rows_per_cpu_s": rows / min(cpus) if min(cpus) > 0 else float("inf"),
        "rows_per_cpu_s_median": rows / statistics.median(cpus),
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def _cpu_gap(result: dict[str, Any]) -> float:
    """How far ``process_time`` and ``getrusage`` disagree on one contender's runs."""
    return max(abs(a - b) for a, b in zip(result["cpus_s"], result["rusage_cpus_s"], strict=True))


def _worker_main(args: argparse.Namespace) -> dict[str, Any]:
    step, workdir = args.worker[0], Path(args.worker[1])
    if step == "train_forbear":
        figures = work_train_forbear(workdir, args.seed)
    elif step == "fit_optbinning":
        figures = work_fit_optbinning(workdir, args.seed)
    elif step == "fit_toad":
        figures = work_fit_toad(workdir, args.seed)
    else:
        role = step.removeprefix("score_")
        figures = work_score(role, workdir, args.worker_rows, args.reasons, args.write_points)
    (workdir / f"figures_{args.tag or step}.json").write_text(json.dumps(figures))
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows to score")
    parser.add_argument("--subset", type=int, default=1_000_000, help="rows the libraries score")
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--reasons", type=int, default=4, help="reason codes per row (Forbear)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--rounds", type=int, default=3, help="times each contender scores, taking turns"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--worker", nargs=2, metavar=("STEP", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--write-points", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker_main(args)

    if args.smoke:
        args.rows, args.subset, args.train_rows, args.rounds = 20_000, 20_000, 20_000, 1
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    subset = min(args.subset, args.rows)
    sampled = subset < args.rows
    print(
        f"Generating synthetic tables (seed {args.seed}): train {args.train_rows:,} rows, "
        f"score {args.rows:,} rows, 20 features ...",
        flush=True,
    )
    t0 = time.perf_counter()
    train = synthetic(args.train_rows, args.seed)
    bad_rate = float(train[TARGET].mean() or 0.0)
    with tempfile.TemporaryDirectory(prefix="forbear-bench-scoring-") as tmp:
        workdir = Path(tmp)
        train.write_parquet(workdir / "train.parquet")
        del train
        synthetic(args.rows, args.seed + 1, target=False).write_parquet(workdir / "score.parquet")
        print(
            f"  done in {time.perf_counter() - t0:.1f} s (training bad rate {bad_rate:.1%})",
            flush=True,
        )
        seed_args = ["--seed", str(args.seed)]
        print(f"Training Forbear's scorecard on {args.train_rows:,} rows ...", flush=True)
        training = run_child("train_forbear", workdir, seed_args)
        print(
            f"  train_scorecard: {training['wall_s']:.1f} s wall, {training['cpu_s']:.1f} s CPU, "
            f"peak {training['peak_mb']:,.0f} MB; {len(training['selected'])} features kept "
            f"(dropped: {', '.join(sorted(training['dropped'])) or 'none'}); "
            f"test AUC {training['auc_test']:.4f}, Gini {training['gini_test']:.4f}",
            flush=True,
        )
        fits: dict[str, dict[str, Any]] = {}
        for lib in LIBRARIES:
            print(f"Fitting {lib}'s scorecard on the same training rows ...", flush=True)
            fits[lib] = run_child(f"fit_{lib}", workdir, seed_args)
            print(f"  {lib}: {fits[lib]['wall_s']:.1f} s wall", flush=True)

        # (name, step, rows, reasons, write points)
        with_reasons = f"{FORBEAR}, reasons={args.reasons}"
        no_reasons = f"{FORBEAR}, no reasons"
        plan: list[tuple[str, str, int, int, bool]] = []
        if args.reasons > 0:
            plan.append((with_reasons, "score_forbear", args.rows, args.reasons, False))
        plan.append((no_reasons, "score_forbear", args.rows, 0, not sampled))
        if sampled:
            if args.reasons > 0:
                plan.append(
                    (f"{with_reasons} (subset)", "score_forbear", subset, args.reasons, False)
                )
            plan.append((f"{no_reasons} (subset)", "score_forbear", subset, 0, True))
        plan += [
            (OPTBINNING, "score_optbinning", subset, 0, True),
            (TOAD, "score_toad", subset, 0, False),
        ]
        # the contenders take turns, round after round, so that a change of load on a
        # shared machine falls on all of them alike
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in plan}
        loads = [os.getloadavg()[0]]
        for round_ in range(args.rounds):
            for i, (name, step, n_rows, reasons, write_points) in enumerate(plan):
                print(
                    f"Round {round_ + 1}/{args.rounds}: {n_rows:,} rows with {name} ...", flush=True
                )
                extra = ["--worker-rows", str(n_rows), "--reasons", str(reasons)]
                extra += ["--write-points"] if write_points and round_ == 0 else []
                runs[name].append(run_child(step, workdir, extra, tag=f"{step}_{i}_{round_}"))
                loads.append(os.getloadavg()[0])
        results = [aggregate(name, reasons, runs[name]) for name, _, _, reasons, _ in plan]
        check = compare_points(workdir)

    by_name = {r["name"]: r for r in results}
    variants = {"with_reasons": with_reasons} if args.reasons > 0 else {}
    variants["no_reasons"] = no_reasons
    ratios: dict[str, float] = {
        f"projected_{n}_s_for_all_rows": args.rows / by_name[n]["rows_per_s"] for n in LIBRARIES
    }
    # per row, Forbear on all rows (its throughput) and on the libraries' rows (equal work),
    # by CPU seconds (min and median over the rounds) and by wall seconds
    for key, name in variants.items():
        full = by_name[name]
        equal = by_name.get(f"{name} (subset)", full)
        for lib in LIBRARIES:
            other = by_name[lib]
            for measure, per in (("cpu", "rows_per_cpu_s"), ("wall", "rows_per_s")):
                for stat, suffix in (("min", ""), ("median", "_median")):
                    ratios[f"{measure}_{stat}_{key}_vs_{lib}"] = (
                        full[per + suffix] / other[per + suffix]
                    )
                    ratios[f"{measure}_{stat}_equal_work_{key}_vs_{lib}"] = (
                        equal[per + suffix] / other[per + suffix]
                    )
    # the target: reason codes at least 20x optbinning's plain scoring (its
    # Scorecard.score, points only), with identical points; by each measure on its own
    target = {
        f"{key}_{measure}": bool(
            ratios[f"{measure}_min_{key}_vs_{OPTBINNING}"] >= 20 and check["identical"]
        )
        for key in variants
        for measure in ("cpu", "wall")
    }

    _table(results, f"Scoring {args.rows:,} rows × 20 features, {args.rounds} round(s)")
    print(
        f"Load average (1 min) over the rounds: {min(loads):.2f} .. {max(loads):.2f} "
        f"on {os.cpu_count()} CPUs; Polars threads {by_name[no_reasons].get('polars_threads')}. "
        "CPU s = the scoring process's CPU, all its threads (process_time; getrusage agrees "
        f"within {max(_cpu_gap(r) for r in results):.3f} s)."
    )
    if sampled:
        print(
            f"The libraries scored the first {subset:,} of the {args.rows:,} rows; their time for "
            f"all rows is a LINEAR projection from their rows/s: "
            + ", ".join(f"{n} {ratios[f'projected_{n}_s_for_all_rows']:,.0f} s" for n in LIBRARIES)
            + "."
        )
    for key, name in variants.items():
        for lib in LIBRARIES:
            print(
                f"{name} vs {lib}: by CPU {ratios[f'cpu_min_{key}_vs_{lib}']:.1f}x (min), "
                f"{ratios[f'cpu_median_{key}_vs_{lib}']:.1f}x (median); by wall "
                f"{ratios[f'wall_min_{key}_vs_{lib}']:.1f}x (min), "
                f"{ratios[f'wall_median_{key}_vs_{lib}']:.1f}x (median); on equal work "
                f"({subset:,} rows) by CPU {ratios[f'cpu_min_equal_work_{key}_vs_{lib}']:.1f}x, "
                f"by wall {ratios[f'wall_min_equal_work_{key}_vs_{lib}']:.1f}x."
            )
    print(
        f"Training on {args.train_rows:,} rows: Forbear train_scorecard {training['wall_s']:.1f} s"
        f" (binning all 20 candidates, selection, LR, tiers, test metrics); "
        + ", ".join(f"{n} fit {fits[n]['wall_s']:.1f} s" for n in LIBRARIES)
        + f" (on the {len(training['selected'])} kept features only)."
    )
    print(
        f"points identical to optbinning: {'yes' if check['identical'] else 'NO'} "
        f"(max abs difference on {check['rows_compared']:,} shared rows: points "
        f"{check['max_abs_diff_points']:.3g}, score {check['max_abs_diff_score']:.3g}; "
        f"tolerance {TOLERANCE:g})"
        + (
            f"; features only in Forbear {check['features_only_in_forbear']}, only in "
            f"optbinning {check['features_only_in_optbinning']}"
            if check["features_only_in_forbear"] or check["features_only_in_optbinning"]
            else ""
        )
    )
    print("toad bins the data its own way (decision tree): compared on speed only.")
    print(
        "Target (>= 20x optbinning's Scorecard.score per row, min over the rounds, identical "
        "points): "
        + "; ".join(
            f"{variants[key]} by {measure.upper() if measure == 'cpu' else measure} "
            f"{'met' if target[f'{key}_{measure}'] else 'NOT met'}"
            for key in variants
            for measure in ("cpu", "wall")
        )
        + "."
    )
    figures = {
        "seed": args.seed,
        "rows": args.rows,
        "subset": subset,
        "train_rows": args.train_rows,
        "reasons": args.reasons,
        "forbear_variants": variants,
        "libraries_sampled": sampled,
        "projection": "linear in rows" if sampled else None,
        "training": training,
        "library_fits": fits,
        "contenders": results,
        "rounds": args.rounds,
        "load_average": {"min": min(loads), "max": max(loads)},
        "ratios": ratios,
        "check": check,
        "points_identical": check["identical"],
        "target_met": target,
        "cpus": os.cpu_count(),
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
