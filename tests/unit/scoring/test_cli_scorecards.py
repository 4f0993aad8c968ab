"""``forbear model`` as a risk analyst runs it on a file: train with options and labels,
score a file to CSV and Parquet, export, report without a population, monitor refusals.
One small table (2,000 rows) and one data directory for the module."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from clirun import assert_one_clear_line, forbear

from .test_analyst import cards


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A data directory with model 1 trained on ``cards.csv`` (SEX excluded by the
    setting, EDUCATION and MARRIAGE categorical, labels from YAML); the training output."""
    base = tmp_path_factory.mktemp("cli-scorecards")
    table = base / "cards.csv"
    cards(2000, seed=21).with_row_index("app_id", offset=1000).write_csv(table)
    labels = base / "labels.yaml"
    labels.write_text(
        "PAY_0: {zh: 最近一期还款状态, en: Repayment status last month}\n"
        "LIMIT_BAL: {zh: 授信额度, en: Credit limit}\n"
        "EDUCATION: {zh: 学历, en: Education}\n",
        encoding="utf-8",
    )
    result = forbear(
        base, "model", "train", "--kind", "application", "--file", str(table),
        "--target", "default", "--categorical", "EDUCATION", "--categorical", "MARRIAGE",
        "--exclude", "app_id", "--labels", str(labels), "--trend", "auto_asc_desc",
        FORBEAR_SCORING_EXCLUDE='["SEX"]',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return base, table, result.stdout


def test_training_prints_tiers_warnings_and_exclusions(trained: tuple[Path, Path, str]) -> None:
    _, _, out = trained
    assert "excluded by configuration 按配置排除: SEX, app_id" in out
    assert "Risk tiers 风险等级" in out and "Train bad rate 训练坏账率" in out
    assert re.search(r"│\s+E │\s+floor 兜底 │", out)
    assert "MARRIAGE looks like a protected attribute" in " ".join(out.split())
    assert "SEX looks like" not in " ".join(out.split())


def test_model_score_writes_scores_tiers_and_worded_reasons(
    trained: tuple[Path, Path, str],
) -> None:
    base, table, _ = trained
    out_csv = base / "scored.csv"
    args = ["model", "score", "--file", str(table), "--to", str(out_csv), "--id", "app_id"]
    result = forbear(base, *args)
    assert_one_clear_line(result, "active model", "application")  # none activated yet
    result = forbear(base, *args, "--model", "1")
    assert result.returncode == 0, result.stderr
    assert "2,000 rows scored with model 1" in result.stdout
    scored = pl.read_csv(out_csv.read_bytes()[3:])  # UTF-8 with BOM, for Excel
    assert scored.columns[:5] == ["app_id", "score", "score_int", "tier", "pd"]
    assert scored["app_id"].to_list() == list(range(1000, 3000))
    assert set(scored["tier"]) <= {"A", "B", "C", "D", "E"}
    assert {"reason_1", "reason_1_zh", "reason_1_en", "reason_4_en"} <= set(scored.columns)
    pay = scored.filter(pl.col("reason_1") == "PAY_0")
    assert pay.height > 0
    assert set(pay["reason_1_zh"]) == {"最近一期还款状态"}
    assert set(pay["reason_1_en"]) == {"Repayment status last month"}

    out_pq = base / "scored.parquet"
    assert forbear(base, "model", "activate", "1").returncode == 0
    result = forbear(base, "model", "score", "--file", str(table), "--to", str(out_pq))
    assert result.returncode == 0, result.stderr
    again = pl.read_parquet(out_pq)
    assert again["line"].to_list() == list(range(2, 2002))  # no --id: the input's lines
    assert again["score"].to_list() == scored["score"].to_list()


def test_model_score_refusals_are_one_line_and_write_nothing(
    trained: tuple[Path, Path, str],
) -> None:
    base, table, _ = trained
    broken = base / "broken.csv"
    lines = table.read_text().splitlines()
    lines[7] = ",".join(lines[7].split(",")[:-2])
    broken.write_text("\n".join(lines) + "\n")
    to = base / "never.csv"
    one = ["--model", "1"]
    result = forbear(base, "model", "score", "--file", str(broken), "--to", str(to), *one)
    assert_one_clear_line(result, "broken.csv line 8", "fields where the header has 8")
    result = forbear(
        base, "model", "score", "--file", str(table), "--to", str(base / "x.xlsx"), *one
    )
    assert_one_clear_line(result, "--to", ".csv or .parquet")
    result = forbear(base, "model", "score", "--file", str(table), *one)
    assert_one_clear_line(result, "--to")
    assert not to.exists() and not (base / "x.xlsx").exists()


def test_export_and_the_report_without_a_file(trained: tuple[Path, Path, str]) -> None:
    base, _, _ = trained
    card = base / "card.csv"
    assert forbear(base, "model", "export", "1", "--to", str(card)).returncode == 0
    table = pl.read_csv(card.read_bytes()[3:])
    assert table["分数 Points"].dtype == pl.Int64
    assert (base / "card-tiers.csv").exists()
    report = base / "report.html"
    result = forbear(base, "model", "report", "1", "--to", str(report))
    assert result.returncode == 0, result.stderr
    html = report.read_text(encoding="utf-8")
    assert "风险等级" in html and "训练坏账率 train bad rate" in html


def test_monitor_refuses_a_target_with_four_values(trained: tuple[Path, Path, str]) -> None:
    base, table, _ = trained
    result = forbear(base, "model", "monitor", "1", "--file", str(table), "--target", "PAY_0")
    assert_one_clear_line(result, "PAY_0", "binary outcome", "found 5 values")
    result = forbear(
        base, "model", "monitor", "1", "--file", str(table), "--target", "PAY_0", "--bad", "3"
    )
    assert_one_clear_line(result, "PAY_0", "exactly two values")
    result = forbear(base, "model", "monitor", "1", "--file", str(table), "--target", "default")
    assert result.returncode == 0, result.stderr
    assert "Bad rate by tier 各等级坏账率" in result.stdout


def test_bad_options_are_refused(trained: tuple[Path, Path, str]) -> None:
    base, table, _ = trained
    args = ["model", "train", "--kind", "application", "--file", str(table), "--target", "default"]
    assert_one_clear_line(forbear(base, *args, "--iv-min", "2"), "--iv-min")
    assert_one_clear_line(forbear(base, *args, "--trend", "sideways"), "--trend", "auto")
    assert_one_clear_line(forbear(base, *args, "--exclude", "nope"), "nope", "no such column")
    assert_one_clear_line(
        forbear(base, *args, "--labels", str(base / "missing.yaml")), "missing.yaml"
    )
