"""0004 rebuilds ``borrowers`` on SQLite: data in referencing tables must survive."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from forbear.store import migrate
from forbear.store.db import make_engine


def test_upgrading_through_0004_keeps_loans_and_contact_points(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}")
    try:
        migrate.upgrade(engine, "0003")
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO products (id, code, version, name_zh, name_en, terms) "
                    "VALUES (1, 'P', 1, 'a', 'b', '{}')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO borrowers (id, external_ref, name_enc, national_id_enc, "
                    "national_id_bidx, mobile_enc, mobile_bidx, timezone) VALUES "
                    "(1, 'C', x'00', x'00', 'a', x'00', 'b', 'Asia/Shanghai'), "
                    "(2, 'D', x'00', x'00', 'c', x'00', 'd', 'Asia/Shanghai')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO contact_points (id, borrower_id, kind, value_enc, value_bidx, "
                    "owner_type, provenance, is_primary) "
                    "VALUES (1, 2, 'phone', x'00', 'z', 'debtor', 'contract', 0)"
                )
            )
            c.execute(
                text(
                    "INSERT INTO loans (id, external_ref, borrower_id, product_id, principal, "
                    "term_months, annual_rate_bp, start_date, first_due_date) "
                    "VALUES (1, 'L', 1, 1, 100, 1, 1, '2025-01-01', '2025-02-01')"
                )
            )
        migrate.upgrade(engine)
        assert migrate.is_up_to_date(engine)
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM contact_points")).scalar() == 1
            assert c.execute(text("SELECT count(*) FROM loans")).scalar() == 1
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
