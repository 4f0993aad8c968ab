"""Importing loans with their borrowers and contact points, all or nothing, idempotently."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, select, update

from forbear.domain.errors import ImportRejected, RowError
from forbear.domain.intake import LOAN_COLUMNS, validate_loans
from forbear.domain.intake.result import LINE, drop_lines
from forbear.domain.ledger import products_frame, schedules
from forbear.domain.ledger.schema import LOANS
from forbear.services.contracts import current_version_ids
from forbear.services.imports.common import fetch_in, finish, open_batch, read_checked_headers
from forbear.services.imports.report import ImportReport
from forbear.store import bulk, models
from forbear.store.crypto import Contexts, PiiVault

_ZONES = frozenset(zoneinfo.available_timezones())
# The loan columns a re-import must match exactly; anything else is a conflict.
_LOAN_TERMS = (
    "customer_ref",
    "product_code",
    "principal",
    "term_months",
    "annual_rate_bp",
    "start_date",
    "first_due_date",
)


def import_loans(
    conn: Connection,
    vault: PiiVault,
    path: Path,
    *,
    skip_bad: bool = False,
    rejects: Path | None = None,
    encoding: str | None = None,
    now: datetime,
) -> ImportReport:
    """Import a loans file inside the caller's transaction at its moment ``now`` (see
    docs/import.md)."""
    started = now
    raw, used = read_checked_headers(path, LOAN_COLUMNS, encoding)
    report = ImportReport(kind="loans", source=path.name, rows_total=raw.height, encoding=used)
    products = bulk.read_products_terms(conn)
    checked = validate_loans(raw, products, _ZONES)
    errors = list(checked.errors)
    rows = checked.valid

    # Loans already stored: identical rows are skipped, a new write-off date is applied,
    # anything else is a conflict that a person must look at.
    loans_t, borrowers_t, products_t = (
        models.Base.metadata.tables["loans"],
        models.Base.metadata.tables["borrowers"],
        models.Base.metadata.tables["products"],
    )
    stored = fetch_in(
        conn,
        lambda chunk: (
            select(
                loans_t.c.external_ref,
                loans_t.c.id,
                borrowers_t.c.external_ref,
                products_t.c.code,
                loans_t.c.principal,
                loans_t.c.term_months,
                loans_t.c.annual_rate_bp,
                loans_t.c.start_date,
                loans_t.c.first_due_date,
                loans_t.c.written_off_on,
            )
            .join(borrowers_t, borrowers_t.c.id == loans_t.c.borrower_id)
            .join(products_t, products_t.c.id == loans_t.c.product_id)
            .where(loans_t.c.external_ref.in_(chunk))
        ),
        rows["loan_ref"].to_list(),
        {
            "loan_ref": pl.String,
            "_loan_id": pl.Int64,
            "_customer_ref": pl.String,
            "_product_code": pl.String,
            "_principal": pl.Int64,
            "_term_months": pl.Int32,
            "_annual_rate_bp": pl.Int32,
            "_start_date": pl.Date,
            "_first_due_date": pl.Date,
            "_written_off_on": pl.Date,
        },
    )
    known = rows.join(stored, on="loan_ref", how="inner")
    same_terms = pl.all_horizontal(pl.col(c) == pl.col(f"_{c}") for c in _LOAN_TERMS)
    conflicts = known.filter(~same_terms)
    errors += [
        RowError(line, "loan_ref", "loan_ref already imported with different terms")
        for line in conflicts[LINE].to_list()
    ]
    write_offs = known.filter(
        same_terms
        & pl.col("written_off_on").is_not_null()
        & pl.col("written_off_on").ne_missing(pl.col("_written_off_on"))
    )
    write_off_cleared = known.filter(
        same_terms & pl.col("written_off_on").is_null() & pl.col("_written_off_on").is_not_null()
    )
    errors += [
        RowError(line, "written_off_on", "a stored write-off cannot be undone by an import")
        for line in write_off_cleared[LINE].to_list()
    ]
    new = rows.join(stored.select("loan_ref"), on="loan_ref", how="anti")

    # Borrowers already stored must be the same person (same national ID).
    stored_borrowers = fetch_in(
        conn,
        lambda chunk: select(
            borrowers_t.c.external_ref, borrowers_t.c.id, borrowers_t.c.national_id_bidx
        ).where(borrowers_t.c.external_ref.in_(chunk)),
        new["customer_ref"].to_list(),
        {"customer_ref": pl.String, "borrower_id": pl.Int64, "_id_bidx": pl.String},
    )
    new = new.with_columns(
        pl.col("national_id")
        .map_elements(lambda v: vault.blind_index("national_id", v), return_dtype=pl.String)
        .alias("national_id_bidx")
    ).join(stored_borrowers, on="customer_ref", how="left")
    mismatch = new.filter(
        pl.col("borrower_id").is_not_null() & (pl.col("national_id_bidx") != pl.col("_id_bidx"))
    )
    errors += [
        RowError(line, "customer_ref", "customer_ref is stored with a different national ID")
        for line in mismatch[LINE].to_list()
    ]

    bad = {e.line for e in errors}
    if errors and not skip_bad:
        raise ImportRejected(path.name, sorted(errors, key=lambda e: (e.line, e.column)))
    new = drop_lines(new, bad)
    write_offs = drop_lines(write_offs, bad)
    changes = new.height + write_offs.height
    batch_id = open_batch(conn, "loans", path, started) if changes or errors else None
    report.batch_id = batch_id

    _insert_borrowers(conn, vault, new.filter(pl.col("borrower_id").is_null()), started)
    borrower_ids = fetch_in(
        conn,
        lambda chunk: select(borrowers_t.c.external_ref, borrowers_t.c.id).where(
            borrowers_t.c.external_ref.in_(chunk)
        ),
        new["customer_ref"].to_list(),
        {"customer_ref": pl.String, "_bid": pl.Int64},
    )
    product_ids = pl.DataFrame(
        [tuple(r) for r in conn.execute(select(products_t.c.code, products_t.c.id)).all()],
        schema={"product_code": pl.String, "product_id": pl.Int64},
        orient="row",
    )
    new = (
        new.drop("borrower_id")
        .join(borrower_ids, on="customer_ref")
        .join(product_ids, on="product_code")
        # a new loan is made under its product's current contract version
        .join(current_version_ids(conn), on="product_code", how="left")
    )
    bulk.write_frame(
        conn,
        "loans",
        new.select(
            pl.col("loan_ref").alias("external_ref"),
            pl.col("_bid").alias("borrower_id"),
            "product_id",
            "principal",
            "term_months",
            "annual_rate_bp",
            "start_date",
            "first_due_date",
            "written_off_on",
            "contract_version_id",
            pl.lit(batch_id, dtype=pl.Int64).alias("import_batch_id"),
            pl.lit(started, dtype=pl.Datetime("us", "UTC")).alias("created_at"),
        ),
    )
    loan_ids = fetch_in(
        conn,
        lambda chunk: select(loans_t.c.external_ref, loans_t.c.id).where(
            loans_t.c.external_ref.in_(chunk)
        ),
        new["loan_ref"].to_list(),
        {"loan_ref": pl.String, "loan_id": pl.Int64},
    )
    book = new.join(loan_ids, on="loan_ref").select(
        [pl.col(name).cast(dtype) for name, dtype in LOANS.items()]
    )
    instalments = schedules(book.lazy(), products_frame(products).lazy()).collect()
    bulk.write_frame(conn, "instalments", instalments)
    for row in write_offs.select("_loan_id", "written_off_on").iter_rows():
        conn.execute(update(loans_t).where(loans_t.c.id == row[0]).values(written_off_on=row[1]))

    report.rows_imported = new.height
    report.rows_updated = write_offs.height
    report.rows_skipped_existing = (
        known.height - conflicts.height - write_offs.height - (write_off_cleared.height)
    )
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


def _insert_borrowers(conn: Connection, vault: PiiVault, rows: pl.DataFrame, now: datetime) -> None:
    """Encrypt and store new borrowers (first row of each customer) and contact points."""
    people = rows.sort(LINE).unique("customer_ref", keep="first", maintain_order=True)
    if people.height == 0:
        return

    def enc(col: str, context: str) -> pl.Expr:
        return pl.col(col).map_elements(
            lambda v: vault.encrypt(v, context=context), return_dtype=pl.Binary
        )

    def bidx(col: str, kind: str) -> pl.Expr:
        return pl.col(col).map_elements(
            lambda v: vault.blind_index(kind, v), return_dtype=pl.String
        )

    bulk.write_frame(
        conn,
        "borrowers",
        people.select(
            pl.col("customer_ref").alias("external_ref"),
            enc("name", Contexts.BORROWER_NAME).alias("name_enc"),
            enc("national_id", Contexts.BORROWER_NATIONAL_ID).alias("national_id_enc"),
            pl.col("national_id_bidx"),
            enc("mobile", Contexts.BORROWER_MOBILE).alias("mobile_enc"),
            bidx("mobile", "phone").alias("mobile_bidx"),
            enc("email", Contexts.BORROWER_EMAIL).alias("email_enc"),
            enc("address", Contexts.BORROWER_ADDRESS).alias("address_enc"),
            "province",
            "city",
            "timezone",
            pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("created_at"),
            pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("updated_at"),
        ),
    )
    borrowers_t = models.Base.metadata.tables["borrowers"]
    ids = fetch_in(
        conn,
        lambda chunk: select(borrowers_t.c.external_ref, borrowers_t.c.id).where(
            borrowers_t.c.external_ref.in_(chunk)
        ),
        people["customer_ref"].to_list(),
        {"customer_ref": pl.String, "borrower_id": pl.Int64},
    )
    people = people.drop("borrower_id", strict=False).join(ids, on="customer_ref")

    def point(
        rows: pl.DataFrame,
        kind: str,
        value: str,
        owner_type: str,
        provenance: str,
        owner_name: pl.Expr | None = None,
        relation: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Contact points for the rows that have ``value`` (CN.DATA.CONTACT_SOURCE: each
        with its lawful provenance)."""
        return rows.filter(pl.col(value).is_not_null()).select(
            "borrower_id",
            pl.lit(kind).alias("kind"),
            enc(value, Contexts.CONTACT_VALUE).alias("value_enc"),
            bidx(value, "phone" if kind == "phone" else kind).alias("value_bidx"),
            pl.lit(owner_type).alias("owner_type"),
            (pl.lit(None, dtype=pl.Binary) if owner_name is None else owner_name).alias(
                "owner_name_enc"
            ),
            (pl.lit(None, dtype=pl.String) if relation is None else relation).alias("relation"),
            pl.lit(provenance).alias("provenance"),
            pl.lit(owner_type == "debtor").alias("is_primary"),
        )

    points = [
        point(people, "phone", "mobile", "debtor", "contract"),
        point(people, "email", "email", "debtor", "contract"),
        point(
            people,
            "phone",
            "emergency_mobile",
            "emergency_contact",
            "supplied_by_debtor",
            owner_name=enc("emergency_name", Contexts.CONTACT_OWNER_NAME),
            relation=pl.col("emergency_relation"),
        ),
    ]
    bulk.write_frame(
        conn,
        "contact_points",
        pl.concat(points).with_columns(
            pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("created_at")
        ),
    )
