"""``forbear experiment`` as an operator meets it: list, report (table and --json),
promote; each refusal one clear line with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import forbear

pytestmark = pytest.mark.xdist_group("test_experiments_cli")
X = "m1_callback_timing"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("experiments")
    made = forbear(data, "demo", "--borrowers", "60", "--as-of", "2026-11-29", "--no-models",
                   "--no-staff")  # fmt: skip
    assert made.returncode == 0, made.stderr
    ran = forbear(data, "run", "--as-of", "2026-11-30")
    assert ran.returncode == 0, ran.stderr
    return data


def _one_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode != 0
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_list_and_report(data_dir: Path) -> None:
    listed = forbear(data_dir, "experiment", "list")
    assert listed.returncode == 0 and X in listed.stdout
    shown = forbear(data_dir, "experiment", "report", X)
    assert shown.returncode == 0, shown.stderr
    assert "champion" in shown.stdout and "control" in shown.stdout
    assert "数据尚不足" in shown.stdout and "not enough data yet" in shown.stdout
    as_json = forbear(data_dir, "experiment", "report", X, "--from", "2026-11-29", "--json")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["experiment"] == X and body["run_days"] == 2
    assert {a["arm"] for a in body["readout"]["arms"]} == {"champion", "challenger", "control"}


def test_refusals_are_one_clear_line(data_dir: Path) -> None:
    assert "experiment not found: nope" in _one_line(
        forbear(data_dir, "experiment", "report", "nope")
    )
    line = _one_line(forbear(data_dir, "experiment", "report", X, "--from", "2026-02-30"))
    assert "--from" in line and "not a date" in line
    line = _one_line(forbear(data_dir, "experiment", "report", X, "--from", "2026-12-01",
                             "--to", "2026-11-01"))  # fmt: skip
    assert "is after --to" in line
    line = _one_line(
        forbear(data_dir, "experiment", "promote", X, "--arm", "ghost", "--reason", "x")
    )
    assert "no arm 'ghost'" in line
    line = _one_line(forbear(data_dir, "experiment", "promote", X, "--arm", "challenger"))
    assert "give a reason" in line
    assert "No stored" in forbear(data_dir, "strategy", "list").stdout or "no stored" in (
        forbear(data_dir, "strategy", "list").stdout
    )


def test_promote_with_a_reason_stores_a_candidate(data_dir: Path) -> None:
    done = forbear(data_dir, "experiment", "promote", X, "--arm", "challenger",
                   "--reason", "pilot on a small book")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "m1_early_call" in done.stdout and "forbear strategy activate" in done.stdout
    listed = forbear(data_dir, "strategy", "list")
    assert "candidate" in listed.stdout
