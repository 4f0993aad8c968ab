"""Importing payments, all or nothing, idempotently."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, select

from forbear.domain.errors import ImportRejected, RowError
from forbear.domain.intake import PAYMENT_COLUMNS, validate_payments
from forbear.domain.intake.result import LINE, drop_lines
from forbear.services.imports.common import fetch_in, finish, open_batch, read_checked_headers
from forbear.services.imports.report import ImportReport
from forbear.store import bulk, models


def import_payments(
    conn: Connection,
    path: Path,
    *,
    zone: str,
    skip_bad: bool = False,
    rejects: Path | None = None,
    encoding: str | None = None,
    now: datetime,
) -> ImportReport:
    """Import a payments file inside the caller's transaction at its moment ``now`` (see
    docs/import.md)."""
    started = now
    raw, used = read_checked_headers(path, PAYMENT_COLUMNS, encoding)
    report = ImportReport(kind="payments", source=path.name, rows_total=raw.height, encoding=used)
    checked = validate_payments(raw, zone)
    errors = list(checked.errors)
    rows = checked.valid
    loans_t, payments_t = (
        models.Base.metadata.tables["loans"],
        models.Base.metadata.tables["payments"],
    )

    loans = fetch_in(
        conn,
        lambda chunk: select(loans_t.c.external_ref, loans_t.c.id, loans_t.c.start_date).where(
            loans_t.c.external_ref.in_(chunk)
        ),
        rows["loan_ref"].to_list(),
        {"loan_ref": pl.String, "loan_id": pl.Int64, "_start": pl.Date},
    )
    rows = rows.join(loans, on="loan_ref", how="left")
    errors += [
        RowError(line, "loan_ref", "unknown loan_ref (import the loan first)")
        for line in rows.filter(pl.col("loan_id").is_null())[LINE].to_list()
    ]
    errors += [
        RowError(line, "paid_at", "payment is dated before the loan's start date")
        for line in rows.filter(pl.col("paid_on") < pl.col("_start"))[LINE].to_list()
    ]
    stored = fetch_in(
        conn,
        lambda chunk: select(
            payments_t.c.external_ref,
            payments_t.c.loan_id,
            payments_t.c.paid_on,
            payments_t.c.amount,
        ).where(payments_t.c.external_ref.in_(chunk)),
        rows["txn_ref"].to_list(),
        {"txn_ref": pl.String, "_loan_id": pl.Int64, "_paid_on": pl.Date, "_amount": pl.Int64},
    )
    known = rows.join(stored, on="txn_ref", how="inner")
    same = (
        (pl.col("loan_id") == pl.col("_loan_id"))
        & (pl.col("paid_on") == pl.col("_paid_on"))
        & (pl.col("amount") == pl.col("_amount"))
    )
    conflicts = known.filter(~same)
    errors += [
        RowError(line, "txn_ref", "txn_ref already imported with a different loan, date or amount")
        for line in conflicts[LINE].to_list()
    ]
    if errors and not skip_bad:
        raise ImportRejected(path.name, sorted(errors, key=lambda e: (e.line, e.column)))
    bad = {e.line for e in errors}
    new = drop_lines(rows.join(stored.select("txn_ref"), on="txn_ref", how="anti"), bad)
    batch_id = open_batch(conn, "payments", path, started) if new.height or errors else None
    report.batch_id = batch_id
    bulk.write_frame(
        conn,
        "payments",
        new.select(
            pl.col("txn_ref").alias("external_ref"),
            "loan_id",
            "paid_on",
            "paid_at",
            "amount",
            "channel",
            pl.lit(batch_id, dtype=pl.Int64).alias("import_batch_id"),
            pl.lit(started, dtype=pl.Datetime("us", "UTC")).alias("created_at"),
        ),
    )
    report.rows_imported = new.height
    report.rows_skipped_existing = known.height - conflicts.height
    finish(
        conn,
        report,
        raw,
        errors,
        path=path,
        skip_bad=skip_bad,
        rejects=rejects,
        now=started,
    )
    return report
