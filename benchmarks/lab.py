"""Benchmark: the strategy lab, simulated borrower-days per second.

Run from the repository root::

    .venv/bin/python benchmarks/lab.py                      # 20,000 loans, 90 days, CN_default
    .venv/bin/python benchmarks/lab.py --strategy CN_call_heavy
    .venv/bin/python benchmarks/lab.py --loans 5000 --days 30
    .venv/bin/python benchmarks/lab.py --smoke              # 400 loans, 5 days, used by a test
    .venv/bin/python benchmarks/lab.py --json out.json      # also write the figures

What is measured, each in this process one after the other (same population, same day):

- **lab**: :func:`forbear.sim.lab.run_one`: every simulated day the world's frames, the
  real kernel (strategy + gate), capacity allocation, the gate's independent re-check of
  every delivered action, and the simulator's step; seconds per phase, borrower-days
  (loans x days) per second. Target: a 90-day run of 20,000 loans in under 60 s.
- **baseline "kernel alone"**: the part the daily run itself does, nothing of the lab:
  ``kernel.decide`` and ``allocate`` on the first day's frames, repeated ``days`` times
  (no simulator, no re-check). The ratio lab / kernel alone is the simulator's and the
  re-check's overhead on top of the decisions a real day needs anyway.

The population is :meth:`forbear.sim.borrowers.Population.synthetic` (seeded), so runs
compare. Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from _measure import memory, print_table

START = date(2026, 12, 7)


def lab(loans: int, days: int, strategy: str, seed: int) -> dict[str, Any]:
    from forbear.domain.capacity import default_capacity
    from forbear.domain.compliance.config import default_rules
    from forbear.sim.borrowers import Population, World, load_parameters
    from forbear.sim.lab import run_one
    from forbear.sim.lab.strategies import load

    population = Population.synthetic(loans, seed)
    params = load_parameters()
    chosen = load(strategy)
    rules, capacity = default_rules(), default_capacity()
    world = World(params, population, START, seed)
    phases: dict[str, float] = {}
    began = time.perf_counter()
    run = run_one(chosen, world, START, days, rules, capacity, seed=seed, timings=phases)
    seconds = time.perf_counter() - began
    return {
        "loans": loans,
        "days": days,
        "strategy": strategy,
        "seconds": seconds,
        "borrower_days_per_s": loans * days / seconds,
        "phases": phases,
        "violations": run.totals["violations"],
        "contacts": run.totals["contacts"],
        "recovered_yuan": run.totals["recovered_yuan"],
        **memory(),
    }


def kernel_alone(loans: int, days: int, strategy: str, seed: int) -> dict[str, Any]:
    """The baseline: the daily run's own decisions (kernel + capacity), day-0 frames."""
    from forbear.batch import kernel
    from forbear.batch.decisions import capacity_input
    from forbear.batch.engines import CONTACT_HOUR
    from forbear.domain.capacity import allocate, default_capacity
    from forbear.domain.compliance.config import default_rules
    from forbear.domain.strategy import compile_strategy
    from forbear.sim.borrowers import Population, World, load_parameters
    from forbear.sim.lab.strategies import load

    population = Population.synthetic(loans, seed)
    world = World(load_parameters(), population, START, seed)
    frames = world.frames(START)
    compiled = compile_strategy(load(strategy).strategy)
    rules, capacity = default_rules(), default_capacity()
    began = time.perf_counter()
    for _ in range(days):
        decided = kernel.decide(frames, compiled, rules, START, CONTACT_HOUR)
        fits = capacity_input(decided.gated, decided.assigned, frames.carried)
        allocate(fits, capacity, None)
    seconds = time.perf_counter() - began
    return {
        "loans": loans,
        "days": days,
        "seconds": seconds,
        "borrower_days_per_s": loans * days / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--strategy", default="CN_default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="400 loans, 5 days")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    loans, days = (400, 5) if args.smoke else (args.loans, args.days)
    figures = {
        "lab": lab(loans, days, args.strategy, args.seed),
        "baseline": kernel_alone(loans, days, args.strategy, args.seed),
    }
    figures["ratio_seconds_lab_over_kernel"] = (
        figures["lab"]["seconds"] / figures["baseline"]["seconds"]
    )
    f = figures["lab"]
    print_table(
        f"The strategy lab: {loans:,} loans x {days} days, {args.strategy}",
        ["contender", "seconds", "borrower-days/s", "peak MB"],
        [
            [
                "lab (frames + kernel + capacity + re-check + step)",
                f"{f['seconds']:.1f}",
                f"{f['borrower_days_per_s']:,.0f}",
                f"{f['peak_mb']:,.0f}",
            ],
            [
                "baseline: kernel alone (kernel + capacity, day-0 frames)",
                f"{figures['baseline']['seconds']:.1f}",
                f"{figures['baseline']['borrower_days_per_s']:,.0f}",
                "",
            ],
        ],
    )
    print(
        "phases (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(f["phases"].items(), key=lambda x: -x[1]))
    )
    print(
        f"lab / kernel alone: {figures['ratio_seconds_lab_over_kernel']:.2f}x; "
        f"violations {int(f['violations'])}; contacts {int(f['contacts']):,}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
