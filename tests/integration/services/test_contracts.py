"""The contract terms registry on SQLite and PostgreSQL: versions at import, each loan's
contract, the ledger on a loan's own version, and migration 0010's backfill."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text

from clocks import SETUP_AT, SETUP_DAY
from factories import csv_text, make_loan_row, make_payment_row, make_product
from forbear.domain.contracts import Claim
from forbear.domain.errors import NotFound
from forbear.services import book
from forbear.services import contracts as svc
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.store import migrate
from forbear.store.audit import AuditEvent
from forbear.store.contracts import ContractVersion
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from forbear.store.models import Loan

ZONE = "Asia/Shanghai"


def write(path: Path, rows: list[dict[str, str | None]]) -> Path:
    path.write_text(csv_text(rows), encoding="utf-8")
    return path


def loan_ids(conn: Connection) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in conn.execute(select(Loan.external_ref, Loan.id))}


def test_an_imported_product_is_contract_version_1_and_its_loans_name_it(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    import_products(connection, [make_product()], "p", effective_from=date(2026, 1, 1))
    import_loans(connection, vault, write(tmp_path / "l.csv", [make_loan_row()]), now=SETUP_AT)
    loan_id = loan_ids(connection)["L0001"]
    terms = svc.contract_for(connection, loan_id)
    assert (terms.product_code, terms.version, terms.effective_from) == (
        "CASH",
        1,
        date(2026, 1, 1),
    )
    assert (terms.annual_rate_bp, terms.penalty_rate_bp, terms.grace_days) == (1800, 2700, 3)
    assert terms.consent_to_collection_contact is True
    assert "人民法院" in terms.dispute_venue
    version = connection.execute(select(ContractVersion)).one()
    assert len(version.sha256) == 64 and version.annual_rate_bp == 1800
    events = connection.execute(
        select(AuditEvent.action).where(AuditEvent.action == "contract.version")
    ).all()
    assert len(events) == 1


def test_an_unknown_loan_has_no_contract(connection: Connection) -> None:
    with pytest.raises(NotFound):
        svc.contract_for(connection, 999_999)


def test_a_claim_is_checked_against_the_loans_own_contract(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    import_products(connection, [make_product()], "p", effective_from=SETUP_DAY)
    import_loans(connection, vault, write(tmp_path / "l.csv", [make_loan_row()]), now=SETUP_AT)
    import_products(
        connection, [make_product(penalty_rate_bp=3600)], "p2", effective_from=SETUP_DAY
    )
    loan_id = loan_ids(connection)["L0001"]
    # the product now allows 36% penalty, but this loan was made when it allowed 27%
    findings = svc.check_loan_claim(connection, loan_id, Claim(penalty=100, penalty_rate_bp=3000))
    assert [f.code for f in findings] == ["PENALTY_ABOVE_CONTRACT", "PENALTY_RATE_ABOVE_24"]
    assert svc.check_loan_claim(connection, loan_id, Claim(principal=100)) == []


def test_the_ledger_runs_each_loan_on_its_own_contract_version(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    # Two identical loans, one made before the grace days changed from 3 to 0: four days
    # after the first due date the older loan is still in grace, the newer one is late.
    import_products(connection, [make_product()], "p", effective_from=SETUP_DAY)
    import_loans(connection, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    import_products(connection, [make_product(grace_days=0)], "p2", effective_from=SETUP_DAY)
    import_loans(
        connection,
        vault,
        write(tmp_path / "b.csv", [make_loan_row(loan_ref="L0002")]),
        now=SETUP_AT,
    )
    ids = loan_ids(connection)
    states = book.compute_states(connection, date(2026, 2, 17)).states
    dpd = dict(zip(states["loan_id"].to_list(), states["dpd"].to_list(), strict=True))
    assert dpd[ids["L0001"]] == 0
    assert dpd[ids["L0002"]] == 2


def test_migration_0010_gives_existing_loans_their_products_version(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}")
    try:
        migrate.upgrade(engine, "0009")
        with engine.begin() as c:
            terms = make_product().model_dump_json()
            c.execute(
                text(
                    "INSERT INTO products (id, code, version, name_zh, name_en, terms) "
                    "VALUES (1, 'CASH', 2, 'a', 'b', :terms)"
                ),
                {"terms": terms},
            )
            c.execute(
                text(
                    "INSERT INTO borrowers (id, external_ref, name_enc, national_id_enc, "
                    "national_id_bidx, mobile_enc, mobile_bidx, timezone) VALUES "
                    "(1, 'C', x'00', x'00', 'a', x'00', 'b', 'Asia/Shanghai')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO loans (id, external_ref, borrower_id, product_id, principal, "
                    "term_months, annual_rate_bp, start_date, first_due_date) "
                    "VALUES (1, 'L', 1, 1, 100000, 12, 1800, '2025-01-01', '2025-02-01')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO instalments (loan_id, seq, due_date, principal, interest, fee) "
                    "VALUES (1, 1, '2025-02-01', 100000, 1500, 0)"
                )
            )
        migrate.upgrade(engine)
        with engine.connect() as c:
            version = c.execute(
                text("SELECT id, version, effective_from, penalty_rate_bp FROM contract_versions")
            ).one()
            assert (version[1], str(version[2]), version[3]) == (2, "2025-01-01", 2700)
            assert c.execute(text("SELECT contract_version_id FROM loans")).scalar() == version[0]
            assert c.execute(text("SELECT count(*) FROM instalments")).scalar() == 1
            assert svc.contract_for(c, 1).version == 2
        migrate.downgrade(engine, "0009")
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM loans")).scalar() == 1
    finally:
        engine.dispose()


def test_payments_still_import_after_a_product_change(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    import_products(connection, [make_product()], "p", effective_from=SETUP_DAY)
    import_loans(connection, vault, write(tmp_path / "a.csv", [make_loan_row()]), now=SETUP_AT)
    import_products(connection, [make_product(late_fee=1000)], "p2", effective_from=SETUP_DAY)
    report = import_payments(
        connection, write(tmp_path / "p.csv", [make_payment_row()]), zone=ZONE, now=SETUP_AT
    )
    assert report.rows_imported == 1


def test_a_products_file_may_carry_the_contract_clauses(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    import yaml

    from forbear.domain.errors import ImportRejected
    from forbear.services.imports import load_products_file

    entry = make_product().model_dump(mode="json") | {
        "consent_to_collection_contact": False,
        "dispute_venue": "上海仲裁委员会 (Shanghai Arbitration Commission)",
    }
    path = tmp_path / "products.yaml"
    path.write_text(yaml.safe_dump([entry], allow_unicode=True), encoding="utf-8")
    import_products(connection, load_products_file(path), "p", effective_from=SETUP_DAY)
    import_loans(connection, vault, write(tmp_path / "l.csv", [make_loan_row()]), now=SETUP_AT)
    terms = svc.contract_for(connection, loan_ids(connection)["L0001"])
    assert terms.consent_to_collection_contact is False
    assert terms.dispute_venue.startswith("上海仲裁委员会")
    # the same file again changes nothing; a new venue alone is a new contract version
    assert (
        import_products(
            connection, load_products_file(path), "p", effective_from=SETUP_DAY
        ).rows_skipped_existing
        == 1
    )
    path.write_text(
        yaml.safe_dump([entry | {"dispute_venue": "北京仲裁委员会"}], allow_unicode=True),
        encoding="utf-8",
    )
    assert (
        import_products(
            connection, load_products_file(path), "p", effective_from=SETUP_DAY
        ).rows_updated
        == 1
    )
    assert [v.version for v in svc.list_versions(connection, "CASH")] == [1, 2]
    assert svc.contract_for(connection, loan_ids(connection)["L0001"]).version == 1
    path.write_text(yaml.safe_dump([entry | {"venue": "x"}]), encoding="utf-8")
    with pytest.raises(ImportRejected, match="venue"):
        load_products_file(path)
