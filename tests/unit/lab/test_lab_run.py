"""The lab's day loop on a small population: the real strategy, gate and capacity against
the simulator; zero violations, determinism given the seeds, the cost of contact, and a
comparison the parameters decide."""

from __future__ import annotations

from datetime import date

import pytest

from forbear.domain.capacity import default_capacity
from forbear.domain.strategy import parse_strategy
from forbear.sim.borrowers import Parameters, Population, load_parameters
from forbear.sim.lab import LabResult, LabStrategy, StrategyBlocked, run_lab
from forbear.sim.lab.stats import paired, summary, t_interval
from forbear.sim.lab.strategies import known_templates, load

START = date(2026, 12, 7)
DAYS = 10
SEEDS = [1, 2]

NOTHING = """
name: no_contact
segments:
  - {id: all, when: always, treatment: none}
treatments:
  - {id: none, actions: []}
"""


def _strategy(text: str) -> LabStrategy:
    s = parse_strategy(text, "test.yaml", known_templates())
    return LabStrategy(s.name, s, "test.yaml")


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.synthetic(300, seed=11)


@pytest.fixture(scope="module")
def params() -> Parameters:
    return load_parameters()


@pytest.fixture(scope="module")
def result(population: Population, params: Parameters) -> LabResult:
    chosen = [load("CN_default"), load("CN_call_heavy"), _strategy(NOTHING)]
    return run_lab(chosen, population, params, DAYS, SEEDS, START)


def test_every_strategy_and_seed_ran_with_no_violation(result: LabResult) -> None:
    assert {(r.strategy, r.seed) for r in result.runs} == {
        (s, seed) for s in ("CN_default", "CN_call_heavy", "no_contact") for seed in SEEDS
    }
    for run in result.runs:
        assert run.totals["violations"] == 0, run.strategy
        assert run.daily.height == DAYS
    # the strategies did contact borrowers and the gate did look at every contact
    heavy = result.by_strategy("CN_call_heavy")
    assert all(r.totals["contacts"] > 0 and r.totals["planned"] > 0 for r in heavy)
    assert all(r.totals["contacts"] == 0 for r in result.by_strategy("no_contact"))


def test_the_call_heavy_baseline_calls_more_and_offers_no_plans(result: LabResult) -> None:
    for seed in SEEDS:
        (friendly,) = [r for r in result.by_strategy("CN_default") if r.seed == seed]
        (heavy,) = [r for r in result.by_strategy("CN_call_heavy") if r.seed == seed]
        assert heavy.totals["tasks.call"] > friendly.totals.get("tasks.call", 0)
        assert heavy.totals["agent_minutes"] > friendly.totals["agent_minutes"]
        assert heavy.totals["plans_accepted"] == 0


def test_same_seeds_same_figures(population: Population, params: Parameters) -> None:
    default = load("CN_default")
    a = run_lab([default], population, params, 5, [3], START)
    b = run_lab([default], population, params, 5, [3], START)
    assert a.runs[0].totals == b.runs[0].totals
    assert a.runs[0].daily.equals(b.runs[0].daily)
    c = run_lab([default], population, params, 5, [4], START)
    assert c.runs[0].totals != a.runs[0].totals


def test_no_contact_recovers_less_when_the_parameters_say_contacts_help(
    population: Population, params: Parameters
) -> None:
    # contacts help strongly: every tone's payment effect, the most contacts can lift the
    # odds and how long an effect lasts at the top of their ranges, no reactance, and as
    # little complaining and going silent as the ranges allow
    ranges = params.ranges()
    top = ("effect.tone.", "effect.max", "effect.half_life_days", "effect.fatigue")
    bottom = ("complaint.base", "stop.base", "opt_out.base")
    helpful = params.with_values(
        {k: hi for k, (lo, hi) in ranges.items() if k.startswith(top)}
        | {k: lo for k, (lo, hi) in ranges.items() if k.startswith(bottom)}
    )
    chosen = [load("CN_default"), _strategy(NOTHING)]
    res = run_lab(chosen, population, helpful, DAYS, [1, 2, 3], START)
    diff = paired(res, "no_contact", "CN_default", "recovered_yuan")
    assert diff.mean > 0


def test_capacity_bounds_the_agents_work(population: Population, params: Parameters) -> None:
    none = default_capacity().model_copy(update={"channels": {"call": 0, "ai_call": 0}})
    res = run_lab([load("CN_call_heavy")], population, params, 3, [1], START, capacity=none)
    totals = res.runs[0].totals
    assert totals.get("tasks.call", 0) == 0 and totals.get("messages.ai_call", 0) == 0
    assert totals["violations"] == 0


def test_a_strategy_the_gate_would_block_wholesale_is_not_run(
    population: Population, params: Parameters
) -> None:
    # six AI calls a day: CN.FREQ.CONNECTED lets three a day through
    calls = "\n".join(
        f"      - {{on_dpd: {d}, channel: ai_call, template: CN.M1.AI_VOICE, purpose: remind}}"
        for d in range(1, 120)
        for _ in range(6)
    )
    text = f"""
name: robocaller
segments:
  - {{id: late, when: dpd >= 1, treatment: dial}}
  - {{id: rest, when: always, treatment: none}}
treatments:
  - {{id: none, actions: []}}
  - id: dial
    actions:
{calls}
"""
    with pytest.raises(StrategyBlocked, match=r"robocaller.*CN\.FREQ\.CONNECTED"):
        run_lab([_strategy(text)], population, params, 2, [1], START)


def test_intervals() -> None:
    iv = t_interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0
    assert iv.low == pytest.approx(2.0 - 4.302653 / 3**0.5, rel=1e-5)
    assert t_interval([5.0]).low is None
    assert t_interval([]).n == 0


def test_summary_has_every_metric_per_strategy(result: LabResult) -> None:
    table = summary(result)
    for name in result.strategies:
        rows = table.filter(table["strategy"] == name)
        assert {"recovered_yuan", "complaints_per_10k", "violations", "agent_minutes"} <= set(
            rows["metric"].to_list()
        )
