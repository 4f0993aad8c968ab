"""The lab's sensitivity, report and search on a tiny population: the report is offline,
the sensitivity varies what it says, the search returns a valid strategy and refuses bad
space files with the file, key and reason."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from forbear.domain.strategy import parse_strategy
from forbear.sim.borrowers import Parameters, Population, load_parameters
from forbear.sim.lab import LabResult, run_lab
from forbear.sim.lab.report import render
from forbear.sim.lab.search import SpaceError, apply, load_space, search
from forbear.sim.lab.sensitivity import Sensitivity, sensitivity, tornado
from forbear.sim.lab.strategies import known_templates, load, shipped_text

START = date(2026, 12, 7)
VARIED = ["effect.tone.reminder", "complaint.tone.firm_notice"]

SPACE = """
moves:
  - id: m1_call_day
    kind: cadence
    path: treatments[m1_gentle].actions[4].on_dpd
    int: [4, 14]
  - id: m1_voice
    kind: channel
    path: treatments[m1_gentle].actions[3]
    choices:
      - {channel: ai_call, template: CN.M1.AI_VOICE}
      - {channel: sms, template: CN.M1.REMIND.SMS}
      - {drop: true}
  - id: plan_when
    kind: plan
    path: segments[m1_hardship].when.all[2].any[1]
    float: [0.05, 0.5]
    format: "propensity < {value:.2f}"
  - id: legal_dpd
    kind: escalation
    path: segments[m3_legal].when.all[0]
    int: [90, 150]
    format: "dpd >= {value}"
"""


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.synthetic(200, seed=5)


@pytest.fixture(scope="module")
def params() -> Parameters:
    return load_parameters()


@pytest.fixture(scope="module")
def lab(population: Population, params: Parameters) -> tuple[LabResult, Sensitivity]:
    chosen = [load("CN_default"), load("CN_call_heavy")]
    base = run_lab(chosen, population, params, 5, [1], START)
    sens = sensitivity(chosen, population, params, 5, [1], START, base=base, only=VARIED)
    return base, sens


def test_sensitivity_varies_each_named_parameter_at_both_ends(
    lab: tuple[LabResult, Sensitivity], params: Parameters
) -> None:
    _, sens = lab
    rows = sens.rows
    assert set(rows["parameter"].to_list()) == set(VARIED)
    for name in VARIED:
        lo, hi = params.ranges()[name]
        assert sorted(set(rows.filter(rows["parameter"] == name)["value"].to_list())) == [lo, hi]
    t = tornado(sens, "CN_default", "CN_call_heavy")
    assert t.height == len(VARIED)
    assert set(sens.changes("recovered_yuan")) <= set(VARIED)
    # firmer complaints at the high end raise the call-heavy strategy's complaints
    firm = rows.filter(
        (rows["parameter"] == "complaint.tone.firm_notice")
        & (rows["metric"] == "complaints_per_10k")
        & (rows["strategy"] == "CN_call_heavy")
    )
    by_side = dict(zip(firm["side"].to_list(), firm["mean"].to_list(), strict=True))
    assert by_side["high"] >= by_side["low"]


def test_the_report_is_one_offline_file(lab: tuple[LabResult, Sensitivity]) -> None:
    result, sens = lab
    text = render(result, sens)
    assert text.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in text and "plotly.js" in text.lower()
    # nothing is fetched when it is opened: no script, style or image comes from elsewhere
    assert not re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=", text)
    assert "敏感性 Sensitivity" in text and "违规 Rule violations" in text
    for name in result.strategies:
        assert name in text


def test_space_moves_apply_to_the_base() -> None:
    base = shipped_text("CN_default")
    moves = load_space(SPACE, "space.yaml", base)
    text = apply(base, moves, {"m1_call_day": 9, "m1_voice": 2, "plan_when": 0.3, "legal_dpd": 120})
    strategy = parse_strategy(text, "moved", known_templates())
    spec = strategy.spec
    m1 = next(t for t in spec.treatments if t.id == "m1_gentle")
    assert len(m1.actions) == 6  # the AI call dropped, the call at day 9 is now index 3
    assert m1.actions[3].on_dpd == 9
    assert "propensity < 0.30" in text and "dpd >= 120" in text


@pytest.mark.parametrize(
    ("space", "key", "reason"),
    [
        ("moves: []", "moves", "non-empty list"),
        ("moves:\n  - {id: a, kind: tone, path: name, choices: [x]}", "moves[0].kind", "one of"),
        (
            "moves:\n  - {id: a, kind: cadence, path: 'treatments[nope].actions', int: [1, 2]}",
            "moves[0].path",
            "no item with id 'nope'",
        ),
        (
            "moves:\n  - {id: a, kind: cadence, path: 'treatments[m1_gentle].actions[4].on_dpd',"
            " int: [9, 3]}",
            "moves[0].int",
            "above high",
        ),
        (
            "moves:\n  - {id: a, kind: cadence, path: 'treatments[m1_gentle].actions[4].on_dpd',"
            " int: [3, 9], colour: red}",
            "moves[0].colour",
            "unknown field",
        ),
        (
            "moves:\n  - {id: a, kind: plan, path: 'segments[m1].when', float: [0.1, 0.2]}",
            "moves[0].path",
            "not a number",
        ),
        (
            "moves:\n  - {id: a, kind: channel, path: 'treatments[m1_gentle].actions[0]',"
            " choices: [{channel: fax}]}",
            "moves[0]",
            "not valid",
        ),
        ("moves: [", "(top)", "not valid YAML"),
    ],
)
def test_bad_space_files_are_refused_with_file_key_and_reason(
    space: str, key: str, reason: str
) -> None:
    with pytest.raises(SpaceError) as caught:
        load_space(space, "space.yaml", shipped_text("CN_default"))
    assert caught.value.source == "space.yaml"
    assert caught.value.key == key or (key == "(top)" and caught.value.key == "")
    assert reason in caught.value.reason


def test_search_returns_a_valid_strategy(
    population: Population, params: Parameters, tmp_path: Path
) -> None:
    base = load("CN_default")
    moves = load_space(SPACE, "space.yaml", base.strategy.text)
    found = search(
        base, moves, population, params, 5, [1], START,
        trials=3, price_complaint=2000.0, price_contact=1.0, templates=known_templates(),
    )  # fmt: skip
    assert len(found.trials) == 3
    assert found.best_objective >= found.base_objective
    strategy = parse_strategy(found.best_yaml, "best.yaml", known_templates())
    assert strategy.spec.segments  # a whole strategy, not a fragment
    (tmp_path / "best.yaml").write_text(found.best_yaml, encoding="utf-8")
    assert load(str(tmp_path / "best.yaml")).strategy.spec == strategy.spec
