"""The scorecard table as risk teams read it, to CSV and Excel.

CSV is written UTF-8 with a byte-order mark so Excel on a Chinese Windows opens the
labels correctly instead of guessing GBK. The Excel workbook has a "Scorecard" sheet
(one row per bin) and a "Summary" sheet (metrics, scaling, tiers, training data). These
writers are the only I/O in the domain: they write to the path they are given.

Every text cell, header and column name goes through :mod:`forbear.domain.spreadsheet`:
a feature named ``=HYPERLINK(...)`` (a column of the training file) is written as text,
never as a formula.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from forbear.domain.scoring.artefact import Artefact
from forbear.domain.spreadsheet import safe_cell, safe_frame

COLUMNS: dict[str, str] = {
    "feature": "特征 Feature",
    "label_zh": "中文名称",
    "label_en": "Label",
    "bin": "分箱 Bin",
    "count": "样本数 Count",
    "bad_count": "坏样本数 Bads",
    "bad_rate": "坏样本率 Bad rate",
    "woe": "WOE",
    "iv": "IV",
    "points": "分数 Points",
}


def scorecard_table(artefact: Artefact) -> pl.DataFrame:
    """One row per bin: feature, labels, bin, count, bads, bad rate, WoE, IV, points."""
    rows = [
        {
            "feature": f.name,
            "label_zh": f.label_zh,
            "label_en": f.label_en,
            "bin": b.label,
            "count": b.count,
            "bad_count": b.event_count,
            "bad_rate": b.event_count / b.count if b.count else 0.0,
            "woe": b.woe,
            "iv": b.iv,
            "points": b.points,
        }
        for f in artefact.features
        for b in f.bins
    ]
    schema = {
        "feature": pl.String,
        "label_zh": pl.String,
        "label_en": pl.String,
        "bin": pl.String,
        "count": pl.Int64,
        "bad_count": pl.Int64,
        "bad_rate": pl.Float64,
        "woe": pl.Float64,
        "iv": pl.Float64,
        "points": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def summary_rows(artefact: Artefact) -> list[tuple[str, str | float | int]]:
    m = artefact.metrics
    s = artefact.scaling
    rows: list[tuple[str, str | float | int]] = [
        ("model", artefact.name),
        ("kind", str(artefact.kind)),
        ("created_at", artefact.created_at.isoformat()),
        ("AUC", m.auc),
        ("KS", m.ks),
        ("Gini", m.gini),
        ("rows_train", m.rows_train),
        ("rows_test", m.rows_test),
        ("bad_rate", m.bad_rate),
        ("training_source", artefact.training.source),
        ("training_fingerprint", artefact.training.fingerprint),
        ("seed", artefact.training.seed),
    ]
    if s is not None:
        rows += [("base_points", s.base_points), ("base_odds", s.base_odds), ("pdo", s.pdo)]
    rows += [
        (f"tier {t.label} min score", "floor" if t.min_score is None else t.min_score)
        for t in artefact.tiers
    ]
    return rows


def write_csv(artefact: Artefact, path: str | Path) -> Path:
    """The scorecard table as UTF-8 CSV with a BOM, headers in Chinese and English."""
    target = Path(path)
    table = safe_frame(scorecard_table(artefact).rename(COLUMNS))
    target.write_bytes(b"\xef\xbb\xbf" + table.write_csv().encode("utf-8"))
    return target


def write_excel(artefact: Artefact, path: str | Path) -> Path:
    """A workbook with sheets "Scorecard" and "Summary"."""
    target = Path(path)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Scorecard"
    table = scorecard_table(artefact)
    ws.append([safe_cell(COLUMNS[c]) for c in table.columns])
    for row in table.iter_rows():
        ws.append([safe_cell(value) for value in row])
    for i, col in enumerate(table.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = 40 if "label" in col else 16
    ws.freeze_panes = "A2"
    summary = wb.create_sheet("Summary")
    summary.append(["item", "value"])
    for key, value in summary_rows(artefact):
        summary.append([safe_cell(key), safe_cell(value)])
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 70
    wb.save(target)
    return target
