"""Spreadsheet-safe cells: no formula injection through the CSV and XLSX files Forbear
writes (issue 11, finding 5; OWASP "CSV Injection").

A spreadsheet program reads a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)``, ``=cmd|...``, ``@SUM(...)``), also after a leading tab,
carriage return or spaces, and some read the full-width forms (``＝``) typed through a
Chinese input method the same way. Names, addresses, notes and column names in our files
come from imports and from people typing, so any of them can start that way.

The rule, for every text cell of every CSV or XLSX file Forbear writes: text whose first
character is a tab or carriage return, or whose first non-blank character is one of
:data:`TRIGGERS`, gets a leading apostrophe (``'=1+1``), so the program shows it as text.
Two things are left alone:

- values that are not text (integers, floats, dates, ``None``): a negative amount stays
  a number;
- text that is a plain decimal number (``-12.50``, ``+8613800138000``): a spreadsheet reads
  it as that number, which runs nothing.

:func:`safe_cell` is the rule for one value; :func:`safe_frame` applies it to every text
column of a Polars frame (a test checks the two agree value by value). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import TypeVar

import polars as pl

TRIGGERS = "=+-@＝＋－＠"  # ASCII and full-width
ESCAPE = "'"
# A cell that starts a formula: tab or CR first, or a trigger after optional blanks
# (spaces, the ideographic space). Also understood by Polars (Rust regex syntax).
_FORMULA = re.compile(r"^(?:[\t\r]|[ \u3000]*[=+\-@＝＋－＠])")
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")

T = TypeVar("T")


def needs_escape(text: str) -> bool:
    """Would a spreadsheet program read ``text`` as the start of a formula?"""
    return bool(_FORMULA.match(text)) and not _PLAIN_NUMBER.match(text)


def safe_text(text: str) -> str:
    """``text`` as a cell that a spreadsheet shows as text (see the module docstring)."""
    return ESCAPE + text if needs_escape(text) else text


def safe_cell(value: T) -> T | str:
    """A cell value made safe: text by :func:`safe_text`, anything else unchanged."""
    if isinstance(value, str):
        return safe_text(value)
    return value


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with :func:`safe_text` applied to every text cell and column name."""
    renamed = {name: safe_text(name) for name in frame.columns if needs_escape(name)}
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if texts:
        frame = frame.with_columns(
            pl.when(
                pl.col(name).str.contains(_FORMULA.pattern)
                & ~pl.col(name).str.contains(_PLAIN_NUMBER.pattern)
            )
            .then(pl.lit(ESCAPE) + pl.col(name))
            .otherwise(pl.col(name))
            .alias(name)
            for name in texts
        )
    return frame.rename(renamed) if renamed else frame
