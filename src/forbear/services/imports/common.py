"""What the loans and payments imports share: chunked look-ups, headers, batches."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from polars._typing import PolarsDataType
from sqlalchemy import Connection, insert, update

from forbear.domain.errors import ImportRejected, RowError
from forbear.domain.intake import ColumnSpec, normalise_headers
from forbear.domain.intake.result import LINE
from forbear.services.imports.files import read_table, write_rejects
from forbear.services.imports.report import ImportReport
from forbear.store import models

CHUNK = 5_000


def fetch_in(
    conn: Connection,
    query: Callable[[list[str]], Any],
    keys: Iterable[str],
    schema: Mapping[str, PolarsDataType],
) -> pl.DataFrame:
    """Run ``query(chunk)`` over the keys in chunks (databases limit IN-list sizes)."""
    keys = sorted(set(keys))
    parts = []
    for start in range(0, len(keys), CHUNK):
        rows = conn.execute(query(keys[start : start + CHUNK])).all()
        parts.append(pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row"))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts)


def read_checked_headers(
    path: Path, specs: tuple[ColumnSpec, ...], encoding: str | None
) -> tuple[pl.DataFrame, str]:
    frame, used = read_table(path, encoding=encoding)
    headers = [c for c in frame.columns if c != LINE]
    mapping, header_errors = normalise_headers(headers, specs)
    if header_errors:
        raise ImportRejected(path.name, header_errors)
    return frame.rename(mapping), used


def finish(
    conn: Connection,
    report: ImportReport,
    raw: pl.DataFrame,
    errors: list[RowError],
    *,
    path: Path,
    skip_bad: bool,
    rejects: Path | None,
    now: datetime,
) -> None:
    """Refuse the file, or record the rejects; then record the batch."""
    errors = sorted(errors, key=lambda e: (e.line, e.column))
    report.errors = errors
    report.rows_rejected = len({e.line for e in errors})
    if errors and not skip_bad:
        raise ImportRejected(path.name, errors)
    if errors:
        target = rejects or path.with_name(path.name + ".rejects.csv")
        report.rejects_file = write_rejects(target, raw, errors)
    if report.batch_id is None:  # nothing new and nothing rejected: the file changed nothing
        return
    table = models.Base.metadata.tables["import_batches"]
    conn.execute(
        update(table)
        .where(table.c.id == report.batch_id)
        .values(
            status=report.status,
            rows_total=report.rows_total,
            rows_imported=report.rows_imported,
            rows_skipped_existing=report.rows_skipped_existing,
            rows_rejected=report.rows_rejected,
            finished_at=now,
        )
    )


def open_batch(conn: Connection, kind: str, path: Path, started: datetime) -> int:
    table = models.Base.metadata.tables["import_batches"]
    result = conn.execute(
        insert(table)
        .values(
            kind=kind,
            source_name=path.name,
            file_sha256=sha256(path),
            status="rejected",
            started_at=started,
        )
        .returning(table.c.id)
    )
    return int(result.scalar_one())


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
