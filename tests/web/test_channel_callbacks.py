"""The paths back (issue 13, item 4): signed receipts, replies and payments under
/api/v1/channels, on SQLite and PostgreSQL, over the web test book.

Every refusal (unknown provider, unsigned, malformed signature, stale, wrongly signed,
replayed, malformed body) answers 401/400 with its own code and changes nothing; an event
delivered again answers ``duplicate`` with no second effect."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, insert, select, update
from tests.web.conftest import AS_OF, MORNING, Book, Clock, RolledBackDatabase

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import default_rules
from forbear.domain.signatures import sign
from forbear.services import situation
from forbear.services.contacts import evaluate_contact
from forbear.services.outreach import replies
from forbear.services.promises import add_promise
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import Contexts
from forbear.store.models import ContactPoint, Loan, Payment
from forbear.store.outreach import ChannelCallback, InboundMessage
from forbear.store.promises import Promise
from forbear.store.runs import OutboxMessage

PROVIDER = "sms-cn"
SECRET = b"a shared secret of the sms provider"
AGENT = Actor("web:agent1", Role.AGENT)


@pytest.fixture
def signed_db(db: RolledBackDatabase) -> RolledBackDatabase:
    # replies to the agents' inbox, as before issue 14 (the assistant's route of an SMS
    # reply is tested in tests/web/assistant/test_inbound_sms.py)
    db.settings = db.settings.model_copy(
        update={"channel_secrets": {PROVIDER: SecretStr(SECRET.decode())}, "assistant_sms": False}
    )
    return db


Post = Callable[..., Any]


@pytest.fixture
def post(signed_db: RolledBackDatabase, client: TestClient, clock: Clock) -> Post:
    def send(
        kind: str,
        payload: Any,
        *,
        provider: str = PROVIDER,
        ts: int | None = None,
        secret: bytes = SECRET,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Any:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        moment = int(clock.now.timestamp()) if ts is None else ts
        sent = {
            "content-type": "application/json",
            "x-forbear-timestamp": str(moment),
            "x-forbear-signature": sign(secret, moment, body),
        }
        if headers is not None:
            sent = {"content-type": "application/json", **headers}
        return client.post(f"/api/v1/channels/{provider}/{kind}", content=body, headers=sent)

    return send


def _counts(db: RolledBackDatabase) -> dict[str, int]:
    def n(table: Any) -> int:
        return int(db.conn.execute(select(func.count()).select_from(table)).scalar_one())

    return {
        "callbacks": n(ChannelCallback),
        "inbound": n(InboundMessage),
        "payments": n(Payment),
        "holds": n(Hold),
        "outbox": n(OutboxMessage),
    }


def _debtor_phone(db: RolledBackDatabase, loan_id: int) -> tuple[int, int, str]:
    """(borrower id, contact point id, phone in clear) of the loan's debtor."""
    row = db.conn.execute(
        select(ContactPoint.id, ContactPoint.borrower_id, ContactPoint.value_enc)
        .join(Loan, Loan.borrower_id == ContactPoint.borrower_id)
        .where(
            Loan.id == loan_id, ContactPoint.kind == "phone", ContactPoint.owner_type == "debtor"
        )
        .order_by(ContactPoint.id)
    ).first()
    assert row is not None
    phone = db.vault.decrypt(row.value_enc, context=Contexts.CONTACT_VALUE)
    return int(row.borrower_id), int(row.id), phone


def _sent_sms(db: RolledBackDatabase, loan_id: int) -> tuple[int, str, int]:
    """An SMS handed to the provider for ``loan_id``: (outbox id, dedupe key, attempt id)."""
    borrower_id, point_id, _ = _debtor_phone(db, loan_id)
    attempt_id = db.conn.execute(
        insert(ContactAttempt)
        .values(
            loan_id=loan_id,
            borrower_id=borrower_id,
            contact_point_id=point_id,
            channel="sms",
            party="debtor",
            actor="system:dispatch",
            at=MORNING - timedelta(minutes=30),
            allowed=True,
            blocked_by="[]",
            created_at=MORNING - timedelta(minutes=30),
        )
        .returning(ContactAttempt.id)
    ).scalar_one()
    key = f"test-{loan_id}-{attempt_id}".ljust(16, "x")
    outbox_id = db.conn.execute(
        insert(OutboxMessage)
        .values(
            as_of=AS_OF,
            loan_id=loan_id,
            borrower_id=borrower_id,
            action_index=0,
            channel="sms",
            template="CN.M1.REMIND.SMS",
            contact_point_id=point_id,
            dedupe_key=key,
            status="sent",
            created_at=MORNING - timedelta(hours=1),
            origin="run",
            due_at=MORNING - timedelta(hours=1),
            next_attempt_at=MORNING - timedelta(hours=1),
            provider=PROVIDER,
            provider_ref="prov-ref-1",
            contact_attempt_id=attempt_id,
            sent_at=MORNING - timedelta(minutes=30),
        )
        .returning(OutboxMessage.id)
    ).scalar_one()
    return int(outbox_id), key, int(attempt_id)


# ----------------------------------------------------------------------- refusals


REFUSALS = ["unknown_provider", "missing", "malformed", "stale", "mismatch"]


@pytest.mark.parametrize("kind", ["receipts", "replies", "payments"])
@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_bad_signature_is_refused_and_changes_nothing(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock, kind: str, refusal: str
) -> None:
    _, _, phone = _debtor_phone(signed_db, book.queue_loan)
    payload = {
        "receipts": {"message_id": "x" * 20, "status": "delivered", "at": MORNING.isoformat()},
        "replies": {"from": phone, "text": "退订"},
        "payments": {
            "transaction_id": "TX-BAD-SIG",
            "loan_id": book.queue_loan,
            "amount": "100.00",
            "paid_at": "2026-11-20 09:00:00",
        },
    }[kind]
    before = _counts(signed_db)
    now = int(clock.now.timestamp())
    body = json.dumps(payload, ensure_ascii=False).encode()
    if refusal == "unknown_provider":
        answer = post(kind, payload, provider="nobody")
    elif refusal == "missing":
        answer = post(kind, payload, headers={"x-forbear-timestamp": str(now)})
    elif refusal == "malformed":
        answer = post(
            kind,
            payload,
            headers={"x-forbear-timestamp": "yesterday", "x-forbear-signature": "0" * 64},
        )
    elif refusal == "stale":
        answer = post(kind, payload, ts=now - 3600)
    else:
        forged = sign(b"another secret", now, body)
        answer = post(
            kind, payload, headers={"x-forbear-timestamp": str(now), "x-forbear-signature": forged}
        )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == f"signature_{refusal}"
    assert _counts(signed_db) == before


def test_a_body_signed_then_altered_is_refused(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock
) -> None:
    now = int(clock.now.timestamp())
    body = b'{"transaction_id": "TX-1", "loan_id": 1, "amount": "1.00", "paid_at": "2026-11-20"}'
    signature = sign(SECRET, now, body)
    altered = body.replace(b"1.00", b"9999.00")
    before = _counts(signed_db)
    answer = post(
        "payments",
        None,
        raw=altered,
        headers={"x-forbear-timestamp": str(now), "x-forbear-signature": signature},
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "signature_mismatch"
    assert _counts(signed_db) == before


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("payments", b"{not json"),
        ("payments", b"[]"),
        ("payments", b'{"transaction_id": "TX-2"}'),
        ("receipts", b'{"message_id": "abc", "status": "exploded", "at": "2026-11-20T02:00:00Z"}'),
        ("receipts", b'{"message_id": "abc", "status": "delivered", "at": "2026-11-20 10:00"}'),
        ("replies", b'{"text": "hello"}'),
    ],
)
def test_a_malformed_body_is_400_and_changes_nothing(
    post: Post, signed_db: RolledBackDatabase, kind: str, raw: bytes
) -> None:
    before = _counts(signed_db)
    answer = post(kind, None, raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "malformed_callback"
    assert _counts(signed_db) == before


def test_the_same_signed_request_twice_is_a_replay(
    post: Post, signed_db: RolledBackDatabase, book: Book, client: TestClient, clock: Clock
) -> None:
    _, _, phone = _debtor_phone(signed_db, book.queue_loan)
    body = json.dumps({"from": phone, "text": "请问怎么还款？", "event_id": "r-1"}).encode()
    now = int(clock.now.timestamp())
    headers = {
        "content-type": "application/json",
        "x-forbear-timestamp": str(now),
        "x-forbear-signature": sign(SECRET, now, body),
    }
    first = client.post(f"/api/v1/channels/{PROVIDER}/replies", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "applied"}
    before = _counts(signed_db)
    again = client.post(f"/api/v1/channels/{PROVIDER}/replies", content=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "signature_replayed"
    assert _counts(signed_db) == before


# ----------------------------------------------------------------------- receipts


def test_a_delivery_receipt_updates_the_message_and_the_outcome_once(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock
) -> None:
    outbox_id, key, attempt_id = _sent_sms(signed_db, book.queue_loan)
    receipt = {"message_id": key, "status": "delivered", "at": MORNING.isoformat()}
    first = post("receipts", receipt)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "status": "applied",
        "outbox_status": "delivered",
        "outcome": "delivered",
    }
    row = signed_db.conn.execute(
        select(OutboxMessage.status, OutboxMessage.delivered_at).where(
            OutboxMessage.id == outbox_id
        )
    ).one()
    assert row.status == "delivered"
    assert row.delivered_at == MORNING
    outcome = signed_db.conn.execute(
        select(ContactAttempt.outcome).where(ContactAttempt.id == attempt_id)
    ).scalar_one()
    assert outcome == "delivered"
    before = _counts(signed_db)
    again = post("receipts", receipt, ts=int(clock.now.timestamp()) + 1)  # freshly signed
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    after = _counts(signed_db)
    assert after == {**before, "callbacks": before["callbacks"] + 1}


def test_a_receipt_by_provider_ref_and_an_unknown_message(
    post: Post, signed_db: RolledBackDatabase, book: Book
) -> None:
    _outbox_id, _, _ = _sent_sms(signed_db, book.queue_loan)
    found = post(
        "receipts",
        {"provider_ref": "prov-ref-1", "status": "undelivered", "at": MORNING.isoformat()},
    )
    assert found.status_code == 200, found.text
    assert found.json()["outbox_status"] == "failed"
    before = _counts(signed_db)
    unknown = post(
        "receipts",
        {"message_id": "no-such-message", "status": "delivered", "at": MORNING.isoformat()},
    )
    assert unknown.status_code == 404
    assert _counts(signed_db) == before


def test_an_invalid_number_receipt_stops_that_number(
    post: Post, signed_db: RolledBackDatabase, book: Book
) -> None:
    loan = book.queue_loan
    _outbox_id, key, _attempt_id = _sent_sms(signed_db, loan)
    _, point_id, _ = _debtor_phone(signed_db, loan)
    at = MORNING + timedelta(minutes=5)
    rules = default_rules()
    before = evaluate_contact(
        signed_db.conn, loan_id=loan, channel="sms", at=at, rules=rules, contact_point_id=point_id
    )
    answer = post(
        "receipts", {"message_id": key, "status": "invalid_number", "at": MORNING.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "invalid_number"
    hold = signed_db.conn.execute(
        select(Hold.kind, Hold.loan_id).where(
            Hold.contact_point_id == point_id, Hold.until.is_(None)
        )
    ).one()
    assert (hold.kind, hold.loan_id) == ("do_not_contact", None)
    after = evaluate_contact(
        signed_db.conn, loan_id=loan, channel="sms", at=at, rules=rules, contact_point_id=point_id
    )
    assert not after.allowed
    assert set(after.blocked_by) - set(before.blocked_by), after.blocked_by


def test_a_receipt_for_a_message_never_sent_is_a_conflict(
    post: Post, signed_db: RolledBackDatabase, book: Book
) -> None:
    outbox_id, key, _ = _sent_sms(signed_db, book.queue_loan)
    signed_db.conn.execute(
        update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(status="queued")
    )
    before = _counts(signed_db)
    answer = post("receipts", {"message_id": key, "status": "delivered", "at": MORNING.isoformat()})
    assert answer.status_code == 409
    assert _counts(signed_db) == before


# ----------------------------------------------------------------------- replies


def _sms_allowed(db: RolledBackDatabase, loan_id: int, point_id: int) -> Any:
    return evaluate_contact(
        db.conn,
        loan_id=loan_id,
        channel="sms",
        at=MORNING + timedelta(minutes=10),
        rules=default_rules(),
        contact_point_id=point_id,
    )


def test_an_opt_out_reply_holds_sms_and_queues_one_confirmation(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock
) -> None:
    loan = book.queue_loan
    borrower_id, point_id, phone = _debtor_phone(signed_db, loan)
    assert "CN.HOLD" not in " ".join(_sms_allowed(signed_db, loan, point_id).blocked_by)
    answer = post("replies", {"from": f"+86 {phone}", "text": " 退 訂！", "event_id": "in-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "applied"}
    holds = signed_db.conn.execute(
        select(Hold.kind, Hold.channel, Hold.loan_id, Hold.contact_point_id).where(
            Hold.borrower_id == borrower_id, Hold.kind == "opt_out"
        )
    ).all()
    assert [tuple(h) for h in holds] == [("opt_out", "sms", None, None)]
    blocked = _sms_allowed(signed_db, loan, point_id)
    assert not blocked.allowed
    confirmations = signed_db.conn.execute(
        select(OutboxMessage.template, OutboxMessage.channel, OutboxMessage.contact_point_id).where(
            OutboxMessage.borrower_id == borrower_id, OutboxMessage.origin == "system"
        )
    ).all()
    assert [tuple(c) for c in confirmations] == [(replies.CONFIRM_TEMPLATE, "sms", point_id)]
    # another opt-out (another event, another word) places nothing and confirms nothing again
    second = post(
        "replies",
        {"from": phone, "text": "TD", "event_id": "in-2"},
        ts=int(clock.now.timestamp()) + 2,
    )
    assert second.status_code == 200
    assert (
        signed_db.conn.execute(
            select(func.count())
            .select_from(Hold)
            .where(Hold.borrower_id == borrower_id, Hold.kind == "opt_out")
        ).scalar_one()
        == 1
    )
    assert (
        signed_db.conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.borrower_id == borrower_id, OutboxMessage.origin == "system")
        ).scalar_one()
        == 1
    )
    # e-mail is another medium: still open
    assert not any(h.channel == "email" for h in holds)


def test_other_replies_go_to_the_agents_inbox_and_unknown_senders_reveal_nothing(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock
) -> None:
    loan = book.queue_loan
    borrower_id, _, phone = _debtor_phone(signed_db, loan)
    known = post("replies", {"from": phone, "text": "不是我，你们发错了", "event_id": "in-3"})
    unknown = post(
        "replies",
        {"from": "13900000000", "text": "不是我", "event_id": "in-4"},
        ts=int(clock.now.timestamp()) + 1,
    )
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {"status": "applied"}
    stored = signed_db.conn.execute(
        select(
            InboundMessage.borrower_id, InboundMessage.routed_to, InboundMessage.body_enc
        ).order_by(InboundMessage.id)
    ).all()
    assert [(s.borrower_id, s.routed_to) for s in stored] == [
        (borrower_id, "agent"),
        (None, "agent"),
    ]
    assert "不是我".encode() not in stored[0].body_enc  # encrypted at rest
    conn, vault = signed_db.conn, signed_db.vault
    inbox = replies.list_unhandled(conn, AGENT, vault=vault, now=MORNING, today=AS_OF)
    assert [r.text for r in inbox] == ["不是我，你们发错了", "不是我"]
    timeline = replies.list_for_borrower(
        conn, AGENT, borrower_id, vault=vault, now=MORNING, today=AS_OF
    )
    assert [r.text for r in timeline] == ["不是我，你们发错了"]
    # an agency agent sees neither: the borrower is not placed with it, the other unmatched
    agency = Actor("web:agency1", Role.AGENCY_AGENT, agency_id=7)
    assert replies.list_unhandled(conn, agency, vault=vault, now=MORNING, today=AS_OF) == []
    assert replies.mark_handled(conn, AGENT, inbox[0].id, now=MORNING, today=AS_OF)
    assert not replies.mark_handled(conn, AGENT, inbox[0].id, now=MORNING, today=AS_OF)
    left = replies.list_unhandled(conn, AGENT, vault=vault, now=MORNING, today=AS_OF)
    assert [r.id for r in left] == [inbox[1].id]


# ----------------------------------------------------------------------- payments


def test_a_payment_posts_once_and_the_situation_reads_it_at_once(
    post: Post, signed_db: RolledBackDatabase, book: Book, clock: Clock
) -> None:
    loan = book.m2_plus_loan
    conn = signed_db.conn
    before = situation.of_loan(conn, loan, AS_OF, MORNING)[1]
    assert before is not None and before["overdue_total"] > 0
    ref = conn.execute(select(Loan.external_ref).where(Loan.id == loan)).scalar_one()
    payload = {
        "transaction_id": "TX-LIVE-1",
        "loan_ref": ref,
        "amount": "12.34",
        "paid_at": "2026-11-20 09:30:00",
        "channel": "app",
    }
    first = post("payments", payload)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied"
    assert first.json()["amount_fen"] == 1234
    after = situation.of_loan(conn, loan, AS_OF, MORNING)[1]
    assert after is not None
    assert after["overdue_total"] == before["overdue_total"] - 1234
    counts = _counts(signed_db)
    again = post("payments", payload, ts=int(clock.now.timestamp()) + 1)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert _counts(signed_db) == {**counts, "callbacks": counts["callbacks"] + 1}
    different = post("payments", {**payload, "amount": "99.00"}, ts=int(clock.now.timestamp()) + 2)
    assert different.status_code == 409
    assert _counts(signed_db) == {**counts, "callbacks": counts["callbacks"] + 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"paid_at": "last tuesday"}, "paid_at"),
        ({"paid_at": "2026-12-25 09:00:00"}, "paid_at"),  # in the future
        ({"channel": "bitcoin"}, "channel"),
        ({"transaction_id": "TX 1;drop"}, "transaction_id"),
    ],
)
def test_a_payment_the_import_would_refuse_is_400_and_changes_nothing(
    post: Post, signed_db: RolledBackDatabase, book: Book, change: dict[str, str], field: str
) -> None:
    payload = {
        "transaction_id": "TX-LIVE-2",
        "loan_id": book.m2_plus_loan,
        "amount": "10.00",
        "paid_at": "2026-11-20 09:30:00",
        **change,
    }
    before = _counts(signed_db)
    answer = post("payments", payload)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_callback"
    assert answer.json()["error"]["field"] == field
    assert _counts(signed_db) == before


def test_a_payment_for_an_unknown_loan_is_404(post: Post, signed_db: RolledBackDatabase) -> None:
    before = _counts(signed_db)
    answer = post(
        "payments",
        {
            "transaction_id": "TX-3",
            "loan_ref": "NO-SUCH-LOAN",
            "amount": "1",
            "paid_at": "2026-11-20",
        },
    )
    assert answer.status_code == 404
    assert _counts(signed_db) == before


def test_a_payment_that_cures_the_loan_cancels_its_reminders_and_keeps_its_promise(
    post: Post, signed_db: RolledBackDatabase, book: Book, sign_in: Callable[[str], TestClient]
) -> None:
    conn = signed_db.conn
    loan = None
    queued_loans = (
        conn.execute(
            select(OutboxMessage.loan_id)
            .where(OutboxMessage.status == "queued")
            .group_by(OutboxMessage.loan_id)
            .order_by(OutboxMessage.loan_id)
        )
        .scalars()
        .all()
    )
    for candidate in queued_loans:
        found = situation.of_loan(conn, candidate, AS_OF, MORNING)[1]
        if found is not None and found["overdue_total"] > 0 and found["needs_work"]:
            loan, overdue = candidate, int(found["overdue_total"])
            break
    assert loan is not None, "the book has an overdue loan with queued messages"
    borrower_id = conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    promise_id = add_promise(
        conn,
        loan_id=loan,
        amount=overdue,
        promised_on=AS_OF + timedelta(days=2),
        source="agent",
        actor="test",
        as_of=AS_OF,
        taken_at=MORNING - timedelta(hours=1),
        replace=True,
    )
    agent = sign_in("agent1")
    shown = agent.get(f"/api/v1/accounts/{loan}")
    assert shown.status_code == 200
    assert shown.json()["situation"]["governed_by"] == "promise"
    yuan = f"{overdue // 100}.{overdue % 100:02d}"
    answer = post(
        "payments",
        {
            "transaction_id": "TX-CURE",
            "loan_id": loan,
            "amount": yuan,
            "paid_at": "2026-11-20 09:45:00",
        },
    )
    assert answer.status_code == 200, answer.text
    after = situation.of_loan(conn, loan, AS_OF, MORNING)[1]
    assert after is not None and after["overdue_total"] == 0
    # the account as the workbench's API shows it reads the payment at once
    now_shown = agent.get(f"/api/v1/accounts/{loan}").json()["situation"]
    assert now_shown["needs_work"] is False and now_shown["active_promise"] is False
    statuses = conn.execute(
        select(OutboxMessage.status, OutboxMessage.reason_rules).where(
            OutboxMessage.loan_id == loan
        )
    ).all()
    assert all(s.status != "queued" for s in statuses)
    assert any(s.status == "cancelled" and "OUTBOX.PAID" in s.reason_rules for s in statuses)
    promise = conn.execute(
        select(Promise.status, Promise.amount_paid).where(Promise.id == promise_id)
    ).one()
    assert promise.status == "kept"
    assert promise.amount_paid == overdue
    assert borrower_id is not None


def test_a_third_party_opting_out_stops_only_their_own_number(
    post: Post, signed_db: RolledBackDatabase, book: Book
) -> None:
    conn = signed_db.conn
    row = conn.execute(
        select(ContactPoint.id, ContactPoint.borrower_id, ContactPoint.value_enc)
        .where(ContactPoint.kind == "phone", ContactPoint.owner_type != "debtor")
        .order_by(ContactPoint.id)
    ).first()
    assert row is not None, "the book has third-party phone numbers"
    phone = signed_db.vault.decrypt(row.value_enc, context=Contexts.CONTACT_VALUE)
    others = conn.execute(
        select(func.count())
        .select_from(ContactPoint)
        .where(ContactPoint.value_bidx == signed_db.vault.blind_index("phone", phone))
    ).scalar_one()
    answer = post("replies", {"from": phone, "text": "STOP", "event_id": "3p-1"})
    assert answer.status_code == 200, answer.text
    holds = conn.execute(
        select(Hold.contact_point_id, Hold.channel, Hold.loan_id).where(
            Hold.borrower_id == row.borrower_id, Hold.kind == "opt_out"
        )
    ).all()
    if others == 1:  # the number is on this one file only, as a third party's
        assert [tuple(h) for h in holds] == [(row.id, "sms", None)]
        debtor_hold = conn.execute(
            select(func.count())
            .select_from(Hold)
            .where(
                Hold.borrower_id == row.borrower_id,
                Hold.kind == "opt_out",
                Hold.contact_point_id.is_(None),
            )
        ).scalar_one()
        assert debtor_hold == 0
    else:
        assert (row.id, "sms", None) in [tuple(h) for h in holds]


def test_the_body_size_limit_applies_to_callbacks(
    post: Post, signed_db: RolledBackDatabase, book: Book
) -> None:
    _, _, phone = _debtor_phone(signed_db, book.queue_loan)
    huge = {"from": phone, "text": "好" * (signed_db.settings.max_body_bytes // 3 + 10)}
    before = _counts(signed_db)
    answer = post("replies", huge)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert _counts(signed_db) == before
