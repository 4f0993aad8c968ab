"""Reading an import file (CSV or Parquet) into an all-string frame with line numbers.

Chinese core systems often write CSV in GBK; we accept UTF-8 (with or without a byte
order mark) and GB18030 (a superset of GBK and GB2312), and say clearly when a file is
neither rather than importing mojibake.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from forbear.domain.errors import ForbearError, RowError
from forbear.domain.intake.result import LINE
from forbear.domain.spreadsheet import safe_frame
from forbear.store.private_files import private_file

SUPPORTED = (".csv", ".txt", ".parquet", ".pq")


class UnreadableFile(ForbearError):
    """The file is missing, of an unknown format, or not in a supported encoding."""


def detect_encoding(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"the file is neither UTF-8 nor GBK/GB18030 (undecodable byte at offset {exc.start}); "
            "save it as UTF-8 or pass --encoding"
        ) from None
    return "gb18030"


def read_table(path: Path, *, encoding: str | None = None) -> tuple[pl.DataFrame, str]:
    """The file's rows as strings plus ``_line``; returns the frame and the encoding used."""
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    if not path.is_file():
        raise UnreadableFile(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(
            f"{path.name}: unsupported format {suffix or '(none)'}; use CSV or Parquet"
        )
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path), "parquet"
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile(f"{path.name}: the file is empty")
    if encoding is None:
        encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnreadableFile(
            f"{path.name}: cannot be read as {encoding}: {exc.__class__.__name__}"
        ) from None
    text = text.lstrip("\ufeff")
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            infer_schema=False,
            has_header=True,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        # The parser's own message may quote file content (personal data): say what is
        # wrong in our words instead.
        problem = (
            "a row has more fields than the header"
            if "more fields" in str(exc)
            else "malformed quoting or structure"
        )
        raise UnreadableFile(f"{path.name}: not a readable CSV file ({problem})") from None
    return _with_lines(frame), encoding


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(
            f"{path.name}: not a readable Parquet file ({exc.__class__.__name__})"
        ) from None
    # Keep the all-strings contract: typed columns become their text form, so every
    # value goes through the same parsing and checks as a CSV value.
    return _with_lines(frame.select(pl.all().cast(pl.String)))


def _with_lines(frame: pl.DataFrame) -> pl.DataFrame:
    # The header is line 1, so data row i (0-based) is line i + 2.
    return frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def write_rejects(path: Path, rows: pl.DataFrame, errors: list[RowError]) -> Path:
    """Write the rejected rows with their reasons, for a person to fix and re-import
    (text cells spreadsheet-safe, :mod:`forbear.domain.spreadsheet`: the file is opened
    in a spreadsheet program, and a rejected row may hold ``=HYPERLINK(...)``)."""
    reasons = (
        pl.DataFrame(
            {
                LINE: [e.line for e in errors],
                "_reason": [f"{e.column}: {e.reason}" for e in errors],
            },
            schema={LINE: pl.Int64, "_reason": pl.String},
        )
        .group_by(LINE)
        .agg(pl.col("_reason").str.join("; "))
    )
    out = rows.join(reasons, on=LINE, how="inner").sort(LINE)
    # names and ID numbers in clear: readable by the owner only, from the first byte
    with private_file(path) as handle:
        safe_frame(out).write_csv(handle)
    return path
