"""Factories for test data: ``make_*(**overrides)`` returns a valid record by default."""

from __future__ import annotations

import csv
import io
from typing import Any

from clocks import SETUP_AT, SETUP_DAY
from forbear.domain.products import ProductTerms

# Valid resident ID numbers (GB 11643 check digits) for tests: no real person's.
VALID_IDS = ("11010519491231002X", "410105199001011233", "410302198512032017")


def make_product(**overrides: Any) -> ProductTerms:
    fields: dict[str, Any] = {
        "code": "CASH",
        "name_zh": "现金贷",
        "name_en": "Cash loan",
        "method": "equal_instalment",
        "annual_rate_bp": 1800,
        "penalty_rate_bp": 2700,
        "grace_days": 3,
        "terms_months": (12, 24),
    }
    fields.update(overrides)
    return ProductTerms.model_validate(fields)


def make_loan_row(**overrides: str | None) -> dict[str, str | None]:
    """One row of a loans file, as strings (docs/import.md)."""
    row: dict[str, str | None] = {
        "loan_ref": "L0001",
        "customer_ref": "C0001",
        "product_code": "CASH",
        "principal": "12000.00",
        "term_months": "12",
        "annual_rate": "",
        "start_date": "2026-01-15",
        "first_due_date": "",
        "written_off_on": "",
        "name": "张伟",
        "national_id": VALID_IDS[1],
        "mobile": "13812345678",
        "email": "",
        "province": "河南省",
        "city": "郑州市",
        "address": "河南省郑州市金水区花园路1号",
        "timezone": "",
        "emergency_name": "王芳",
        "emergency_relation": "spouse",
        "emergency_mobile": "13987654321",
    }
    row.update(overrides)
    return row


def make_payment_row(**overrides: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "txn_ref": "T0001",
        "loan_ref": "L0001",
        "paid_at": "2026-02-15 10:30:00",
        "amount": "1100.16",
        "channel": "withhold",
    }
    row.update(overrides)
    return row


def csv_text(rows: list[dict[str, str | None]]) -> str:
    """Rows as CSV text, quoted where a value needs it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def import_three_loans(connection: Any, vault: Any, folder: Any) -> dict[str, int]:
    """A small book through the real import: product ``P1``; loans ``L0001`` and ``L0002``
    of borrower ``C0001`` (with an emergency contact) and ``L0003`` of ``C0002`` (none).
    Returns the loans' ids by reference."""
    from forbear.services.contacts import loan_id_for_ref
    from forbear.services.imports import import_loans, import_products

    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    path = folder / "loans.csv"
    rows = [
        make_loan_row(),
        make_loan_row(loan_ref="L0002", principal="3000", term_months="24"),
        make_loan_row(
            loan_ref="L0003",
            customer_ref="C0002",
            name="李娜",
            national_id=VALID_IDS[2],
            mobile="+86 139 1111 2222",
            emergency_name="",
            emergency_relation="",
            emergency_mobile="",
        ),
    ]
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    return {ref: loan_id_for_ref(connection, ref) for ref in ("L0001", "L0002", "L0003")}
