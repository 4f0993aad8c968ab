"""Spreadsheet-safe cells (forbear.domain.spreadsheet): formula triggers are escaped in
text, numbers stay numbers, and the frame rule equals the scalar rule value by value.

"What a spreadsheet does" is played by openpyxl: a text cell it would store as a formula
(``data_type == "f"``) is one a spreadsheet program would run.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from forbear.domain.spreadsheet import ESCAPE, TRIGGERS, needs_escape, safe_cell, safe_frame


def runs_as_formula(value: object) -> bool:
    cell = Workbook().active.cell(row=1, column=1)  # type: ignore[union-attr]
    cell.value = value
    return cell.data_type == "f"


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ('=HYPERLINK("http://evil.example","点击")', '\'=HYPERLINK("http://evil.example","点击")'),
        ("+1+2", "'+1+2"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\rabc", "'\rabc"),
        ("  =1+1", "'  =1+1"),
        ("\u3000＝1+1", "'\u3000＝1+1"),
        ("＋86", "'＋86"),
        ("-", "'-"),
        # plain numbers are read as the same number: nothing runs
        ("-12.50", "-12.50"),
        ("+8613800138000", "+8613800138000"),
        ("1234.56", "1234.56"),
        # ordinary text
        ("张三", "张三"),
        ("北京市朝阳区 a=b", "北京市朝阳区 a=b"),
        ("", ""),
    ],
)
def test_text_cells(given_: str, expected: str) -> None:
    assert safe_cell(given_) == expected
    assert not runs_as_formula(safe_cell(given_))


@pytest.mark.parametrize("value", [-5, -12.5, 0, None, date(2026, 1, 1), True])
def test_values_that_are_not_text_are_left_alone(value: object) -> None:
    assert safe_cell(value) is value


def test_every_trigger_is_escaped() -> None:
    for trigger in TRIGGERS + "\t\r":
        assert needs_escape(trigger + "x"), repr(trigger)


def test_an_unescaped_formula_would_run() -> None:
    # the oracle itself: without the helper the cell is a formula
    assert runs_as_formula("=1+1")


texts = st.text(
    alphabet=st.sampled_from(list("=+-@＝＋－＠\t\r\n 　0123456789.a张,\"'")), max_size=8
)


@given(st.lists(texts, min_size=1, max_size=20))
def test_the_frame_rule_equals_the_cell_rule(values: list[str]) -> None:
    frame = pl.DataFrame({"text": values, "n": list(range(-len(values), 0))})
    safe = safe_frame(frame)
    assert safe["text"].to_list() == [safe_cell(v) for v in values]
    assert safe["n"].to_list() == frame["n"].to_list()  # numbers stay numbers
    assert safe.schema == frame.schema


@given(texts)
def test_escaping_loses_nothing_and_never_leaves_a_formula(value: str) -> None:
    out = safe_cell(value)
    assert not runs_as_formula(out)
    assert out == value or (out == ESCAPE + value and needs_escape(value))


def test_column_names_are_escaped_too() -> None:
    frame = pl.DataFrame({"=cmd()": ["x"], "name": ["=1"]})
    assert safe_frame(frame).columns == ["'=cmd()", "name"]
    assert safe_frame(frame)["name"].to_list() == ["'=1"]


def test_the_import_rejects_file_is_formula_safe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv

    from forbear.domain.errors import RowError
    from forbear.domain.intake.result import LINE
    from forbear.services.imports.files import write_rejects

    rows = pl.DataFrame(
        {
            LINE: [2, 3],
            "name": ['=HYPERLINK("http://evil.example","x")', "李四"],
            "principal": ["-5", "1000.00"],
            "address": ["@SUM(1)", "北京"],
        }
    )
    errors = [RowError(2, "principal", "must be positive"), RowError(3, "mobile", "missing")]
    path = write_rejects(tmp_path / "loans.csv.rejects.csv", rows, errors)
    with path.open(encoding="utf-8", newline="") as handle:
        back = list(csv.DictReader(handle))
    assert [r["name"] for r in back] == ['\'=HYPERLINK("http://evil.example","x")', "李四"]
    assert [r["address"] for r in back] == ["'@SUM(1)", "北京"]
    assert [r["principal"] for r in back] == ["-5", "1000.00"]  # numbers stay numbers
    assert not any(runs_as_formula(v) for r in back for v in r.values())
