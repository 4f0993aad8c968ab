"""Privacy services on both backends: purpose-bound reveal (audited), masked views, key
rotation (re-encryption, resumable, blind indexes intact), retention purge, PIPL export."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Connection, insert, select

from factories import make_product
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.services import keys, privacy, retention
from forbear.store import audit
from forbear.store.crypto import PiiVault
from forbear.store.models import (
    Borrower,
    ContactKind,
    Instalment,
    Loan,
    OwnerType,
    Payment,
    Provenance,
)
from forbear.store.runs import OutboxMessage
from uow import SqlAlchemyUnitOfWork

TEST_KEY = bytes(range(32))  # the `vault` fixture's key (tests/integration/conftest.py)

NEW_KEY = bytes(range(100, 132))
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # the purge's clock (10:00 in Shanghai)


def seed(
    uow: SqlAlchemyUnitOfWork,
    vault: PiiVault,
    ref: str = "C001",
    *,
    start: date = date(2025, 1, 15),
    paid_off: bool = False,
    mobile: str = "13812345678",
    national_id: str = "41010519900101123X",
    product_id: int | None = None,
) -> tuple[int, int]:
    with uow:
        if product_id is None:
            product_id = uow.products.add(make_product(code=f"P{ref}")).id
        borrower = uow.borrowers.add_encrypted(
            vault,
            external_ref=ref,
            name="张三丰",
            national_id=national_id,
            mobile=mobile,
            email="zhangsan@example.com",
            address="广东省深圳市南山区科技园1号",
            province="广东省",
            city="深圳市",
        )
        uow.flush()
        uow.contact_points.add_encrypted(
            vault,
            borrower_id=borrower.id,
            kind=ContactKind.PHONE,
            value="13900001111",
            owner_type=OwnerType.EMERGENCY_CONTACT,
            provenance=Provenance.CONTRACT,
            owner_name="李四",
            relation="friend",
        )
        loan = uow.loans.add(
            Loan(
                external_ref=f"L-{ref}",
                borrower_id=borrower.id,
                product_id=product_id,
                principal=100_000,
                term_months=1,
                annual_rate_bp=1_800,
                start_date=start,
                first_due_date=start.replace(month=start.month + 1),
            )
        )
        uow.flush()
        uow.session.add(
            Instalment(
                loan_id=loan.id,
                seq=1,
                due_date=loan.first_due_date,
                principal=100_000,
                interest=1_500,
                fee=0,
            )
        )
        if paid_off:
            uow.payments.add(
                Payment(
                    external_ref=f"P-{ref}",
                    loan_id=loan.id,
                    paid_on=loan.first_due_date,
                    amount=101_500,
                )
            )
        uow.commit()
        return borrower.id, loan.id


# ---------------------------------------------------------------- reveal / masked view


def test_an_agent_reveals_the_mobile_to_call_and_it_is_audited(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, _ = seed(uow, vault)
    value = privacy.reveal(
        connection,
        vault,
        actor="agent-7",
        role="agent",
        borrower_id=borrower_id,
        field="mobile",
        purpose="contact",
    )
    assert value == "13812345678"
    (event,) = audit.events(connection, action="pii.unmask")
    assert event.actor == "agent-7"
    assert event.subject_id == str(borrower_id)
    assert event.payload == {"role": "agent", "field": "mobile", "purpose": "contact"}
    assert "13812345678" not in repr(event)


@pytest.mark.parametrize(
    ("role", "field", "purpose"),
    [
        ("agent", "national_id", "contact"),
        ("agent", "mobile", "litigation"),
        ("admin", "name", "privacy_request"),
        ("legal", "mobile", "litigation"),
    ],
)
def test_reveal_refuses_other_roles_fields_and_purposes_without_an_audit_event(
    uow: SqlAlchemyUnitOfWork,
    connection: Connection,
    vault: PiiVault,
    role: str,
    field: str,
    purpose: str,
) -> None:
    borrower_id, _ = seed(uow, vault)
    with pytest.raises(PermissionDenied) as refused:
        privacy.reveal(
            connection,
            vault,
            actor="x",
            role=role,
            borrower_id=borrower_id,
            field=field,
            purpose=purpose,
        )
    assert refused.value.role == role
    assert audit.events(connection, action="pii.unmask") == []


def test_legal_reveals_the_national_id_for_litigation(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, _ = seed(uow, vault)
    value = privacy.reveal(
        connection,
        vault,
        actor="lawyer",
        role="legal",
        borrower_id=borrower_id,
        field="national_id",
        purpose="litigation",
    )
    assert value == "41010519900101123X"


def test_the_masked_view_masks_every_personal_field_per_role(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, _ = seed(uow, vault)
    view = privacy.masked_view(connection, vault, "agent", borrower_id)
    assert view["name"] == "张**"
    assert view["mobile"] == "138****5678"
    assert view["national_id"] == "410***********123X"
    assert view["contact_points"][0]["value"] == "139****1111"
    assert view["contact_points"][0]["owner_name"] == "李*"
    assert view["contact_points"][0]["provenance"] == "contract"
    with pytest.raises(PermissionDenied):
        privacy.masked_view(connection, vault, "admin", borrower_id)


# ---------------------------------------------------------------- key rotation


def rotated(old: PiiVault) -> PiiVault:
    # What bootstrap builds from a keyring after `forbear keys rotate`: version 2 encrypts,
    # version 1 still decrypts, the blind-index key stays version 1's.
    return PiiVault(NEW_KEY, key_version=2, previous_keys={1: TEST_KEY}, index_key=TEST_KEY)


def stored_versions(connection: Connection) -> set[int]:
    return set(keys.versions_in_use(connection))


def test_rotation_reencrypts_everything_and_lookups_still_work(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, _ = seed(uow, vault)
    seed(uow, vault, "C002", mobile="13700000002", national_id="110105194912310021")
    assert stored_versions(connection) == {1}
    new = rotated(vault)
    report = keys.reencrypt(connection, new, actor="ops", batch_size=1)
    assert stored_versions(connection) == {2}
    assert report.tables["borrowers"].rows_rewritten == 2
    assert report.tables["borrowers"].values_reencrypted == 10
    assert report.tables["contact_points"].values_reencrypted == 4
    assert report.batches == 4
    (event,) = audit.events(connection, action="keys.rotate")
    assert event.payload["key_version"] == 2
    # old readers are gone: only the new key (plus the kept index key) is needed now
    only_new = PiiVault(NEW_KEY, key_version=2, index_key=TEST_KEY)
    assert (
        privacy.reveal(
            connection,
            only_new,
            actor="a",
            role="agent",
            borrower_id=borrower_id,
            field="mobile",
            purpose="contact",
        )
        == "13812345678"
    )
    with uow:
        found = uow.borrowers.find_by_mobile(only_new, "+86 138 1234 5678")
        assert [b.id for b in found] == [borrower_id]
        assert [
            b.external_ref for b in uow.borrowers.find_by_national_id(new, "110105194912310021")
        ] == ["C002"]


def test_rotation_is_resumable_and_skips_rows_already_at_the_current_version(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    seed(uow, vault)
    new = rotated(vault)
    keys.reencrypt(connection, new, actor="ops")
    second = keys.reencrypt(connection, new, actor="ops")
    assert second.values_reencrypted == 0
    assert second.tables["borrowers"].rows_seen == 1
    # data written before the rotation by an old process is still readable and gets picked up
    seed(uow, vault, "C003", mobile="13700000003", national_id="110105194912310030")
    assert stored_versions(connection) == {1, 2}
    third = keys.reencrypt(connection, new, actor="ops")
    assert third.tables["borrowers"].rows_rewritten == 1
    assert stored_versions(connection) == {2}


# ---------------------------------------------------------------- retention


def _message_sent(connection: Connection, vault: PiiVault, borrower_id: int) -> int:
    """A message sent to the borrower, its text stored encrypted as the dispatcher does."""
    loan = connection.execute(select(Loan.id).where(Loan.borrower_id == borrower_id)).scalar()
    at = datetime(2019, 3, 1, 2, 0, tzinfo=UTC)
    return int(
        connection.execute(
            insert(OutboxMessage)
            .values(
                as_of=at.date(),
                loan_id=loan,
                borrower_id=borrower_id,
                action_index=0,
                channel="sms",
                template="CN.M1.REMIND.SMS",
                dedupe_key=f"privacy-{borrower_id:056d}",
                status="sent",
                created_at=at,
                due_at=at,
                next_attempt_at=at,
                sent_at=at,
                body_enc=vault.encrypt("您好，您的借款已逾期。", context="outbox.body"),
            )
            .returning(OutboxMessage.id)
        ).scalar_one()
    )


def test_retention_anonymises_an_old_paid_off_borrower_only(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    old_id, old_loan = seed(uow, vault, "OLD", start=date(2019, 1, 10), paid_off=True)
    open_id, _ = seed(
        uow,
        vault,
        "OPEN",
        start=date(2019, 1, 10),
        mobile="13700000009",
        national_id="110105194912310099",
    )  # never paid: still open
    recent_id, _ = seed(
        uow,
        vault,
        "NEW",
        start=date(2025, 1, 10),
        paid_off=True,
        mobile="13700000010",
        national_id="110105194912310100",
    )
    as_of = date(2026, 6, 1)
    sent = {who: _message_sent(connection, vault, who) for who in (old_id, open_id)}

    dry = retention.purge(connection, vault, as_of=as_of, actor="ops", now=NOW, dry_run=True)
    assert (dry.counts["borrowers"], dry.counts["contact_points"], dry.counts["holds"]) == (1, 1, 0)
    assert audit.events(connection, action="retention.purge") == []
    assert (
        connection.execute(select(Borrower.anonymised_at).where(Borrower.id == old_id)).scalar()
        is None
    )

    report = retention.purge(connection, vault, as_of=as_of, actor="ops", now=NOW)
    assert report.counts == dry.counts
    row = connection.execute(select(Borrower).where(Borrower.id == old_id)).one()
    assert vault.decrypt(row.name_enc, context="borrowers.name") == "已匿名 anonymised"
    assert row.national_id_enc is None and row.national_id_bidx is None
    assert row.mobile_enc is None and row.mobile_bidx is None
    assert row.email_enc is None and row.address_enc is None
    assert row.external_ref == f"ANON-{old_id}" and row.anonymised_at is not None
    # accounting survives
    assert (
        connection.execute(select(Payment.amount).where(Payment.loan_id == old_loan)).scalar()
        == 101_500
    )
    for other in (open_id, recent_id):
        assert (
            connection.execute(select(Borrower.anonymised_at).where(Borrower.id == other)).scalar()
            is None
        )
    # the text of a message as sent goes with the borrower; the open borrower's stays
    bodies = dict(
        connection.execute(
            select(OutboxMessage.id, OutboxMessage.body_enc).where(
                OutboxMessage.id.in_(sent.values())
            )
        ).all()
    )
    assert bodies[sent[old_id]] is None and bodies[sent[open_id]] is not None
    assert report.counts["outbox"] == 1
    (event,) = audit.events(connection, action="retention.purge")
    assert event.payload == {"as_of": "2026-06-01", "counts": report.counts}
    # a second run finds nothing left to do; the masked view shows the erasure
    again = retention.purge(connection, vault, as_of=as_of, actor="ops", now=NOW)
    assert again.borrowers_anonymised == 0
    view = privacy.masked_view(connection, vault, "agent", old_id)
    assert view["anonymised"] and view["mobile"] is None and view["contact_points"] == []
    with pytest.raises(NotFound):
        privacy.reveal(
            connection,
            vault,
            actor="a",
            role="agent",
            borrower_id=old_id,
            field="mobile",
            purpose="contact",
        )


def test_retention_waits_for_limitation_plus_one_year() -> None:
    # paid off early in 2020, last instalment due 2022-01-01: limitation + 1 = 2026-01-01
    assert retention.retention_end(date(2020, 3, 1), date(2022, 1, 1)) == date(2026, 1, 1)
    assert retention.retention_end(date(2024, 2, 29), None) == date(2027, 2, 28)


# ---------------------------------------------------------------- PIPL export


def test_privacy_export_holds_everything_and_is_audited_without_personal_data(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, loan_id = seed(uow, vault, paid_off=True)
    data = privacy.export_borrower(
        connection,
        vault,
        actor="dpo",
        role="compliance_officer",
        borrower_ref="C001",
        purpose="privacy_request",
    )
    assert data["borrower"]["name"] == "张三丰"
    assert data["borrower"]["national_id"] == "41010519900101123X"
    assert data["contact_points"][0]["value"] == "13900001111"
    assert data["contact_points"][0]["provenance"] == "contract"
    assert [loan["id"] for loan in data["loans"]] == [loan_id]
    assert data["instalments"][0]["principal"] == 100_000
    assert data["payments"][0]["amount"] == 101_500
    assert "account_states" in data
    (event,) = audit.events(connection, action="privacy.export")
    assert event.subject_id == str(borrower_id)
    assert event.payload["rows"]["payments"] == 1
    assert "张三丰" not in repr(event) and "13900001111" not in repr(event)


@pytest.mark.parametrize(
    ("role", "purpose"), [("agent", "privacy_request"), ("compliance_officer", "complaint")]
)
def test_privacy_export_refuses_without_the_role_and_purpose(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault, role: str, purpose: str
) -> None:
    seed(uow, vault)
    with pytest.raises(PermissionDenied):
        privacy.export_borrower(
            connection, vault, actor="x", role=role, borrower_ref="C001", purpose=purpose
        )
    assert audit.events(connection, action="privacy.export") == []
