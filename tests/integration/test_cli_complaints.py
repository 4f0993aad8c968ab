"""``forbear complaint`` as an operator meets it: filed with the SLA clock, listed without
personal data, worked through its lifecycle, one clear line for every refusal with nothing
stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import assert_one_clear_line, forbear
from factories import csv_text, make_loan_row

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEXT = "借款人称催收员深夜来电"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("complaints")
    loans = data / "loans.csv"
    loans.write_text(csv_text([make_loan_row()]), encoding="utf-8")
    for args in (
        ("import", "products", str(EXAMPLES / "products.yaml")),
        ("import", "loans", str(loans)),
    ):
        result = forbear(data, *args)
        assert result.returncode == 0, result.stderr
    return data


def listed(data_dir: Path) -> str:
    result = forbear(data_dir, "complaint", "list")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_complaint_is_filed_listed_and_worked(data_dir: Path) -> None:
    added = forbear(
        data_dir, "complaint", "add", "L0001", "--category", "harassment", "--text", TEXT
    )
    assert added.returncode == 0, added.stderr
    assert "complaint 1 on L0001 (harassment, regulator): answer by" in added.stdout
    shown = listed(data_dir)
    assert "L0001" in shown and "15 day(s) left" in shown and TEXT not in shown
    extended = forbear(data_dir, "complaint", "extend", "1", "--reason", "录音调取中")
    assert extended.returncode == 0 and "已延期" in extended.stdout
    same_person = forbear(data_dir, "complaint", "approve", "1")
    assert_one_clear_line(same_person, "someone other")
    bad = forbear(
        data_dir, "complaint", "resolve", "1", "--resolution", "ok", "--root-cause", "luck"
    )
    assert_one_clear_line(bad, "--root-cause")
    resolved = forbear(
        data_dir,
        "complaint",
        "resolve",
        "1",
        "--resolution",
        "已致歉",
        "--root-cause",
        "agent_conduct",
    )
    assert resolved.returncode == 0, resolved.stderr
    assert "answered" in listed(data_dir)
    assert forbear(data_dir, "complaint", "close", "1").returncode == 0
    assert_one_clear_line(forbear(data_dir, "complaint", "close", "1"), "closed")


BAD_INPUT = [
    (("L0001", "--category", "rude", "--text", TEXT), ("category",)),
    (("L0001", "--category", "privacy", "--text", " "), ("description",)),
    (("L0001", "--category", "privacy", "--text", TEXT, "--source", "x"), ("source",)),
    (("L9999", "--category", "privacy", "--text", TEXT), ("L9999",)),
    (("L0001", "--category", "privacy", "--text", TEXT, "--attempt", "77"), ("77",)),
]


def test_bad_input_is_one_clear_line_and_stores_nothing(data_dir: Path) -> None:
    before = listed(data_dir)
    for args, fragments in BAD_INPUT:
        result = forbear(data_dir, "complaint", "add", *args)
        assert_one_clear_line(result, *fragments)
        assert TEXT not in result.stderr
    assert listed(data_dir) == before
