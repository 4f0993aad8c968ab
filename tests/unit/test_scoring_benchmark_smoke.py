"""The scoring benchmark's smoke mode runs and Forbear's points equal optbinning's.

Speed is measured, not asserted: this test checks only that the benchmark completes and
that the compiled scorecard gives the same points as optbinning's ``Scorecard`` fitted with
the same settings on the same rows (max abs difference <= 1e-6).
"""

from __future__ import annotations

from pathlib import Path

from benchsmoke import run_smoke


def test_scoring_benchmark_smoke_mode_completes_with_identical_points(tmp_path: Path) -> None:
    figures, stdout = run_smoke("scoring", tmp_path, timeout=300)
    assert "points identical to optbinning: yes" in stdout

    check = figures["check"]
    assert figures["points_identical"] is True
    assert check["rows_compared"] == figures["subset"] == figures["rows"]
    assert check["max_abs_diff_points"] <= 1e-6
    assert check["max_abs_diff_score"] <= 1e-6
    assert not check["features_only_in_forbear"]
    assert not check["features_only_in_optbinning"]
    assert {c["name"] for c in figures["contenders"]} == {
        "forbear, reasons=4",
        "forbear, no reasons",
        "optbinning",
        "toad",
    }
    assert all(c["rows"] == figures["rows"] for c in figures["contenders"])
    # the reason codes are fixed columns, filled where a feature lost points
    by_name = {c["name"]: c for c in figures["contenders"]}
    reasons = by_name["forbear, reasons=4"]
    assert sorted(reasons["output_columns"]) == [
        "pd", "reason_1", "reason_2", "reason_3", "reason_4", "score", "score_int", "tier"
    ]  # fmt: skip
    assert reasons["reasons_filled"]["reason_1"] > 0.9 * figures["rows"]
    assert sorted(by_name["forbear, no reasons"]["output_columns"]) == [
        "pd", "score", "score_int", "tier"
    ]  # fmt: skip
