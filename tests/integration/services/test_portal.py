"""The borrower portal's services on SQLite and PostgreSQL: sign-in by a one-time code
(hashed, expiring, limited; no enumeration), own loans only, and each use case stored with
its audit event or refused with nothing written.

The book: L0001 and L0002 belong to C0001 (mobile 13812345678), L0003 to C0002 (mobile
13911112222); each lends from 2026-01-15, monthly from 2026-02-15; nothing has been paid,
so by 2026-04-20 every loan is overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from clocks import SETUP_AT, SETUP_DAY
from factories import VALID_IDS, csv_text, make_loan_row, make_product
from forbear.domain.compliance.config import default_rules
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import contacts
from forbear.services import portal as svc
from forbear.services.imports import import_loans, import_products
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import PiiVault
from forbear.store.models import Borrower
from forbear.store.plans import Plan
from forbear.store.portal import PaymentIntent, PortalCode, PortalOutbox, PortalSession
from forbear.store.promises import Promise

TODAY = date(2026, 4, 20)
NOW = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
MOBILE = "13812345678"
OTHER_MOBILE = "13911112222"


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    path = tmp_path / "loans.csv"
    rows = [
        make_loan_row(),
        make_loan_row(loan_ref="L0002", principal="3000", term_months="24"),
        make_loan_row(
            loan_ref="L0003",
            customer_ref="C0002",
            name="李娜",
            national_id=VALID_IDS[2],
            mobile=OTHER_MOBILE,
            emergency_name="",
            emergency_relation="",
            emergency_mobile="",
        ),
    ]
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    found = {ref: contacts.loan_id_for_ref(connection, ref) for ref in ("L0001", "L0002", "L0003")}
    borrower = connection.execute(
        select(Borrower.id).where(Borrower.external_ref == "C0001")
    ).scalar_one()
    other = connection.execute(
        select(Borrower.id).where(Borrower.external_ref == "C0002")
    ).scalar_one()
    return found | {"me": int(borrower), "other": int(other)}


def count(conn: Connection, table: object) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def snapshot(conn: Connection) -> tuple[int, ...]:
    return tuple(
        count(conn, t)
        for t in (
            AuditEvent,
            PortalCode,
            PortalOutbox,
            PortalSession,
            PaymentIntent,
            Promise,
            Plan,
            Hold,
        )
    )


def sign_in(conn: Connection, vault: PiiVault, mobile: str = MOBILE) -> svc.NewBorrowerSession:
    sent = svc.request_code(conn, vault, mobile=mobile, client_key="c1", now=NOW)
    assert sent.code is not None
    session = svc.verify_code(conn, vault, mobile=mobile, code=sent.code, now=NOW)
    assert session is not None
    return session


# --- sign-in ---------------------------------------------------------------------------------


def test_a_known_number_gets_a_hashed_code_and_an_sms_in_the_outbox(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    sent = svc.request_code(connection, vault, mobile="+86 138-1234-5678", client_key="c", now=NOW)
    assert sent.code is not None and len(sent.code) == 6 and sent.code.isdigit()
    assert sent.expires_at == NOW + timedelta(minutes=5)
    row = connection.execute(select(PortalCode)).one()
    assert row.borrower_id == book["me"]
    assert row.code_hash is not None and sent.code not in row.code_hash
    assert MOBILE not in row.phone_key
    message = connection.execute(select(PortalOutbox)).one()
    assert (message.channel, message.template, message.status) == (
        "sms",
        svc.CODE_TEMPLATE,
        "queued",
    )
    assert sent.code.encode() not in message.payload_enc
    assert svc.outbox_code(connection, vault, message.id) == sent.code
    event = connection.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None and event.action == "portal.code_sent"
    assert MOBILE not in str(event.payload) and sent.code not in str(event.payload)


def test_an_unknown_number_gets_the_same_answer_and_no_code(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    sent = svc.request_code(connection, vault, mobile="13700000000", client_key="c", now=NOW)
    assert sent.code is None and sent.expires_at == NOW + svc.CODE_TTL
    assert count(connection, PortalOutbox) == 0
    row = connection.execute(select(PortalCode)).one()
    assert row.borrower_id is None and row.code_hash is None
    # no code can sign in to it
    assert svc.verify_code(connection, vault, mobile="13700000000", code="123456", now=NOW) is None


def test_the_right_code_opens_a_session_once(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    sent = svc.request_code(connection, vault, mobile=MOBILE, client_key="c", now=NOW)
    assert sent.code is not None
    opened = svc.verify_code(connection, vault, mobile=MOBILE, code=sent.code, now=NOW)
    assert opened is not None and opened.session.borrower_id == book["me"]
    stored = connection.execute(select(PortalSession)).one()
    assert stored.token_sha256 == svc.sha256_hex(opened.token) and opened.token not in str(stored)
    found = svc.from_session(connection, opened.token, NOW + timedelta(minutes=5))
    assert found is not None and found.borrower_id == book["me"]
    # used: the same code again fails
    again = svc.verify_code(connection, vault, mobile=MOBILE, code=sent.code, now=NOW)
    assert again is None


def test_a_wrong_code_counts_and_the_fifth_failure_kills_the_code(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    sent = svc.request_code(connection, vault, mobile=MOBILE, client_key="c", now=NOW)
    assert sent.code is not None
    wrong = f"{(int(sent.code) + 1) % 1_000_000:06d}"
    for _ in range(svc.MAX_ATTEMPTS):
        assert svc.verify_code(connection, vault, mobile=MOBILE, code=wrong, now=NOW) is None
    assert connection.execute(select(PortalCode.attempts)).scalar_one() == svc.MAX_ATTEMPTS
    assert svc.verify_code(connection, vault, mobile=MOBILE, code=sent.code, now=NOW) is None


def test_an_expired_code_fails(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    sent = svc.request_code(connection, vault, mobile=MOBILE, client_key="c", now=NOW)
    assert sent.code is not None
    later = NOW + svc.CODE_TTL
    assert svc.verify_code(connection, vault, mobile=MOBILE, code=sent.code, now=later) is None


@pytest.mark.parametrize(
    ("mobile", "code", "field"),
    [("12345", "123456", "mobile"), ("abc", "123456", "mobile"), (MOBILE, "12a456", "code")],
)
def test_malformed_numbers_and_codes_are_refused_with_nothing_written(
    connection: Connection,
    vault: PiiVault,
    book: dict[str, int],
    mobile: str,
    code: str,
    field: str,
) -> None:
    before = snapshot(connection)
    with pytest.raises(ValidationError) as refused:
        svc.request_code(connection, vault, mobile=mobile, client_key="c", now=NOW)
        svc.verify_code(connection, vault, mobile=mobile, code=code, now=NOW)
    assert refused.value.field == field
    if field == "code":  # the request itself was fine
        return
    assert snapshot(connection) == before


def test_code_requests_are_limited_per_number_and_per_client(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    svc.request_code(connection, vault, mobile=MOBILE, client_key="c", now=NOW)
    before = snapshot(connection)
    with pytest.raises(svc.CodeThrottled) as early:
        svc.request_code(connection, vault, mobile=MOBILE, client_key="c", now=NOW)
    assert 1 <= early.value.retry_after <= 61
    assert snapshot(connection) == before
    for i in range(1, svc.PER_PHONE):
        svc.request_code(
            connection, vault, mobile=MOBILE, client_key="c", now=NOW + timedelta(minutes=2 * i)
        )
    with pytest.raises(svc.CodeThrottled):
        svc.request_code(
            connection, vault, mobile=MOBILE, client_key="x", now=NOW + timedelta(minutes=20)
        )
    # one client trying many numbers (known or not)
    for i in range(svc.PER_CLIENT):
        svc.request_code(connection, vault, mobile=f"1370000{i:04d}", client_key="scanner", now=NOW)
    with pytest.raises(svc.CodeThrottled):
        svc.request_code(connection, vault, mobile="13799999999", client_key="scanner", now=NOW)


def test_sessions_expire_when_idle_and_end_at_sign_out(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    opened = sign_in(connection, vault)
    assert svc.from_session(connection, opened.token, NOW + svc.IDLE) is None
    assert svc.from_session(connection, "forged", NOW) is None
    svc.sign_out(connection, opened.session, NOW)
    assert svc.from_session(connection, opened.token, NOW) is None


# --- own loans -------------------------------------------------------------------------------


def test_the_borrower_sees_their_loans_and_what_is_owed(
    connection: Connection, book: dict[str, int]
) -> None:
    loans = svc.loans_of(connection, book["me"])
    assert [loan.loan_ref for loan in loans] == ["L0001", "L0002"]
    owed = svc.owed(connection, book["me"], book["L0001"], TODAY)
    assert owed.dpd > 0 and owed.overdue_total > 0
    assert owed.overdue_total == (
        owed.overdue_principal + owed.overdue_interest + owed.overdue_fee + owed.overdue_penalty
    )
    assert owed.oldest_due_date == date(2026, 2, 15)
    assert owed.next_due_date is not None and owed.next_due_date >= TODAY
    assert owed.next_due_amount is not None and owed.next_due_amount > 0


def test_another_borrowers_loan_is_not_found_and_nothing_is_written(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    me, theirs = book["me"], book["L0003"]
    before = snapshot(connection)
    attempts = [
        lambda: svc.owed(connection, me, theirs, TODAY),
        lambda: svc.record_payment_intent(
            connection,
            borrower_id=me,
            loan_id=theirs,
            amount=100,
            method="alipay",
            as_of=TODAY,
            now=NOW,
        ),
        lambda: svc.make_promise(
            connection,
            borrower_id=me,
            loan_id=theirs,
            amount=100,
            promised_on=TODAY,
            as_of=TODAY,
            now=NOW,
        ),
        lambda: svc.plan_options(connection, me, theirs, TODAY),
        lambda: svc.choose_plan(
            connection, borrower_id=me, loan_id=theirs, option="deferral-1", as_of=TODAY
        ),
        lambda: svc.dispute(
            connection, borrower_id=me, loan_id=theirs, reason="amount_wrong", now=NOW
        ),
        lambda: svc.owed(connection, me, 999_999, TODAY),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert snapshot(connection) == before


def test_a_payment_intent_is_stored_and_audited(
    connection: Connection, book: dict[str, int]
) -> None:
    intent = svc.record_payment_intent(
        connection,
        borrower_id=book["me"],
        loan_id=book["L0001"],
        amount=50_000,
        method="wechat_pay",
        as_of=TODAY,
        now=NOW,
    )
    row = connection.execute(select(PaymentIntent).where(PaymentIntent.id == intent)).one()
    assert (row.amount, row.method, row.created_by) == (
        50_000,
        "wechat_pay",
        f"portal:borrower:{book['me']}",
    )
    event = connection.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None and event.action == "portal.payment_intent"


@pytest.mark.parametrize(
    ("amount", "method", "field"),
    [
        (0, "alipay", "amount"),
        (-5, "alipay", "amount"),
        (10**12, "alipay", "amount"),
        (100, "cash", "method"),
        ("100", "alipay", "amount"),
    ],
)
def test_bad_payment_intents_write_nothing(
    connection: Connection, book: dict[str, int], amount: object, method: str, field: str
) -> None:
    before = snapshot(connection)
    with pytest.raises(ValidationError) as refused:
        svc.record_payment_intent(
            connection,
            borrower_id=book["me"],
            loan_id=book["L0001"],
            amount=amount,  # type: ignore[arg-type]
            method=method,
            as_of=TODAY,
            now=NOW,
        )
    assert refused.value.field == field
    assert snapshot(connection) == before


def test_a_promise_from_the_portal_has_the_portal_source(
    connection: Connection, book: dict[str, int]
) -> None:
    promise_id = svc.make_promise(
        connection,
        borrower_id=book["me"],
        loan_id=book["L0001"],
        amount=80_000,
        promised_on=TODAY + timedelta(days=3),
        as_of=TODAY,
        now=NOW,
    )
    row = connection.execute(select(Promise).where(Promise.id == promise_id)).one()
    assert row.source == "portal" and row.amount == 80_000


def test_plan_options_stay_within_an_agents_limits_and_choosing_one_accepts_it(
    connection: Connection, book: dict[str, int]
) -> None:
    options, reason = svc.plan_options(connection, book["me"], book["L0001"], TODAY)
    assert reason is None
    keys = [o.key for o in options]
    # two months overdue: a deferral would leave February overdue, so instalments only
    assert keys == ["restructure-3", "restructure-6"]  # the agent's limit is 6 instalments
    for option in options:
        assert option.first_due_date > TODAY and option.total >= option.largest_amount > 0
    assert count(connection, Plan) == 0  # looking writes nothing
    chosen = svc.choose_plan(
        connection,
        borrower_id=book["me"],
        loan_id=book["L0001"],
        option="restructure-3",
        as_of=TODAY,
    )
    assert chosen.status.value == "accepted" and chosen.plan_type.value == "restructure"
    actions = list(
        connection.execute(
            select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.seq.desc()).limit(2)
        )
    )
    assert {a for a, _ in actions} == {"plan.offer", "plan.accepted"}
    assert {actor for _, actor in actions} == {f"portal:borrower:{book['me']}"}
    # an open plan: no further options, with the reason
    again, why = svc.plan_options(connection, book["me"], book["L0001"], TODAY)
    assert again == [] and why is not None


def test_an_unknown_plan_option_is_refused_with_nothing_written(
    connection: Connection, book: dict[str, int]
) -> None:
    before = snapshot(connection)
    for option in ("restructure-12", "settlement-10", "deferral-9", ""):
        with pytest.raises(ValidationError):
            svc.choose_plan(
                connection,
                borrower_id=book["me"],
                loan_id=book["L0001"],
                option=option,
                as_of=TODAY,
            )
    assert snapshot(connection) == before


def test_a_dispute_holds_the_loan_and_cannot_be_filed_twice(
    connection: Connection, book: dict[str, int]
) -> None:
    hold_id = svc.dispute(
        connection, borrower_id=book["me"], loan_id=book["L0001"], reason="already_paid", now=NOW
    )
    hold = connection.execute(select(Hold).where(Hold.id == hold_id)).one()
    assert (hold.kind, hold.loan_id, hold.reason) == (
        "dispute",
        book["L0001"],
        "portal dispute: already_paid",
    )
    before = snapshot(connection)
    with pytest.raises(Conflict):
        svc.dispute(
            connection, borrower_id=book["me"], loan_id=book["L0001"], reason="other", now=NOW
        )
    with pytest.raises(ValidationError):
        svc.dispute(
            connection, borrower_id=book["me"], loan_id=book["L0002"], reason="free text", now=NOW
        )
    assert snapshot(connection) == before


def test_an_opt_out_stops_one_channel_for_every_loan(
    connection: Connection, book: dict[str, int]
) -> None:
    svc.opt_out(connection, borrower_id=book["me"], channel="sms", now=NOW)
    assert svc.opted_out(connection, book["me"]) == ["sms"]
    hold = connection.execute(select(Hold)).one()
    assert (hold.kind, hold.channel, hold.loan_id) == ("opt_out", "sms", None)
    decision = contacts.evaluate_contact(
        connection,
        loan_id=book["L0002"],
        channel="sms",
        at=NOW,
        rules=default_rules(),
    )
    assert not decision.allowed and any("OPT" in r or "HOLD" in r for r in decision.blocked_by)
    before = snapshot(connection)
    with pytest.raises(Conflict):
        svc.opt_out(connection, borrower_id=book["me"], channel="sms", now=NOW)
    with pytest.raises(ValidationError):
        svc.opt_out(connection, borrower_id=book["me"], channel="letter", now=NOW)
    assert snapshot(connection) == before


def test_contact_history_shows_only_own_allowed_contacts_without_who(
    connection: Connection, book: dict[str, int]
) -> None:
    rules = default_rules()
    for loan in (book["L0001"], book["L0003"]):
        contacts.request_contact(
            connection,
            loan_id=loan,
            channel="call",
            actor="agent:secret-name",
            at=NOW,
            rules=rules,
        )
    history = svc.contact_history(connection, book["me"])
    assert [(h.loan_ref, h.channel) for h in history] == [("L0001", "call")]
    assert "secret-name" not in repr(history)
    assert count(connection, ContactAttempt) == 2


def test_rights_name_the_hotline_and_the_lenders_hours() -> None:
    rights = svc.rights(default_rules())
    assert rights.hotline == "12378" and rights.contact_windows == ["08:00-21:00"]
