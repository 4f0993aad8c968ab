"""Intervals across seeds: Student-t intervals of the mean of a metric over the seeds of
one strategy, and of the paired difference between two strategies run with the same
seeds (common random numbers). With a single seed there is no interval (``None``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from scipy import stats as sps

from forbear.sim.lab.run import LabResult

# The metrics the summary and the report show, in order, with their labels (zh / en).
METRICS: dict[str, str] = {
    "recovered_yuan": "回收金额（元）Recovered (yuan)",
    "recovery_rate": "回收/期初逾期 Recovered / overdue at start (arrears arising later count too)",
    "complaints": "投诉 Complaints",
    "complaints_per_10k": "每万次接触投诉 Complaints per 10,000 contacts",
    "opt_outs": "退订 Opt-outs",
    "promises": "承诺还款 Promises",
    "promises_kept": "履约承诺 Promises kept",
    "plans_accepted": "接受还款计划 Plans accepted",
    "stopped_answering": "失联 Stopped answering",
    "contacts": "接触次数 Contacts",
    "agent_minutes": "坐席分钟 Agent minutes",
    "blocked": "合规拦截 Blocked by the gate",
    "violations": "违规 Rule violations",
}


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int

    def text(self, digits: int = 0) -> str:
        if self.low is None or self.high is None:
            return f"{self.mean:,.{digits}f}"
        return f"{self.mean:,.{digits}f} [{self.low:,.{digits}f}, {self.high:,.{digits}f}]"


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """The mean and its Student-t interval (``None`` bounds for fewer than two values)."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, None, None, 0)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, None, None, n)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half, n)


def summary(result: LabResult, level: float = 0.95) -> pl.DataFrame:
    """One row per strategy and metric: mean, low, high, seeds; also the extra totals a
    run has (messages by channel, agent tasks)."""
    rows = []
    for name in result.strategies:
        runs = result.by_strategy(name)
        keys = list(METRICS) + sorted(
            {k for r in runs for k in r.totals if k not in METRICS and "." in k}
        )
        for key in keys:
            iv = t_interval([r.totals.get(key, 0.0) for r in runs], level)
            rows.append(
                {
                    "strategy": name,
                    "metric": key,
                    "mean": iv.mean,
                    "low": iv.low,
                    "high": iv.high,
                    "seeds": iv.n,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "strategy": pl.String(),
            "metric": pl.String(),
            "mean": pl.Float64(),
            "low": pl.Float64(),
            "high": pl.Float64(),
            "seeds": pl.Int64(),
        },
    )


def paired(result: LabResult, a: str, b: str, metric: str, level: float = 0.95) -> Interval:
    """``b - a`` for ``metric``, seed by seed (the seeds both ran), as a t-interval."""
    left = {r.seed: r.totals.get(metric, 0.0) for r in result.by_strategy(a)}
    right = {r.seed: r.totals.get(metric, 0.0) for r in result.by_strategy(b)}
    diffs = [right[s] - left[s] for s in sorted(set(left) & set(right))]
    return t_interval(diffs, level)


def daily_bands(result: LabResult, column: str, level: float = 0.95) -> pl.DataFrame:
    """Per strategy and day: the cumulative ``column`` (mean across seeds and its
    t-interval)."""
    parts = []
    for r in result.runs:
        parts.append(
            r.daily.select(
                "day", pl.col(column).cum_sum().cast(pl.Float64).alias("value")
            ).with_columns(strategy=pl.lit(r.strategy), seed=pl.lit(r.seed))
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "strategy": pl.String(),
                "day": pl.Date(),
                "mean": pl.Float64(),
                "low": pl.Float64(),
                "high": pl.Float64(),
            }
        )
    frame = pl.concat(parts)
    n = frame.group_by("strategy", "day").agg(
        mean=pl.col("value").mean(), sd=pl.col("value").std(), n=pl.len()
    )
    t = pl.col("n").map_elements(
        lambda k: float(sps.t.ppf(0.5 + level / 2, k - 1)) if k > 1 else 0.0,
        return_dtype=pl.Float64,
    )
    half = t * pl.col("sd").fill_null(0.0) / pl.col("n").cast(pl.Float64).sqrt()
    return n.select(
        "strategy", "day", "mean", low=pl.col("mean") - half, high=pl.col("mean") + half
    ).sort("strategy", "day")
