"""Personal data at rest, on SQLite and PostgreSQL (issue 11, findings 3 and 4 and the
privacy export): the retention purge erases everything personal about a borrower who has
a complaint, holds, portal codes and sessions, a promise, a plan, a legal case and a case
library entry; its dry run counts and changes nothing; free text is stored encrypted,
shown decrypted, re-encrypted by a key rotation and given back by the PIPL export, which
leaves our secrets out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from factories import make_product
from forbear.domain.access import Actor
from forbear.services import complaints, contacts, keys, legal, plans, portal, privacy, retention
from forbear.services import promises as promise_service
from forbear.store.complaints import Complaint
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, DecryptionFailed, PiiVault
from forbear.store.legal import LegalCase, LegalCaseEvent, LegalQueueEntry
from forbear.store.models import (
    Base,
    Borrower,
    ContactKind,
    ContactPoint,
    Instalment,
    Loan,
    OwnerType,
    Payment,
    Provenance,
)
from forbear.store.plans import Plan
from forbear.store.portal import ArticleView, PortalCode, PortalSession
from forbear.store.promises import Promise
from uow import SqlAlchemyUnitOfWork

TEST_KEY = bytes(range(32))  # the `vault` fixture's key (tests/integration/conftest.py)
NEW_KEY = bytes(range(100, 132))
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
AS_OF = date(2040, 1, 1)

NAME, NATIONAL_ID, MOBILE = "张三丰", "41010519900101123X", "13812345678"
EMAIL, ADDRESS = "zhangsan@example.com", "广东省深圳市南山区科技园1号"
SECOND_PHONE, CONTACT_PHONE, CONTACT_NAME = "13811112222", "13900001111", "李四"
INCOME = 7_654_321
CASE_NUMBER = "(2026)沪0115民初12345号"
# Free text the borrower and the staff typed, each with something personal in it.
TYPED = {
    "description": "张三丰说催收员半夜打他的手机13812345678",
    "extension": "需调取录音，身份证41010519900101123X核实中",
    "resolution": "已向张三丰致歉，住院期间暂停联系",
    "lesson": "张三丰住院期间不应联系，应及早提供还款计划",
    "hold": "借款人住院（心脏手术），家属电话13900001111",
    "promise": "张三丰说工资被拖欠",
    "plan": "张三丰失业，收入证明见邮件 zhangsan@example.com",
    "closed": "张三丰已全额还款，撤诉",
}


def seed(
    uow: SqlAlchemyUnitOfWork,
    vault: PiiVault,
    ref: str,
    *,
    mobile: str,
    national_id: str,
    paid_off: bool,
    start: date = date(2019, 1, 10),
    name: str = NAME,
    email: str = EMAIL,
    address: str = ADDRESS,
) -> tuple[int, int]:
    with uow:
        product_id = uow.products.add(make_product(code=f"P{ref}")).id
        borrower = uow.borrowers.add_encrypted(
            vault,
            external_ref=ref,
            name=name,
            national_id=national_id,
            mobile=mobile,
            email=email,
            address=address,
            province="广东省",
            city="深圳市",
        )
        uow.flush()
        uow.contact_points.add_encrypted(
            vault,
            borrower_id=borrower.id,
            kind=ContactKind.PHONE,
            value=CONTACT_PHONE if paid_off else "13900009999",
            owner_type=OwnerType.EMERGENCY_CONTACT,
            provenance=Provenance.CONTRACT,
            owner_name=CONTACT_NAME if paid_off else "赵六",
            relation="friend",
        )
        if paid_off:
            uow.contact_points.add_encrypted(
                vault,
                borrower_id=borrower.id,
                kind=ContactKind.PHONE,
                value=SECOND_PHONE,
                owner_type=OwnerType.DEBTOR,
                provenance=Provenance.SUPPLIED_BY_DEBTOR,
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


def add_plan(conn: Connection, loan_id: int) -> int:
    return int(
        conn.execute(
            insert(Plan)
            .values(
                loan_id=loan_id,
                plan_type="hardship",
                status="offered",
                base_date=date(2026, 3, 2),
                expires_on=date(2026, 3, 16),
                end_date=date(2026, 9, 2),
                role="supervisor",
                terms={"months": 6, "income": INCOME, "expenses": 300_000},
                covered=101_500,
                added_interest=0,
                waived=0,
                discount=0,
                released=0,
                scheduled=101_500,
                findings=[],
                policy_sha256="0" * 64,
                created_by="web:super1",
            )
            .returning(Plan.id)
        ).scalar_one()
    )


def add_case(conn: Connection, loan_id: int) -> int:
    entry = conn.execute(
        insert(LegalQueueEntry)
        .values(
            loan_id=loan_id,
            queued_on=date(2026, 3, 2),
            status="case_opened",
            reasons="[]",
            created_by="system",
            created_at=NOW,
        )
        .returning(LegalQueueEntry.id)
    ).scalar_one()
    case_id = int(
        conn.execute(
            insert(LegalCase)
            .values(
                loan_id=loan_id,
                queue_entry_id=entry,
                stage="review",
                opened_on=date(2026, 3, 2),
                stage_on=date(2026, 3, 2),
                court="上海市浦东新区人民法院",
                case_number=CASE_NUMBER,
                opened_by="web:legal1",
                created_at=NOW,
            )
            .returning(LegalCase.id)
        ).scalar_one()
    )
    conn.execute(
        insert(LegalCaseEvent).values(
            case_id=case_id,
            from_stage=None,
            stage="review",
            stage_on=date(2026, 3, 2),
            case_number=CASE_NUMBER,
            created_by="web:legal1",
            created_at=NOW,
        )
    )
    return case_id


def everything(conn: Connection, vault: PiiVault, borrower_id: int, loan_id: int) -> dict[str, Any]:
    """Give the borrower every kind of personal trace Forbear can hold, through the
    services wherever one exists."""
    sent = portal.request_code(conn, vault, mobile=MOBILE, client_key="c" * 64, now=NOW)
    assert sent.code is not None
    session = portal.verify_code(conn, vault, mobile=MOBILE, code=sent.code, now=NOW)
    assert session is not None
    # a code asked for the borrower's other number, before it was known as theirs
    conn.execute(
        insert(PortalCode).values(
            phone_key=portal.mobile_key(vault, SECOND_PHONE),
            client_key="d" * 64,
            borrower_id=None,
            code_hash="e" * 64,
            created_at=NOW,
            expires_at=NOW,
        )
    )
    conn.execute(
        insert(ArticleView).values(slug="budget", lang="zh", borrower_id=borrower_id, viewed_at=NOW)
    )
    complaint_id = complaints.file_complaint(
        conn,
        vault,
        borrower_id=borrower_id,
        loan_id=loan_id,
        source="portal",
        category="harassment",
        description=TYPED["description"],
        actor=portal.actor_of(borrower_id),
        now=NOW,
    )
    complaints.start_work(conn, complaint_id, actor="web:compliance", now=NOW)
    complaints.extend(
        conn, vault, complaint_id, reason=TYPED["extension"], actor="web:compliance", now=NOW
    )
    complaints.resolve(
        conn,
        vault,
        complaint_id,
        resolution=TYPED["resolution"],
        root_cause="agent_conduct",
        actor="web:compliance",
        now=NOW,
    )
    complaints.add_case(
        conn,
        vault,
        loan_id=loan_id,
        outcome="failure",
        category="complaint",
        lesson=TYPED["lesson"],
        actor="web:super1",
        now=NOW,
    )
    hold_id = contacts.add_hold(
        conn,
        loan_id=loan_id,
        kind="cease",
        actor="web:super1",
        since=NOW,
        typed_reason=TYPED["hold"],
        vault=vault,
    )
    promise_id = int(
        conn.execute(
            insert(Promise)
            .values(
                loan_id=loan_id,
                borrower_id=borrower_id,
                amount=10_000,
                promised_on=date(2026, 3, 9),
                source="agent",
                status="open",
                taken_by="agent:7",
                taken_at=NOW,
                taken_on=date(2026, 3, 2),
            )
            .returning(Promise.id)
        ).scalar_one()
    )
    promise_service.cancel_promise(
        conn,
        promise_id,
        actor="agent:7",
        as_of=date(2026, 3, 2),
        reason=TYPED["promise"],
        vault=vault,
    )
    plan_id = add_plan(conn, loan_id)
    plans.cancel_plan(
        conn,
        plan_id,
        as_of=date(2026, 3, 2),
        actor=Actor("web:super1"),
        reason=TYPED["plan"],
        vault=vault,
    )
    case_id = add_case(conn, loan_id)
    legal.advance(
        conn,
        case_id,
        "closed",
        role="legal",
        actor="web:legal1",
        on=date(2026, 3, 3),
        reason=TYPED["closed"],
        vault=vault,
    )
    return {
        "complaint": complaint_id,
        "hold": hold_id,
        "promise": promise_id,
        "plan": plan_id,
        "case": case_id,
        "csrf": session.session.csrf_token,
        "token": session.token,
    }


def text_of(conn: Connection, vault: PiiVault) -> dict[str, str]:
    """Every row of every table as text, encrypted values decrypted, per table."""
    found: dict[str, str] = {}
    for name, table in sorted(Base.metadata.tables.items()):
        sealed = keys.encrypted_columns(name)
        parts = []
        for row in conn.execute(select(table)):
            for column, value in row._mapping.items():
                if isinstance(value, (bytes, memoryview)):
                    # every encrypted column is known (test_every_encrypted_column_...)
                    parts.append(vault.decrypt(bytes(value), context=sealed[column]))
                else:
                    parts.append(json.dumps(value, ensure_ascii=False, default=str))
        found[name] = "\n".join(parts)
    return found


def _value(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _hex(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def snapshot(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as stored."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in sorted(Base.metadata.tables.items()):
        rows = [tuple(_value(v) for v in row) for row in conn.execute(select(table))]
        found[name] = sorted(rows, key=repr)
    return found


# ---------------------------------------------------------------- retention


def test_the_purge_erases_everything_personal_and_its_dry_run_counts_without_changing(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    old_id, old_loan = seed(
        uow, vault, "OLD", mobile=MOBILE, national_id=NATIONAL_ID, paid_off=True
    )
    open_id, open_loan = seed(
        uow,
        vault,
        "OPEN",
        mobile="13700000009",
        national_id="110105194912310099",
        paid_off=False,
        name="王五",
        email="wangwu@example.com",
        address="北京市朝阳区建国路2号",
    )
    made = everything(connection, vault, old_id, old_loan)
    kept = complaints.file_complaint(
        connection,
        vault,
        borrower_id=open_id,
        loan_id=open_loan,
        source="agent",
        category="attitude",
        description="仍在催收的借款人的投诉",
        actor="agent:7",
        now=NOW,
    )
    old = connection.execute(select(Borrower).where(Borrower.id == old_id)).one()
    point_keys = list(
        connection.execute(
            select(ContactPoint.value_bidx).where(ContactPoint.borrower_id == old_id)
        ).scalars()
    )
    secrets = [NAME, NATIONAL_ID, MOBILE, SECOND_PHONE, EMAIL, ADDRESS, CONTACT_PHONE]
    secrets += [CONTACT_NAME, CASE_NUMBER, str(INCOME), made["csrf"], *TYPED.values()]
    secrets += [old.mobile_bidx, old.national_id_bidx, *point_keys]
    before_text = "\n".join(text_of(connection, vault).values())
    assert [s for s in secrets if s not in before_text] == []  # it sees what it looks for

    before = snapshot(connection)
    dry = retention.purge(connection, vault, as_of=AS_OF, actor="ops", now=NOW, dry_run=True)
    assert snapshot(connection) == before  # the dry run changes nothing
    assert dry.borrowers_considered == 1
    expected = {
        "borrowers": 1,
        "contact_points": 2,
        "portal_codes": 2,
        "portal_sessions": 1,
        "portal_outbox": 1,
        "article_views": 1,
        "complaints": 1,
        "case_library": 1,
        "holds": 1,
        "promises": 1,
        "plans": 1,
        "legal_cases": 1,
        "legal_case_events": 2,
    }
    assert {k: dry.counts[k] for k in expected} == expected

    report = retention.purge(connection, vault, as_of=AS_OF, actor="ops", now=NOW)
    assert report.counts == dry.counts
    after = text_of(connection, vault)
    for table, text in after.items():
        left = [s for s in secrets if s in text]
        assert left == [], f"{table} still holds {left}"
    # the records the law keeps are still there, de-identified
    complaint = complaints.get_complaint(connection, vault, made["complaint"], as_of=AS_OF)
    assert complaint.description == retention.ANONYMISED_TEXT
    assert complaint.resolution == retention.ANONYMISED_TEXT
    assert complaint.root_cause == "agent_conduct" and complaint.hold_id is not None
    hold = connection.execute(select(Hold).where(Hold.id == made["hold"])).one()
    assert (hold.kind, hold.reason_enc) == ("cease", None)
    plan_terms = connection.execute(select(Plan.terms).where(Plan.id == made["plan"])).scalar()
    assert plan_terms == {"months": 6}
    assert legal.get_case(connection, made["case"], vault=vault).stage.value == "closed"
    assert portal.from_session(connection, made["token"], NOW) is None
    # the other borrower keeps everything
    other = complaints.get_complaint(connection, vault, kept, as_of=AS_OF)
    assert other.description == "仍在催收的借款人的投诉"
    # a second run has nothing left to do
    again = retention.purge(connection, vault, as_of=AS_OF, actor="ops", now=NOW)
    assert again.borrowers_anonymised == 0 and sum(again.counts.values()) == 0


def test_every_table_that_can_point_at_a_person_is_reviewed_by_the_purge() -> None:
    for name, table in Base.metadata.tables.items():
        columns = set(table.c.keys())
        personal = columns & {"borrower_id", "loan_id", "case_id", "contact_point_id"}
        sealed = {c for c in columns if c.endswith(("_enc", "_bidx", "_key"))}
        if (personal or sealed) and name not in ("audit_events", "sign_in_attempts"):
            assert name in retention.REVIEWED, f"{name}: what does the purge do with it?"


# ---------------------------------------------------------------- free text at rest


def test_free_text_is_stored_encrypted_and_shown_to_whoever_may_see_it(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, loan_id = seed(
        uow, vault, "C1", mobile=MOBILE, national_id=NATIONAL_ID, paid_off=True
    )
    made = everything(connection, vault, borrower_id, loan_id)
    raw = snapshot(connection)
    stored = json.dumps(
        {n: [[_hex(v) for v in r] for r in rows] for n, rows in raw.items()},
        ensure_ascii=False,
        default=str,
    )
    for typed in TYPED.values():
        assert typed not in stored  # no clear copy in any table, the audit trail included
    view = complaints.get_complaint(connection, vault, made["complaint"], as_of=date(2026, 3, 2))
    assert (view.description, view.extension_reason, view.resolution) == (
        TYPED["description"],
        TYPED["extension"],
        TYPED["resolution"],
    )
    found = complaints.search_cases(connection, vault, text="住院期间")
    assert found["lesson"].to_list() == [TYPED["lesson"]]
    assert legal.get_case(connection, made["case"], vault=vault).closed_reason == TYPED["closed"]
    promise = connection.execute(select(Promise).where(Promise.id == made["promise"])).one()
    assert promise.cancel_reason == "cancelled"
    assert (
        vault.decrypt(promise.cancel_reason_enc, context=Contexts.PROMISE_CANCEL_REASON)
        == TYPED["promise"]
    )
    # a ciphertext is bound to its column: copied elsewhere it does not decrypt
    blob = connection.execute(
        select(Complaint.description_enc).where(Complaint.id == made["complaint"])
    ).scalar_one()
    with pytest.raises(DecryptionFailed):
        vault.decrypt(blob, context=Contexts.COMPLAINT_RESOLUTION)


def test_every_encrypted_column_is_rotated_and_free_text_reads_with_the_new_key_only(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    sealed = {
        (table.name, column) for table, columns in keys.ENCRYPTED.items() for column in columns
    }
    for name, table in Base.metadata.tables.items():
        for column in table.c:
            if column.name.endswith("_enc"):
                assert (name, column.name) in sealed, f"{name}.{column.name} is not re-encrypted"
    borrower_id, loan_id = seed(
        uow, vault, "C1", mobile=MOBILE, national_id=NATIONAL_ID, paid_off=True
    )
    made = everything(connection, vault, borrower_id, loan_id)
    rotated = PiiVault(NEW_KEY, key_version=2, previous_keys={1: TEST_KEY}, index_key=TEST_KEY)
    report = keys.reencrypt(connection, rotated, actor="ops", batch_size=2)
    for name in ("complaints", "case_library", "holds", "promises", "plans", "legal_cases"):
        assert report.tables[name].values_reencrypted >= 1, name
    assert set(keys.versions_in_use(connection)) == {2}
    new_only = PiiVault(NEW_KEY, key_version=2, index_key=TEST_KEY)
    view = complaints.get_complaint(connection, new_only, made["complaint"], as_of=AS_OF)
    assert view.description == TYPED["description"]
    case = legal.get_case(connection, made["case"], vault=new_only)
    assert case.closed_reason == TYPED["closed"]
    with pytest.raises(DecryptionFailed):
        complaints.get_complaint(connection, vault, made["complaint"], as_of=AS_OF)


# ---------------------------------------------------------------- PIPL export


def test_the_export_gives_the_person_their_data_and_not_our_secrets(
    uow: SqlAlchemyUnitOfWork, connection: Connection, vault: PiiVault
) -> None:
    borrower_id, loan_id = seed(
        uow, vault, "C1", mobile=MOBILE, national_id=NATIONAL_ID, paid_off=True
    )
    made = everything(connection, vault, borrower_id, loan_id)
    borrower = connection.execute(select(Borrower).where(Borrower.id == borrower_id)).one()
    session_row = connection.execute(
        select(PortalSession.token_sha256).where(PortalSession.borrower_id == borrower_id)
    ).scalar_one()
    code_rows = connection.execute(
        select(PortalCode.code_hash, PortalCode.client_key).where(
            PortalCode.borrower_id == borrower_id
        )
    ).all()
    data = privacy.export_borrower(
        connection,
        vault,
        actor="dpo",
        role="compliance_officer",
        borrower_ref="C1",
        purpose="privacy_request",
    )
    text = json.dumps(data, ensure_ascii=False, default=str)
    # their data, free text decrypted
    (complaint,) = data["complaints"]
    assert complaint["description"] == TYPED["description"]
    assert complaint["resolution"] == TYPED["resolution"]
    typed_holds = [h["reason_typed"] for h in data["holds"] if h["reason_typed"]]
    assert typed_holds == [TYPED["hold"]]
    assert data["promises"][0]["cancel_reason"] == "cancelled"
    assert data["promises"][0]["cancel_reason_typed"] == TYPED["promise"]
    assert data["plans"][0]["cancel_reason"] == TYPED["plan"]
    assert data["legal_cases"][0]["closed_reason"] == TYPED["closed"]
    assert data["legal_case_events"][-1]["notes"] == TYPED["closed"]  # the closing note
    assert data["case_library"][0]["lesson"] == TYPED["lesson"]
    assert len(data["portal_sessions"]) == 1 and len(data["portal_codes"]) == 1
    # not our secrets
    secrets = [made["csrf"], made["token"], session_row, borrower.mobile_bidx]
    secrets += [borrower.national_id_bidx, *(c for row in code_rows for c in row if c)]
    for secret in secrets:
        assert secret not in text
    for rows in data.values():
        for row in rows if isinstance(rows, list) else [rows]:
            assert not any(
                k.endswith(("_bidx", "_key", "_hash", "_sha256", "_enc")) or k == "csrf_token"
                for k in row
            ), row.keys()
    assert "payload" not in json.dumps(data.get("portal_outbox", []))
