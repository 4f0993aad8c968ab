"""Importing a book: all or nothing, idempotent, encrypted, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, func, select

from clocks import SETUP_AT, SETUP_DAY
from factories import VALID_IDS, csv_text, make_loan_row, make_payment_row, make_product
from forbear.domain.errors import ImportRejected
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.store import bulk, models
from forbear.store.crypto import PiiVault

ZONE = "Asia/Shanghai"
TABLES = ("borrowers", "contact_points", "loans", "instalments", "payments", "import_batches")


def counts(conn: Connection) -> dict[str, int]:
    return {
        name: conn.execute(
            select(func.count()).select_from(models.Base.metadata.tables[name])
        ).scalar_one()
        for name in TABLES
    }


def write(path: Path, rows: list[dict[str, str | None]], encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(rows).encode(encoding))
    return path


@pytest.fixture
def book_files(tmp_path: Path) -> tuple[Path, Path]:
    loans = write(
        tmp_path / "loans.csv",
        [
            make_loan_row(),
            make_loan_row(loan_ref="L0002", principal="3000", term_months="24"),
            make_loan_row(
                loan_ref="L0003",
                customer_ref="C0002",
                name="李娜",
                national_id=VALID_IDS[2],
                mobile="+86 139 1111 2222",
                email="Li.Na@Example.com",
                emergency_name="",
                emergency_relation="",
                emergency_mobile="",
            ),
        ],
    )
    payments = write(
        tmp_path / "payments.csv",
        [
            make_payment_row(),
            make_payment_row(txn_ref="T0002", paid_at="2026-03-15 09:00:00", amount="500"),
            make_payment_row(txn_ref="T0003", loan_ref="L0003", amount="1,100.16"),
        ],
    )
    return loans, payments


@pytest.fixture
def with_products(connection: Connection) -> Connection:
    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    return connection


def test_a_book_imports_with_schedules_encrypted_personal_data_and_contact_points(
    with_products: Connection, vault: PiiVault, book_files: tuple[Path, Path]
) -> None:
    conn = with_products
    loans_file, payments_file = book_files
    report = import_loans(conn, vault, loans_file, now=SETUP_AT)
    assert (report.rows_total, report.rows_imported, report.status) == (3, 3, "committed")
    assert import_payments(conn, payments_file, zone=ZONE, now=SETUP_AT).rows_imported == 3

    found = counts(conn)
    assert found["borrowers"] == 2  # two loans of one customer share a borrower
    assert found["instalments"] == 12 + 24 + 12
    # debtor mobiles for both, one e-mail, one emergency contact
    assert found["contact_points"] == 4
    instalments = bulk.read_instalments(conn)
    loans = bulk.read_loans(conn).join(
        instalments.group_by("loan_id").agg(pl.col("principal").sum().alias("scheduled")),
        on="loan_id",
    )
    assert (loans["principal"] == loans["scheduled"]).all()

    borrower = conn.execute(select(models.Borrower.__table__)).mappings().first()
    assert borrower is not None
    assert "张伟".encode() not in borrower["name_enc"]
    assert vault.decrypt(borrower["name_enc"], context="borrowers.name") == "张伟"
    assert borrower["mobile_bidx"] == vault.blind_index("phone", "13812345678")
    provenance = {
        (row.owner_type, row.provenance)
        for row in conn.execute(select(models.ContactPoint.__table__))
    }
    assert provenance == {("debtor", "contract"), ("emergency_contact", "supplied_by_debtor")}


def test_importing_the_same_files_again_changes_nothing(
    with_products: Connection, vault: PiiVault, book_files: tuple[Path, Path]
) -> None:
    conn = with_products
    loans_file, payments_file = book_files
    import_loans(conn, vault, loans_file, now=SETUP_AT)
    import_payments(conn, payments_file, zone=ZONE, now=SETUP_AT)
    before = counts(conn)
    again = import_loans(conn, vault, loans_file, now=SETUP_AT)
    again_pay = import_payments(conn, payments_file, zone=ZONE, now=SETUP_AT)
    assert (again.rows_imported, again.rows_skipped_existing) == (0, 3)
    assert (again_pay.rows_imported, again_pay.rows_skipped_existing) == (0, 3)
    assert counts(conn) == before  # not even an import batch is recorded


def test_one_bad_row_rejects_the_whole_file_and_stores_nothing(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    before = counts(conn)
    path = write(
        tmp_path / "loans.csv",
        [make_loan_row(), make_loan_row(loan_ref="L0002", principal="-5", start_date="2026-02-30")],
    )
    with pytest.raises(ImportRejected) as caught:
        import_loans(conn, vault, path, now=SETUP_AT)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (3, "principal"),
        (3, "start_date"),
    ]
    assert counts(conn) == before


def test_skip_bad_imports_the_good_rows_and_writes_the_rejects_with_reasons(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    path = write(
        tmp_path / "loans.csv",
        [make_loan_row(), make_loan_row(loan_ref="L0002", customer_ref="C9", mobile="12")],
    )
    report = import_loans(conn, vault, path, skip_bad=True, now=SETUP_AT)
    assert (report.rows_imported, report.rows_rejected, report.status) == (1, 1, "partial")
    assert report.rejects_file == tmp_path / "loans.csv.rejects.csv"
    rejects = pl.read_csv(report.rejects_file, infer_schema=False)
    assert rejects["loan_ref"].to_list() == ["L0002"]
    assert rejects["_line"].to_list() == ["3"]
    assert rejects["_reason"].to_list() == ["mobile: not an 11-digit mainland mobile number"]


def test_a_stored_loan_with_different_terms_is_a_conflict_not_an_overwrite(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    with pytest.raises(ImportRejected) as caught:
        import_loans(
            conn, vault, write(tmp_path / "b.csv", [make_loan_row(principal="9000")]), now=SETUP_AT
        )
    assert caught.value.errors[0].reason == "loan_ref already imported with different terms"


def test_a_later_file_may_add_a_write_off_date(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    report = import_loans(
        conn,
        vault,
        write(tmp_path / "b.csv", [make_loan_row(written_off_on="2026-11-01")]),
        now=SETUP_AT,
    )
    assert report.rows_updated == 1
    assert str(bulk.read_loans(conn)["written_off_on"][0]) == "2026-11-01"


def test_a_customer_ref_reused_for_another_person_is_refused(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    other = make_loan_row(loan_ref="L0009", national_id=VALID_IDS[0])
    with pytest.raises(ImportRejected) as caught:
        import_loans(conn, vault, write(tmp_path / "b.csv", [other]), now=SETUP_AT)
    assert caught.value.errors[0].reason == "customer_ref is stored with a different national ID"


def test_payments_must_name_a_known_loan_and_follow_its_start(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    path = write(
        tmp_path / "p.csv",
        [
            make_payment_row(loan_ref="NOPE"),
            make_payment_row(txn_ref="T2", paid_at="2025-12-31"),
        ],
    )
    with pytest.raises(ImportRejected) as caught:
        import_payments(conn, path, zone=ZONE, now=SETUP_AT)
    assert [(e.line, e.reason) for e in caught.value.errors] == [
        (2, "unknown loan_ref (import the loan first)"),
        (3, "payment is dated before the loan's start date"),
    ]
    assert counts(conn)["payments"] == 0


def test_a_txn_ref_seen_before_with_another_amount_is_a_conflict(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    import_payments(conn, write(tmp_path / "p1.csv", [make_payment_row()]), zone=ZONE, now=SETUP_AT)
    with pytest.raises(ImportRejected) as caught:
        import_payments(
            conn,
            write(tmp_path / "p2.csv", [make_payment_row(amount="1")]),
            zone=ZONE,
            now=SETUP_AT,
        )
    assert "different loan, date or amount" in caught.value.errors[0].reason


def test_gbk_csv_and_parquet_files_import_like_utf8(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    conn = with_products
    gbk = write(tmp_path / "loans_gbk.csv", [make_loan_row()], encoding="gbk")
    report = import_loans(conn, vault, gbk, now=SETUP_AT)
    assert (report.rows_imported, report.encoding) == (1, "gb18030")
    borrower = conn.execute(select(models.Borrower.__table__)).mappings().one()
    assert vault.decrypt(borrower["name_enc"], context="borrowers.name") == "张伟"
    parquet = tmp_path / "payments.parquet"
    pl.DataFrame([make_payment_row()]).write_parquet(parquet)
    assert import_payments(conn, parquet, zone=ZONE, now=SETUP_AT).rows_imported == 1


def test_a_file_with_an_unknown_column_is_refused_before_any_row(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    row = make_loan_row()
    row["colour"] = "blue"
    with pytest.raises(ImportRejected) as caught:
        import_loans(with_products, vault, write(tmp_path / "a.csv", [row]), now=SETUP_AT)
    assert (caught.value.errors[0].line, caught.value.errors[0].column) == (1, "colour")


def test_changed_product_terms_become_a_new_contract_version_that_old_loans_do_not_take(
    with_products: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    from forbear.services.contracts import contract_for, list_versions

    conn = with_products
    assert (
        import_products(
            conn, [make_product()], "again", effective_from=SETUP_DAY
        ).rows_skipped_existing
        == 1
    )
    assert (
        import_products(
            conn, [make_product(grace_days=5)], "edit", effective_from=SETUP_DAY
        ).rows_updated
        == 1
    )
    import_loans(conn, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    assert (
        import_products(
            conn, [make_product(grace_days=1)], "edit", effective_from=SETUP_DAY
        ).rows_updated
        == 1
    )
    import_loans(
        conn, vault, write(tmp_path / "b.csv", [make_loan_row(loan_ref="L0002")]), now=SETUP_AT
    )
    loans = models.Loan
    ids = dict(conn.execute(select(loans.external_ref, loans.id)).all())
    assert contract_for(conn, ids["L0001"]).grace_days == 5
    assert contract_for(conn, ids["L0002"]).grace_days == 1
    assert [(v.version, v.loans) for v in list_versions(conn, "CASH")] == [(1, 0), (2, 1), (3, 1)]


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_documented_example_files_import_cleanly(
    connection: Connection, vault: PiiVault
) -> None:
    from forbear.services.imports import load_products_file

    import_products(
        connection,
        load_products_file(EXAMPLES / "products.yaml"),
        "examples",
        effective_from=SETUP_DAY,
    )
    loans = import_loans(connection, vault, EXAMPLES / "loans.csv", now=SETUP_AT)
    payments = import_payments(connection, EXAMPLES / "payments.csv", zone=ZONE, now=SETUP_AT)
    assert loans.status == payments.status == "committed"
    assert loans.rows_imported == loans.rows_total > 0
    assert payments.rows_imported == payments.rows_total > 0
    # the GBK copy is the same book: everything in it is already stored
    again = import_loans(connection, vault, EXAMPLES / "loans_gbk.csv", now=SETUP_AT)
    assert (again.encoding, again.rows_skipped_existing) == ("gb18030", loans.rows_total)
