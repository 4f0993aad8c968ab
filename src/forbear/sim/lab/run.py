"""The lab's day loop: strategies through the real kernel, gate and capacity, against the
simulated borrowers (:mod:`forbear.sim.borrowers`).

For each strategy and seed, day by day:

1. ``world.frames(day)``: the kernel's inputs from the simulated world (accounts, contact
   points, zones, the contacts the simulation made as the gate's history, flags, holds),
   with the lab's own carried work (yesterday's allowed actions capacity did not fit);
2. :func:`forbear.batch.kernel.decide`: the compiled strategy's segments, arms and
   actions, and the compliance gate's answer for each planned contact;
3. :func:`forbear.domain.capacity.allocate`: channel limits and agents, yesterday's
   agent kept where possible (the daily run's step 5, same inputs);
4. every delivered action is checked again by the gate on its own (a plan of the
   delivered contacts only, against the same history, flags and holds): a blocked one is
   a *violation*. The gate is the same gate, so the count must be zero; it is counted and
   reported, never assumed;
5. ``world.step(day, delivered)``: the borrowers' answers (payments, promises, complaints,
   opt-outs ...).

Seeds share the population; a seed drives the world's randomness, so two strategies run
with the same seeds face the same draws where their contacts agree (common random
numbers: the paired differences in :mod:`forbear.sim.lab.stats` are tighter than the
separate intervals).
"""

from __future__ import annotations

import math
import time as clock
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from typing import Any

import polars as pl

from forbear.batch import kernel
from forbear.batch.contacts import plan
from forbear.batch.decisions import capacity_input, due_moments
from forbear.batch.engines import CONTACT_HOUR
from forbear.domain.capacity import CapacityConfig, allocate, default_capacity
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.compliance.gate import gate
from forbear.domain.errors import ForbearError
from forbear.domain.strategy import Strategy, compile_strategy
from forbear.domain.strategy.schema import NOT_CONTACTS

# Agent minutes per task of the agent channels: the lab's cost assumption (the capacity
# model counts tasks, not minutes). A connected collection call in CN call centres runs a
# few minutes with dialling and wrap-up; a field visit takes travel; a legal file review
# is desk work. Override with ``minutes=`` (``forbear lab run --minutes call=8``).
AGENT_MINUTES: dict[str, float] = {"call": 6.0, "visit": 90.0, "legal_review": 30.0}

_CARRIED: dict[str, pl.DataType] = {**kernel.ACTIONS, "carried_days": pl.Int64()}
_CONTACT = ~pl.col("channel").is_in([c.value for c in NOT_CONTACTS])
EVENTS = ("pay", "promise", "keep", "break", "accept_plan", "complain", "opt_out", "stop_answering")


class StrategyBlocked(ForbearError):
    """The gate would block a strategy's contacts wholesale: reported, not run."""

    def __init__(self, name: str, share: float, planned: int, rules: dict[str, int]) -> None:
        top = ", ".join(f"{r} ({n})" for r, n in sorted(rules.items(), key=lambda x: -x[1])[:5])
        super().__init__(
            f"strategy {name}: the gate would block {share:.0%} of its {planned} planned "
            f"contacts on the first simulated day (rules: {top or 'none'}); not run"
        )
        self.name, self.share, self.planned, self.rules = name, share, planned, rules


@dataclass(frozen=True)
class LabStrategy:
    """A strategy to run: its name in the report, the validated strategy, its file."""

    name: str
    strategy: Strategy
    source: str = ""


@dataclass
class SeedRun:
    """One strategy under one seed: totals and the day-by-day series."""

    strategy: str
    seed: int
    totals: dict[str, float]
    daily: pl.DataFrame  # day, recovered_yuan, contacts, complaints, opt_outs, promises
    blocked_by_rule: dict[str, int] = field(default_factory=dict)
    world_totals: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class LabResult:
    strategies: list[str]
    runs: list[SeedRun]
    days: int
    start: date
    borrowers: int
    loans: int
    params_version: str
    notes: list[str] = field(default_factory=list)

    def by_strategy(self, name: str) -> list[SeedRun]:
        return [r for r in self.runs if r.strategy == name]


def _empty_carried() -> pl.DataFrame:
    return pl.DataFrame(schema=_CARRIED)


def _rule_counts(gated: pl.DataFrame) -> Counter[str]:
    blocked = gated.filter(pl.col("allowed").is_not_null() & ~pl.col("allowed"))
    if blocked.height == 0:
        return Counter()
    rules = blocked.select(pl.col("blocked_by").explode()).drop_nulls().to_series().to_list()
    return Counter(rules)


def precheck(
    ls: LabStrategy,
    frames: kernel.DayFrames,
    day: date,
    rules: CompiledRules,
    *,
    max_blocked_share: float = 0.3,
    hour: time = CONTACT_HOUR,
) -> tuple[int, int]:
    """The gate's answer to the strategy's first simulated day (``forbear strategy
    check``'s test on the simulated book): raise :class:`StrategyBlocked` when it would
    block more than ``max_blocked_share`` of the planned contacts. Returns (planned,
    blocked)."""
    decided = kernel.decide(frames, compile_strategy(ls.strategy), rules, day, hour)
    contacts = decided.gated.filter(pl.col("allowed").is_not_null())
    planned, blocked = contacts.height, int((~contacts["allowed"]).sum())
    if planned and blocked / planned > max_blocked_share:
        raise StrategyBlocked(ls.name, blocked / planned, planned, dict(_rule_counts(contacts)))
    return planned, blocked


def recheck(
    delivered: pl.DataFrame,
    frames: kernel.DayFrames,
    rules: CompiledRules,
    day: date,
    hour: time = CONTACT_HOUR,
) -> int:
    """Violations among the delivered actions: each contact planned again on its own
    (the delivered contacts only) and put to the gate against the day's history, flags
    and holds; a contact the gate blocks, or one sent without the contact point its
    channel needs, is a violation."""
    contacts = delivered.filter(_CONTACT)
    if contacts.height == 0:
        return 0
    actions = contacts.select([pl.col(c).cast(t) for c, t in kernel.ACTIONS.items()])
    f = frames.conformed()
    # every gate input is joined by the contact's debtor or loan: the delivered debtors'
    # rows are all the gate reads (as in kernel.decide)
    who = actions["borrower_id"].unique().implode()
    loans = actions["loan_id"].unique().implode()
    mine = pl.col("borrower_id").is_in(who)
    planned = plan(actions, f.points.filter(mine), f.zones.filter(mine), day, hour)
    missing = int(planned["needs_point_missing"].sum())
    to_gate = planned.filter(~pl.col("needs_point_missing")).drop("needs_point_missing")
    if to_gate.height == 0:
        return missing
    history = f.history.filter(mine | pl.col("loan_id").is_in(loans))
    flags = f.flags.filter(pl.col("loan_id").is_in(loans))
    answer = gate(to_gate.lazy(), history.lazy(), flags.lazy(), f.holds.filter(mine).lazy(), rules)
    return missing + int((~answer.collect()["allowed"]).sum())


def _delivered(decisions: pl.DataFrame, zones: pl.DataFrame, day: date, hour: time) -> pl.DataFrame:
    sends = decisions.filter(pl.col("scheduled"))
    if sends.height == 0:
        return sends.with_columns(
            party=pl.lit("debtor"), at=pl.lit(None, dtype=pl.Datetime("us", "UTC"))
        )
    moments = due_moments(sends, zones, day, hour).rename({"due_at": "at"})
    return moments.with_columns(party=pl.lit("debtor"))


def run_one(
    ls: LabStrategy,
    world: Any,
    start: date,
    days: int,
    rules: CompiledRules,
    capacity: CapacityConfig,
    *,
    seed: int = 0,
    hour: time = CONTACT_HOUR,
    minutes: dict[str, float] | None = None,
    timings: dict[str, float] | None = None,
) -> SeedRun:
    """Run one strategy for ``days`` days in one world (already built with its seed).
    ``timings``, when given, gains the seconds spent per phase (frames, decide, allocate,
    recheck, step, other)."""
    began = clock.perf_counter()
    spent = timings if timings is not None else {}

    def lap(phase: str, since: float) -> float:
        now = clock.perf_counter()
        spent[phase] = spent.get(phase, 0.0) + now - since
        return now

    compiled = compile_strategy(ls.strategy)
    per_task = {**AGENT_MINUTES, **(minutes or {})}
    carried = _empty_carried()
    previous = pl.DataFrame(schema={"loan_id": pl.Int64(), "agent_id": pl.String()})
    counts: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    recovered_fen = 0.0
    agent_minutes = 0.0
    overdue_start: float | None = None
    series: list[dict[str, Any]] = []
    for i in range(days):
        day = start + timedelta(days=i)
        t = clock.perf_counter()
        frames = replace(world.frames(day), carried=carried.drop("carried_days"))
        t = lap("frames", t)
        if overdue_start is None:
            accounts = frames.accounts
            overdue_start = float(accounts["overdue_total"].fill_null(0).sum())
            counts["accounts_in_arrears_start"] = int(
                accounts.filter(pl.col("dpd").fill_null(0) > 0).height
            )
        t = lap("other", t)
        decided = kernel.decide(frames, compiled, rules, day, hour)
        t = lap("decide", t)
        gated = decided.gated
        contacts = gated.filter(pl.col("allowed").is_not_null())
        counts["planned"] += contacts.height
        counts["blocked"] += int((~contacts["allowed"]).sum()) if contacts.height else 0
        by_rule.update(_rule_counts(contacts))
        fits = capacity_input(gated, decided.assigned, carried)
        allocated = allocate(fits, capacity, previous)
        t = lap("allocate", t)
        decisions = gated.join(
            allocated.select(
                "loan_id",
                pl.col("action_index").cast(pl.Int64),
                "scheduled",
                pl.col("agent_id").cast(pl.String),
                pl.col("team_id").cast(pl.String),
                pl.col("carried").alias("_carried"),
            ),
            on=["loan_id", "action_index"],
            how="left",
        ).with_columns(pl.col("scheduled").fill_null(False), pl.col("_carried").fill_null(False))
        delivered = _delivered(decisions, frames.zones, day, hour)
        t = lap("other", t)
        counts["violations"] += recheck(delivered, frames, rules, day, hour)
        t = lap("recheck", t)
        events = world.step(day, delivered.drop("_carried"))
        t = lap("step", t)
        # the day's figures
        sent = delivered.filter(_CONTACT)
        counts["contacts"] += sent.height
        for channel, n in Counter(delivered["channel"].to_list()).items():
            counts[f"tasks.{channel}"] += n
        agent = delivered.filter(pl.col("channel").is_in(list(per_task)))
        counts["agent_tasks"] += agent.height
        minutes_today = sum(per_task[c] * n for c, n in Counter(agent["channel"].to_list()).items())
        agent_minutes += minutes_today
        day_events = Counter(events["event"].to_list()) if events.height else Counter()
        paid = (
            float(events.filter(pl.col("event") == "pay")["amount"].fill_null(0).sum())
            if events.height
            else 0.0
        )
        recovered_fen += paid
        for e in EVENTS:
            counts[f"events.{e}"] += day_events.get(e, 0)
        series.append(
            {
                "day": day,
                "recovered_yuan": paid / 100.0,
                "contacts": sent.height,
                "complaints": day_events.get("complain", 0),
                "opt_outs": day_events.get("opt_out", 0),
                "promises": day_events.get("promise", 0),
                "agent_minutes": minutes_today,
                "carried": int(decisions["_carried"].sum()),
            }
        )
        # tomorrow's carried work: allowed, not scheduled; its streak grows by one
        nxt = decisions.filter(pl.col("_carried")).select(
            [pl.col(c).cast(dt) for c, dt in kernel.ACTIONS.items()]
        )
        carried = (
            nxt.join(
                carried.select("loan_id", "action_index", "carried_days"),
                on=["loan_id", "action_index"],
                how="left",
            )
            .with_columns((pl.col("carried_days").fill_null(0) + 1).cast(pl.Int64))
            .select(list(_CARRIED))
        )
        previous = delivered.filter(pl.col("agent_id").is_not_null()).select("loan_id", "agent_id")
        lap("other", t)
    totals = _totals(counts, recovered_fen, overdue_start or 0.0, agent_minutes)
    world_totals = {k: float(v) for k, v in (world.totals() or {}).items() if _number(v)}
    return SeedRun(
        strategy=ls.name,
        seed=seed,
        totals=totals,
        daily=pl.DataFrame(series),
        blocked_by_rule=dict(by_rule),
        world_totals=world_totals,
        seconds=clock.perf_counter() - began,
    )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def _totals(
    counts: Counter[str], recovered_fen: float, overdue_start: float, agent_minutes: float
) -> dict[str, float]:
    contacts = counts["contacts"]
    out: dict[str, float] = {
        "recovered_yuan": recovered_fen / 100.0,
        "recovery_rate": recovered_fen / overdue_start if overdue_start else 0.0,
        "contacts": float(contacts),
        "complaints": float(counts["events.complain"]),
        "complaints_per_10k": 10_000.0 * counts["events.complain"] / contacts if contacts else 0.0,
        "opt_outs": float(counts["events.opt_out"]),
        "promises": float(counts["events.promise"]),
        "promises_kept": float(counts["events.keep"]),
        "promises_broken": float(counts["events.break"]),
        "plans_accepted": float(counts["events.accept_plan"]),
        "stopped_answering": float(counts["events.stop_answering"]),
        "payments": float(counts["events.pay"]),
        "agent_minutes": agent_minutes,
        "agent_tasks": float(counts["agent_tasks"]),
        "planned": float(counts["planned"]),
        "blocked": float(counts["blocked"]),
        "violations": float(counts["violations"]),
        "overdue_start_yuan": overdue_start / 100.0,
        "accounts_in_arrears_start": float(counts["accounts_in_arrears_start"]),
    }
    for key, n in counts.items():
        if key.startswith("tasks."):
            out[f"messages.{key[6:]}" if key[6:] not in AGENT_MINUTES else key] = float(n)
    return out


WorldFactory = Callable[[Any, Any, date, int], Any]


def _job(
    ls: LabStrategy,
    params: Any,
    population: Any,
    start: date,
    seed: int,
    days: int,
    rules: CompiledRules,
    capacity: CapacityConfig,
    options: dict[str, Any],
) -> SeedRun:
    """One (strategy, seed) in a worker process."""
    w = _world_factory()(params, population, start, seed)
    return run_one(ls, w, start, days, rules, capacity, seed=seed, **options)


def _tell(progress: Callable[[str], None] | None, run: SeedRun) -> None:
    if progress:
        progress(
            f"{run.strategy} seed {run.seed}: recovered {run.totals['recovered_yuan']:,.0f} yuan, "
            f"{int(run.totals['complaints'])} complaints, {run.seconds:.1f} s"
        )


def _world_factory() -> WorldFactory:
    from forbear.sim.borrowers import World

    return World


def run_lab(
    strategies: Sequence[LabStrategy],
    population: Any,
    params: Any,
    days: int,
    seeds: Iterable[int],
    start: date,
    *,
    rules: CompiledRules | None = None,
    capacity: CapacityConfig | None = None,
    hour: time = CONTACT_HOUR,
    minutes: dict[str, float] | None = None,
    max_blocked_share: float = 0.3,
    world: WorldFactory | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> LabResult:
    """Every strategy under every seed for ``days`` days from ``start``.

    A strategy whose first simulated day the gate would block wholesale (more than
    ``max_blocked_share`` of its planned contacts) raises :class:`StrategyBlocked` before
    anything runs. ``workers`` > 1 runs the (strategy, seed) pairs in that many processes
    (the default world only); the result is the same as with one."""
    if days < 1:
        raise ValueError("days must be at least 1")
    seed_list = list(seeds)
    if not seed_list:
        raise ValueError("at least one seed")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"two strategies share a name: {names}")
    rules = rules or default_rules()
    capacity = capacity or default_capacity()
    make = world or _world_factory()
    probe = make(params, population, start, seed_list[0])
    first = probe.frames(start)
    if first.accounts.height == 0:
        raise ForbearError(
            f"the population has no active loans on {start.isoformat()}: nothing to simulate "
            "(build a book with forbear demo, or use --synthetic N)"
        )
    for ls in strategies:
        precheck(ls, first, start, rules, max_blocked_share=max_blocked_share, hour=hour)
    accounts = first.accounts
    result = LabResult(
        strategies=names,
        runs=[],
        days=days,
        start=start,
        borrowers=int(accounts["borrower_id"].n_unique()),
        loans=accounts.height,
        params_version=str(getattr(params, "version", "")),
    )
    jobs = [(ls, seed) for ls in strategies for seed in seed_list]
    options: dict[str, Any] = {"hour": hour, "minutes": minutes}
    if workers > 1 and world is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")  # no fork of a threaded Polars
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(
                    _job, ls, params, population, start, seed, days, rules, capacity, options
                )
                for ls, seed in jobs
            ]
            for future in futures:
                run = future.result()
                result.runs.append(run)
                _tell(progress, run)
        return result
    for ls, seed in jobs:
        w = make(params, population, start, seed)
        run = run_one(ls, w, start, days, rules, capacity, seed=seed, **options)
        result.runs.append(run)
        _tell(progress, run)
    return result
