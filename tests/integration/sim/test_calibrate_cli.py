"""``forbear sim check`` and ``forbear sim calibrate`` as an operator runs them: a good
file passes, a bad one is refused with file, key and reason; calibrating a book without
history writes a valid file that keeps the shipped values and says what it could not fit."""

from __future__ import annotations

from pathlib import Path

from clirun import forbear
from forbear.sim.borrowers import load_parameters
from forbear.sim.borrowers.parameters import DEFAULT_PATH


def test_check_passes_the_shipped_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    ok = forbear(tmp_path, "sim", "check", str(DEFAULT_PATH))
    assert ok.returncode == 0, ok.stderr
    assert "parameters" in ok.stdout and "参数文件有效" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        DEFAULT_PATH.read_text(encoding="utf-8").replace(
            "answer.base: {value: 0.45", "answer.base: {value: 1.45"
        ),
        encoding="utf-8",
    )
    refused = forbear(tmp_path, "sim", "check", str(bad))
    assert refused.returncode != 0
    assert str(bad) in refused.stderr
    assert "parameters.answer.base.value" in refused.stderr
    assert "[0, 1]" in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = forbear(tmp_path, "sim", "check", str(tmp_path / "absent.yaml"))
    assert missing.returncode != 0 and "no such file" in missing.stderr


def test_calibrate_without_history_keeps_the_shipped_values(tmp_path: Path) -> None:
    out = tmp_path / "calibrated.yaml"
    made = forbear(tmp_path, "sim", "calibrate", "--as-of", "2026-11-30", "--to", str(out))
    assert made.returncode == 0, made.stderr
    assert "too few" in made.stdout
    params = load_parameters(out)
    shipped = load_parameters()
    assert dict(params.values) == dict(shipped.values)
    assert params.version == f"{shipped.version}+calibrated.2026-11-30"
    checked = forbear(tmp_path, "sim", "check", str(out))
    assert checked.returncode == 0, checked.stderr


def test_calibrate_refuses_bad_options_with_a_clear_message(tmp_path: Path) -> None:
    bad_date = forbear(tmp_path, "sim", "calibrate", "--as-of", "30/11/2026")
    assert bad_date.returncode != 0
    assert "--as-of" in bad_date.stderr and "Traceback" not in bad_date.stderr
    bad_params = forbear(tmp_path, "sim", "calibrate", "--params", str(tmp_path / "nope.yaml"))
    assert bad_params.returncode != 0 and "no such file" in bad_params.stderr
