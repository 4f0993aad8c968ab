"""``forbear lab run`` and ``forbear lab search`` as an operator runs them: figures as
JSON, the report written, and bad input refused in one clear line that names the file,
key and reason (nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import assert_one_clear_line, forbear
from forbear.domain.strategy import parse_strategy
from forbear.sim.lab.strategies import known_templates

SPACE = """moves:
  - id: m1_call_day
    kind: cadence
    path: treatments[m1_gentle].actions[4].on_dpd
    int: [4, 14]
"""


def test_lab_run_compares_two_strategies_as_json_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "lab.html"
    result = forbear(
        tmp_path, "lab", "run", "--strategy", "CN_default", "--strategy", "CN_call_heavy",
        "--synthetic", "150", "--days", "3", "--seeds", "2", "--as-of", "2026-12-07",
        "--json", "--report", str(report), "--sens-params", "effect.tone.reminder",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["loans"] == 150 and figures["seeds"] == [1, 2]
    assert {r["strategy"] for r in figures["runs"]} == {"CN_default", "CN_call_heavy"}
    assert all(r["totals"]["violations"] == 0 for r in figures["runs"])
    metrics = {(row["strategy"], row["metric"]) for row in figures["summary"]}
    assert ("CN_call_heavy", "complaints_per_10k") in metrics
    assert figures["sensitivity"]["rows"]
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_strategy_file_that_fails_the_check_is_reported_not_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nsegments:\n  - {id: all, when: always, treatment: t}\n"
        "treatments:\n  - id: t\n    actions:\n"
        "      - {day: 0, channel: sms, template: NO.SUCH.TEMPLATE, purpose: remind}\n",
        encoding="utf-8",
    )
    result = forbear(tmp_path, "lab", "run", "--strategy", str(bad), "--synthetic", "50")
    assert_one_clear_line(result, "bad.yaml", "line 7", "template", "NO.SUCH.TEMPLATE")
    missing = forbear(tmp_path, "lab", "run", "--strategy", "nope.yaml", "--synthetic", "50")
    assert_one_clear_line(missing, "nope.yaml", "cannot read")


def test_bad_options_and_parameter_files_are_refused(tmp_path: Path) -> None:
    both = forbear(
        tmp_path, "lab", "run", "--strategy", "CN_default", "--synthetic", "50",
        "--book", "sqlite:///x.db",
    )  # fmt: skip
    assert_one_clear_line(both, "--book / --synthetic")
    params = tmp_path / "params.yaml"
    params.write_text("version: x\nparameters:\n  colour: {value: 1}\n", encoding="utf-8")
    result = forbear(
        tmp_path, "lab", "run", "--strategy", "CN_default", "--synthetic", "50",
        "--params", str(params),
    )  # fmt: skip
    assert_one_clear_line(result, "params.yaml")
    minutes = forbear(
        tmp_path, "lab", "run", "--strategy", "CN_default", "--synthetic", "50",
        "--minutes", "fax=3",
    )  # fmt: skip
    assert_one_clear_line(minutes, "--minutes", "fax=3")


def test_an_empty_book_is_refused(tmp_path: Path) -> None:
    result = forbear(tmp_path, "lab", "run", "--strategy", "CN_default", "--days", "2")
    assert_one_clear_line(result, "no active loans")


def test_lab_search_writes_a_strategy_that_passes_the_check(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    best = tmp_path / "best.yaml"
    result = forbear(
        tmp_path, "lab", "search", "--base", "CN_default", "--space", str(space),
        "--trials", "2", "--days", "3", "--seeds", "1", "--synthetic", "120",
        "--price-complaint", "3000", "--price-contact", "0.5", "--to", str(best),
        "--as-of", "2026-12-07",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    parse_strategy(best.read_text(encoding="utf-8"), str(best), known_templates())
    check = forbear(tmp_path, "strategy", "check", str(best), "--as-of", "2026-12-07")
    assert check.returncode == 0, check.stderr
    assert "check passed" in check.stdout


def test_a_bad_space_file_is_refused_with_its_key(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE.replace("int: [4, 14]", "int: [14, 4]"), encoding="utf-8")
    result = forbear(
        tmp_path, "lab", "search", "--base", "CN_default", "--space", str(space),
        "--synthetic", "50", "--to", str(tmp_path / "best.yaml"),
    )  # fmt: skip
    assert_one_clear_line(result, "space.yaml", "moves[0].int", "above high")
    assert not (tmp_path / "best.yaml").exists()
