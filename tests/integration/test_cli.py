"""The command line as an operator meets it: clear one-line errors, never a traceback."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from clirun import assert_one_clear_line, forbear
from factories import csv_text, make_loan_row


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    result = forbear(data_dir, "demo", "--borrowers", "60", "--as-of", "2026-11-29")
    assert result.returncode == 0, result.stderr
    assert "Demo book as of 2026-11-29" in result.stdout
    assert "Last month's roll rates" in result.stdout
    return data_dir


def test_demo_builds_a_book_and_keeps_its_key_private(demo_dir: Path) -> None:
    key = demo_dir / "forbear.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (demo_dir / "forbear.db").exists()


def test_book_state_and_roll_rates_work_on_the_demo_book(demo_dir: Path) -> None:
    state = forbear(demo_dir, "book", "state", "--as-of", "2026-11-15")
    assert state.returncode == 0, state.stderr
    assert "stored" in state.stdout and "2026-11-15" in state.stdout
    rolls = forbear(demo_dir, "book", "roll-rates", "--from", "2026-08-31", "--to", "2026-09-30")
    assert rolls.returncode == 0, rolls.stderr
    assert "Roll rates" in rolls.stdout and "paid_off" in rolls.stdout


def test_rerunning_the_demo_imports_nothing_twice(demo_dir: Path) -> None:
    again = forbear(demo_dir, "demo", "--borrowers", "60", "--as-of", "2026-11-29")
    assert again.returncode == 0, again.stderr
    assert "0 imported" in again.stdout


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = forbear(tmp_path, "import", "loans", str(tmp_path / "nope.csv"))
    assert_one_clear_line(result, "no such file")


def test_a_bad_date_is_one_line(tmp_path: Path) -> None:
    result = forbear(tmp_path, "book", "state", "--as-of", "2026-13-01")
    assert_one_clear_line(result, "--as-of", "not a date")


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = forbear(
        tmp_path,
        "book",
        "state",
        "--as-of",
        "2026-11-01",
        FORBEAR_DATABASE_URL="postgresql://postgres:hunter2@127.0.0.1:1/forbear",
    )
    assert_one_clear_line(result)
    assert "hunter2" not in result.stderr


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = forbear(
        tmp_path, "book", "state", "--as-of", "2026-11-01", FORBEAR_ENVIRONMENT="production"
    )
    assert_one_clear_line(result, "FORBEAR_ENCRYPTION_KEY")


def test_production_refuses_a_default_key(tmp_path: Path) -> None:
    result = forbear(
        tmp_path,
        "book",
        "state",
        "--as-of",
        "2026-11-01",
        FORBEAR_ENVIRONMENT="production",
        FORBEAR_ENCRYPTION_KEY="changeme",
    )
    assert_one_clear_line(result, "default or empty")


def test_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = forbear(
        tmp_path, "book", "state", "--as-of", "2026-11-01", FORBEAR_LENDER_TIMEZONE="Mars/Base"
    )
    assert_one_clear_line(result, "FORBEAR_LENDER_TIMEZONE")


def test_a_rejected_import_lists_every_problem_and_stores_nothing(
    demo_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        csv_text(
            [
                make_loan_row(loan_ref="NEW1", principal="abc"),
                make_loan_row(loan_ref="NEW2", mobile="1"),
            ]
        ),
        encoding="utf-8",
    )
    result = forbear(demo_dir, "import", "loans", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "line 2, column principal: not an amount in yuan" in result.stderr
    assert "line 3, column mobile" in result.stderr
    assert "13812345678" not in result.stderr  # personal data is described, not quoted
    again = forbear(demo_dir, "import", "loans", str(bad), "--skip-bad")
    assert again.returncode == 0
    assert "0 imported" in again.stdout and "2 rejected" in again.stdout


def test_a_bad_or_missing_option_is_one_line(tmp_path: Path) -> None:
    assert_one_clear_line(forbear(tmp_path, "demo", "--borrowers", "many"), "--borrowers")
    assert_one_clear_line(forbear(tmp_path, "book", "state"), "Missing option '--as-of'")


def _application_file(path: Path) -> Path:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(5)
    income = rng.integers(2_000, 30_000, 2_000)
    bad = (rng.uniform(0, 1, 2_000) < 0.4 - income / 100_000).astype(int)
    pl.DataFrame(
        {"income": income, "age": rng.integers(20, 60, 2_000), "grade": bad * 3 - 1, "bad": bad}
    ).write_csv(path)
    return path


def test_model_train_list_and_export_an_application_scorecard(tmp_path: Path) -> None:
    file = _application_file(tmp_path / "apps.csv")
    trained = forbear(
        tmp_path, "model", "train", "--kind", "application", "--file", str(file),
        "--target", "bad", "--feature", "income", "--feature", "age",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "AUC" in trained.stdout and "income" in trained.stdout
    exported = forbear(tmp_path, "model", "export", "1", "--to", str(tmp_path / "card.csv"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "card.csv").read_text(encoding="utf-8").strip()


def test_model_train_with_a_target_that_is_not_binary_is_one_line(tmp_path: Path) -> None:
    file = _application_file(tmp_path / "apps.csv")
    result = forbear(
        tmp_path, "model", "train", "--kind", "application", "--file", str(file),
        "--target", "grade",
    )  # fmt: skip
    assert_one_clear_line(result, "grade")


def test_strategy_check_writes_nothing_and_the_default_strategy_is_shown(demo_dir: Path) -> None:
    import sqlite3

    def stored_states(day: str) -> int:
        with sqlite3.connect(demo_dir / "forbear.db") as db:
            return db.execute(
                "select count(*) from account_states where as_of = ?", (day,)
            ).fetchone()[0]

    check = forbear(demo_dir, "strategy", "check", "--as-of", "2026-10-15")
    assert check.returncode == 0, check.stderr
    assert "accounts per segment" in check.stdout and "check passed" in check.stdout
    assert stored_states("2026-10-15") == 0  # the states it computed were not kept
    shown = forbear(demo_dir, "strategy", "show-default")
    assert shown.returncode == 0 and "segments:" in shown.stdout
    listed = forbear(demo_dir, "strategy", "list")
    assert "shipped CN default is in force" in listed.stdout


def test_the_lender_configuration_is_checked_set_and_shown(tmp_path: Path) -> None:
    looser = tmp_path / "looser.yaml"
    looser.write_text(
        'pack: CN\noverrides:\n  CN.HOURS.QUIET:\n    end: "22:30"\n', encoding="utf-8"
    )
    assert_one_clear_line(forbear(tmp_path, "config", "check", str(looser)), "may only tighten")
    tighter = tmp_path / "lender.yaml"
    tighter.write_text(
        'pack: CN\noverrides:\n  CN.HOURS.QUIET:\n    windows: ["09:00-20:00"]\n', encoding="utf-8"
    )
    assert forbear(tmp_path, "config", "set", str(tighter)).returncode == 0
    shown = forbear(tmp_path, "config", "show")
    assert "version 1 (pack CN)" in shown.stdout and "09:00-20:00" in shown.stdout
    verify = forbear(tmp_path, "audit", "verify")
    assert verify.returncode == 0 and "1 events" in verify.stdout
