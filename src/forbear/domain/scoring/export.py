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

import math
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from forbear.domain.scoring.artefact import Artefact, BinKind
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


def printed_points(points: float) -> int:
    """Points as a scorecard prints them: whole points, halves rounded up."""
    return math.floor(points + 0.5)


def scorecard_table(artefact: Artefact) -> pl.DataFrame:
    """One row per bin as a scorecard is printed: feature, labels, bin, count, bads, bad
    rate, WoE, IV and whole points; the special and missing bins are left out where no
    training row fell in them (they score neutral points, see the Summary)."""
    rows = [
        {
            "feature": f.name,
            "label_zh": f.label_zh,
            "label_en": f.label_en,
            "bin": BIN_NAMES.get(b.kind, b.label),
            "count": b.count,
            "bad_count": b.event_count,
            "bad_rate": round(b.event_count / b.count, 4) if b.count else 0.0,
            "woe": round(b.woe, 4),
            "iv": round(b.iv, 4),
            "points": printed_points(b.points),
        }
        for f in artefact.features
        for b in f.bins
        if b.count > 0 or b.kind not in (BinKind.SPECIAL, BinKind.MISSING)
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
        "points": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


BIN_NAMES = {BinKind.MISSING: "缺失 Missing", BinKind.SPECIAL: "特殊值 Special"}

TIER_COLUMNS: dict[str, str] = {
    "tier": "等级 Tier",
    "min_score": "最低分 Min score",
    "rows": "训练样本数 Train rows",
    "bads": "训练坏样本数 Train bads",
    "bad_rate": "训练坏样本率 Train bad rate",
    "rows_test": "测试样本数 Test rows",
    "bads_test": "测试坏样本数 Test bads",
    "bad_rate_test": "测试坏样本率 Test bad rate",
}


def tier_table(artefact: Artefact) -> pl.DataFrame:
    """Rows, bads and bad rate per tier on the training and test splits (as training
    measured them; empty for artefacts trained before tiers carried them)."""
    stored = (artefact.metrics.model_extra or {}).get("tier_table", [])
    schema = {
        "tier": pl.String,
        "min_score": pl.Float64,
        "rows": pl.Int64,
        "bads": pl.Int64,
        "bad_rate": pl.Float64,
        "rows_test": pl.Int64,
        "bads_test": pl.Int64,
        "bad_rate_test": pl.Float64,
    }
    rows = [{k: r.get(k) for k in schema} for r in stored if isinstance(r, dict)]
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.with_columns(
        pl.col("min_score").round(1), pl.col("bad_rate", "bad_rate_test").round(4)
    )


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
        (f"tier {t.label} min score", "floor" if t.min_score is None else round(t.min_score, 1))
        for t in artefact.tiers
    ]
    for f in artefact.features:
        dropped = [
            b for b in f.bins if b.count == 0 and b.kind in (BinKind.SPECIAL, BinKind.MISSING)
        ]
        for b in dropped:
            rows.append((f"{f.name}: {b.kind.value} (no training rows)", printed_points(b.points)))
    return rows


def tiers_path(path: str | Path) -> Path:
    """Where :func:`write_csv` writes the tier table: ``<name>-tiers.csv`` beside it."""
    target = Path(path)
    return target.with_name(f"{target.stem}-tiers{target.suffix}")


def write_csv(artefact: Artefact, path: str | Path) -> Path:
    """The scorecard table as UTF-8 CSV with a BOM, headers in Chinese and English, and
    the tier table (rows, bads, bad rates) beside it (:func:`tiers_path`)."""
    target = Path(path)
    table = safe_frame(scorecard_table(artefact).rename(COLUMNS))
    target.write_bytes(b"\xef\xbb\xbf" + table.write_csv().encode("utf-8"))
    tiers = tier_table(artefact)
    if tiers.height:
        tiers_csv = safe_frame(tiers.rename(TIER_COLUMNS)).write_csv()
        tiers_path(target).write_bytes(b"\xef\xbb\xbf" + tiers_csv.encode("utf-8"))
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
    tiers = tier_table(artefact)
    if tiers.height:
        sheet = wb.create_sheet("Tiers")
        sheet.append([safe_cell(TIER_COLUMNS[c]) for c in tiers.columns])
        for row in tiers.iter_rows():
            sheet.append([safe_cell(value) for value in row])
        for i in range(1, len(tiers.columns) + 1):
            sheet.column_dimensions[get_column_letter(i)].width = 18
    wb.save(target)
    return target
