from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select

from forbear.domain.errors import Conflict, NotFound
from forbear.domain.products import ProductTerms
from forbear.store.crypto import PiiVault
from forbear.store.models import (
    BatchKind,
    BatchStatus,
    Borrower,
    ContactKind,
    ContactPoint,
    Loan,
    OwnerType,
    Payment,
    Provenance,
)
from uow import SqlAlchemyUnitOfWork, reveal_borrower, terms_of

TermsFactory = Callable[..., ProductTerms]


def add_borrower(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault, ref: str = "C001", **kw: str
) -> Borrower:
    fields = {
        "name": "张三丰",
        "national_id": "11010519491231002x",
        "mobile": "13812345678",
        "email": "zhangsan@example.com",
        "address": "广东省深圳市南山区科技园1号",
        "province": "广东省",
        "city": "深圳市",
    }
    fields.update(kw)
    return uow.borrowers.add_encrypted(vault, external_ref=ref, **fields)


def add_loan(uow: SqlAlchemyUnitOfWork, borrower: Borrower, product_id: int, ref: str) -> Loan:
    return uow.loans.add(
        Loan(
            external_ref=ref,
            borrower_id=borrower.id,
            product_id=product_id,
            principal=1_200_000,
            term_months=12,
            annual_rate_bp=1_800,
            start_date=date(2025, 1, 15),
            first_due_date=date(2025, 2, 15),
        )
    )


def test_products_round_trip_their_terms(
    uow: SqlAlchemyUnitOfWork, product_terms_factory: TermsFactory
) -> None:
    terms = product_terms_factory(code="CASH12")
    with uow:
        uow.products.add(terms)
        uow.products.add(product_terms_factory(code="AUTO36", terms_months=(36,)))
        uow.commit()
    with uow:
        stored = uow.products.by_code("CASH12")
        assert stored is not None and terms_of(stored) == terms
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == UTC.utcoffset(None)
        assert [p.code for p in uow.products.all()] == ["AUTO36", "CASH12"]
        assert uow.products.terms("AUTO36").terms_months == (36,)
        assert uow.products.by_code("NOPE") is None
        with pytest.raises(NotFound):
            uow.products.require_code("NOPE")


def test_a_duplicate_product_code_is_a_conflict(
    uow: SqlAlchemyUnitOfWork, product_terms_factory: TermsFactory
) -> None:
    with uow:
        uow.products.add(product_terms_factory())
        with pytest.raises(Conflict) as caught:
            uow.products.add(product_terms_factory())
        assert "uq_products_code" in str(caught.value) or "products.code" in str(caught.value)


def test_leaving_a_unit_of_work_without_commit_rolls_back(
    uow: SqlAlchemyUnitOfWork, product_terms_factory: TermsFactory
) -> None:
    with uow:
        uow.products.add(product_terms_factory())
    with uow:
        assert uow.products.all() == []


def test_borrowers_are_stored_encrypted_and_found_by_blind_index(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault, connection: Connection
) -> None:
    with uow:
        add_borrower(uow, vault)
        add_borrower(uow, vault, "C002", mobile="13900000000", national_id="110105199001011234")
        uow.commit()
    raw = connection.execute(select(Borrower.name_enc, Borrower.mobile_enc)).all()
    for name_enc, mobile_enc in raw:
        assert "张三丰".encode() not in name_enc
        assert b"13812345678" not in mobile_enc
    with uow:
        [by_mobile] = uow.borrowers.find_by_mobile(vault, "+86 138-1234-5678")
        assert by_mobile.external_ref == "C001"
        [by_id] = uow.borrowers.find_by_national_id(vault, " 11010519491231002X ")
        assert by_id.external_ref == "C001"
        assert uow.borrowers.find_by_mobile(vault, "13700000000") == []
        pii = reveal_borrower(vault, by_mobile)
        assert (pii.name, pii.mobile, pii.email) == (
            "张三丰",
            "13812345678",
            "zhangsan@example.com",
        )
        assert by_mobile.timezone == "Asia/Shanghai"
        assert uow.borrowers.by_external_ref("C002") is not None
        assert uow.borrowers.existing_refs(["C001", "C009"]) == {"C001"}


def test_a_duplicate_borrower_ref_is_a_conflict(uow: SqlAlchemyUnitOfWork, vault: PiiVault) -> None:
    with uow:
        add_borrower(uow, vault)
        with pytest.raises(Conflict):
            add_borrower(uow, vault)


def test_contact_points_carry_a_lawful_provenance(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault
) -> None:
    with uow:
        borrower = add_borrower(uow, vault)
        uow.contact_points.add_encrypted(
            vault,
            borrower_id=borrower.id,
            kind=ContactKind.PHONE,
            value="13912345678",
            owner_type=OwnerType.EMERGENCY_CONTACT,
            owner_name="李四",
            relation="spouse",
            provenance=Provenance.SUPPLIED_BY_DEBTOR,
        )
        uow.commit()
    with uow:
        [found] = uow.contact_points.find_by_value(vault, ContactKind.PHONE, "139 1234 5678")
        assert found.provenance == "supplied_by_debtor"
        assert [c.id for c in uow.contact_points.for_borrower(borrower.id)] == [found.id]


def test_a_harvested_address_book_cannot_be_stored(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault
) -> None:
    with uow:
        borrower = add_borrower(uow, vault)
        with pytest.raises(Conflict):
            uow.contact_points.add(
                ContactPoint(
                    borrower_id=borrower.id,
                    kind="phone",
                    value_enc=b"x" * 40,
                    value_bidx="0" * 64,
                    owner_type="debtor",
                    provenance="address_book_harvest",
                )
            )


def test_the_same_contact_twice_for_the_same_owner_is_a_conflict(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault
) -> None:
    fields: dict[str, Any] = {
        "kind": ContactKind.PHONE,
        "value": "13912345678",
        "owner_type": OwnerType.DEBTOR,
        "provenance": Provenance.CONTRACT,
    }
    with uow:
        borrower = add_borrower(uow, vault)
        uow.contact_points.add_encrypted(vault, borrower_id=borrower.id, **fields)
        with pytest.raises(Conflict):
            uow.contact_points.add_encrypted(vault, borrower_id=borrower.id, **fields)


def test_loans_and_payments_report_which_refs_exist(
    uow: SqlAlchemyUnitOfWork, vault: PiiVault, product_terms_factory: TermsFactory
) -> None:
    with uow:
        product = uow.products.add(product_terms_factory())
        borrower = add_borrower(uow, vault)
        loan = add_loan(uow, borrower, product.id, "L001")
        add_loan(uow, borrower, product.id, "L002")
        paid_at = datetime(2025, 2, 15, 3, 0, tzinfo=UTC)
        uow.payments.add(
            Payment(
                external_ref="T1",
                loan_id=loan.id,
                paid_on=date(2025, 2, 15),
                paid_at=paid_at,
                amount=110_000,
            )
        )
        uow.commit()
    with uow:
        refs = [f"L{i:03d}" for i in range(2_500)]  # more than one IN (...) chunk
        assert uow.loans.existing_refs(refs) == {"L001", "L002"}
        assert uow.payments.existing_refs(["T1", "T2"]) == {"T1"}
        assert uow.loans.require_external_ref("L001").id == loan.id
        assert [p.paid_at for p in uow.payments.for_loan(loan.id)] == [paid_at]
        assert uow.payments.for_loan(loan.id, up_to=date(2025, 2, 14)) == []
        assert [x.external_ref for x in uow.loans.for_borrower(borrower.id)] == ["L001", "L002"]
        assert uow.loans.count() == 2


@pytest.mark.parametrize(("ref", "amount"), [("T1", 100), ("T2", 0)])
def test_a_duplicate_or_non_positive_payment_is_refused(
    uow: SqlAlchemyUnitOfWork,
    vault: PiiVault,
    product_terms_factory: TermsFactory,
    ref: str,
    amount: int,
) -> None:
    with uow:
        product = uow.products.add(product_terms_factory())
        loan = add_loan(uow, add_borrower(uow, vault), product.id, "L001")
        uow.payments.add(
            Payment(external_ref="T1", loan_id=loan.id, paid_on=date(2025, 2, 15), amount=100)
        )
        with pytest.raises(Conflict):
            uow.payments.add(
                Payment(external_ref=ref, loan_id=loan.id, paid_on=date(2025, 2, 15), amount=amount)
            )


def test_a_loan_for_a_missing_borrower_is_refused(
    uow: SqlAlchemyUnitOfWork, product_terms_factory: TermsFactory
) -> None:
    with uow:
        product = uow.products.add(product_terms_factory())
        with pytest.raises(Conflict):
            uow.loans.add(
                Loan(
                    external_ref="L404",
                    borrower_id=999_999,
                    product_id=product.id,
                    principal=100_00,
                    term_months=3,
                    annual_rate_bp=1_000,
                    start_date=date(2025, 1, 1),
                    first_due_date=date(2025, 2, 1),
                )
            )


def test_import_batches_are_recorded(uow: SqlAlchemyUnitOfWork) -> None:
    started = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    with uow:
        batch = uow.import_batches.add(
            kind=BatchKind.LOANS,
            source_name="book-2025-03.csv",
            file_sha256="ab" * 32,
            status=BatchStatus.COMMITTED,
            rows_total=10,
            rows_imported=8,
            rows_skipped_existing=2,
            started_at=started,
            finished_at=started,
        )
        uow.commit()
    with uow:
        [stored] = uow.import_batches.by_sha256("ab" * 32)
        assert stored.id == batch.id
        assert (stored.kind, stored.status, stored.rows_imported) == ("loans", "committed", 8)
        assert stored.started_at == started
        assert uow.import_batches.require(batch.id).source_name == "book-2025-03.csv"
        with pytest.raises(NotFound):
            uow.import_batches.require(batch.id + 1)


def test_naive_timestamps_are_refused(uow: SqlAlchemyUnitOfWork) -> None:
    with uow, pytest.raises(Exception, match="naive datetime"):
        uow.import_batches.add(
            kind=BatchKind.PAYMENTS,
            source_name="x.csv",
            file_sha256="cd" * 32,
            started_at=datetime(2025, 3, 1, 9, 0),
        )
