"""One-at-a-time sensitivity: each simulator parameter set to the low and then the high
end of its stated range (``Parameters.ranges()``), every other parameter at its value,
every strategy rerun; which assumptions would change the ranking of the strategies.

The ranking is by mean recovery across the seeds (and, separately, by complaints per
10,000 contacts, fewer is better). A parameter *changes the ranking* when, at either end
of its range, the order of the strategies differs from the order at the stated values.
The tornado chart shows, per parameter, the recovery difference between the first two
strategies at each end of the range around the difference at the stated values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from forbear.sim.lab.run import LabResult, LabStrategy, run_lab

RANKED: dict[str, bool] = {"recovered_yuan": True, "complaints_per_10k": False}  # higher better?


@dataclass
class Sensitivity:
    base: dict[str, dict[str, float]]  # metric -> strategy -> mean at the stated values
    rows: pl.DataFrame  # parameter, side, value, strategy, metric, mean
    flips: pl.DataFrame  # parameter, side, value, metric, ranking, base_ranking
    seeds: int
    days: int
    loans: int

    def changes(self, metric: str = "recovered_yuan") -> list[str]:
        """The parameters whose range, at either end, changes the ranking on ``metric``."""
        f = self.flips.filter(pl.col("metric") == metric)
        return sorted(set(f["parameter"].to_list()))


def _means(result: LabResult, metric: str) -> dict[str, float]:
    out = {}
    for name in result.strategies:
        runs = result.by_strategy(name)
        out[name] = sum(r.totals.get(metric, 0.0) for r in runs) / max(len(runs), 1)
    return out


def _variant(
    strategies: Sequence[LabStrategy],
    population: Any,
    params: Any,
    days: int,
    seeds: list[int],
    start: date,
    lab: dict[str, Any],
    name: str,
    value: float,
) -> dict[str, dict[str, float]]:
    """Every strategy with one parameter at ``value``: metric -> strategy -> mean."""
    varied = params.with_values({name: value})
    result = run_lab(strategies, population, varied, days, seeds, start, **lab)
    return {metric: _means(result, metric) for metric in RANKED}


def ranking(means: dict[str, float], higher_better: bool) -> list[str]:
    return sorted(means, key=lambda s: (-means[s] if higher_better else means[s], s))


def sensitivity(
    strategies: Sequence[LabStrategy],
    population: Any,
    params: Any,
    days: int,
    seeds: Iterable[int],
    start: date,
    *,
    base: LabResult | None = None,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    **lab: Any,
) -> Sensitivity:
    """Rerun every strategy with each parameter at each end of its range. ``base`` (a run
    with the same population, days and seeds at the stated values) is reused when given;
    ``only`` limits the parameters varied; ``workers`` > 1 runs the variants in that
    many processes."""
    seed_list = list(seeds)
    ranges: dict[str, tuple[float, float]] = dict(params.ranges())
    if only is not None:
        unknown = [p for p in only if p not in ranges]
        if unknown:
            raise ValueError(f"unknown parameters: {', '.join(unknown)}")
        ranges = {p: ranges[p] for p in only}
    if base is None:
        base = run_lab(
            strategies, population, params, days, seed_list, start, workers=workers, **lab
        )
    base_means = {m: _means(base, m) for m in RANKED}
    base_rank = {m: ranking(base_means[m], hb) for m, hb in RANKED.items()}
    rows: list[dict[str, Any]] = []
    flips: list[dict[str, Any]] = []
    variants = [
        (n, side, v) for n, (lo, hi) in ranges.items() for side, v in (("low", lo), ("high", hi))
    ]
    lab_one = {k: v for k, v in lab.items() if k != "workers"}
    args = (strategies, population, params, days, seed_list, start, lab_one)
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_variant, *args, n, v) for n, _, v in variants]
            answers = [f.result() for f in futures]
    else:
        answers = [_variant(*args, n, v) for n, _, v in variants]
    for (name, side, value), means_by_metric in zip(variants, answers, strict=True):
        for metric, higher_better in RANKED.items():
            means = means_by_metric[metric]
            for strategy, mean in means.items():
                rows.append(
                    {
                        "parameter": name,
                        "side": side,
                        "value": float(value),
                        "strategy": strategy,
                        "metric": metric,
                        "mean": mean,
                    }
                )
            order = ranking(means, higher_better)
            if order != base_rank[metric]:
                flips.append(
                    {
                        "parameter": name,
                        "side": side,
                        "value": float(value),
                        "metric": metric,
                        "ranking": " > ".join(order),
                        "base_ranking": " > ".join(base_rank[metric]),
                    }
                )
        if progress:
            progress(f"sensitivity {name}={value:g} ({side})")
    return Sensitivity(
        base=base_means,
        rows=pl.DataFrame(
            rows,
            schema={
                "parameter": pl.String(),
                "side": pl.String(),
                "value": pl.Float64(),
                "strategy": pl.String(),
                "metric": pl.String(),
                "mean": pl.Float64(),
            },
        ),
        flips=pl.DataFrame(
            flips,
            schema={
                "parameter": pl.String(),
                "side": pl.String(),
                "value": pl.Float64(),
                "metric": pl.String(),
                "ranking": pl.String(),
                "base_ranking": pl.String(),
            },
        ),
        seeds=len(seed_list),
        days=days,
        loans=base.loans,
    )


def tornado(sens: Sensitivity, a: str, b: str, metric: str = "recovered_yuan") -> pl.DataFrame:
    """Per parameter: ``b - a`` on ``metric`` at the low and the high end, and the swing
    (|high - low|), widest first; ``base`` is the difference at the stated values."""
    base = sens.base[metric].get(b, 0.0) - sens.base[metric].get(a, 0.0)
    rows = sens.rows.filter(pl.col("metric") == metric)
    if rows.height == 0:
        return pl.DataFrame(
            schema={
                "parameter": pl.String(),
                "low": pl.Float64(),
                "high": pl.Float64(),
                "base": pl.Float64(),
                "swing": pl.Float64(),
            }
        )
    wide = rows.pivot(on="strategy", index=["parameter", "side"], values="mean")
    diff = wide.select("parameter", "side", d=pl.col(b) - pl.col(a)).pivot(
        on="side", index="parameter", values="d"
    )
    return diff.select(
        "parameter",
        pl.col("low"),
        pl.col("high"),
        base=pl.lit(base),
        swing=(pl.col("high") - pl.col("low")).abs(),
    ).sort("swing", descending=True)
