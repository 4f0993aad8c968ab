"""The sent-messages page (已发送消息) and the outbox API: the run's messages dispatched
through the real use cases, listed with status and text (masked for roles that may not
read it), retry and cancel with permission and scope, in Chinese and English."""

from __future__ import annotations

import json

from sqlalchemy import select, update
from tests.web.conftest import MORNING, TEST_KEY, Book, RolledBackDatabase

from forbear.domain.compliance.config import default_rules
from forbear.services.outreach import claims, dispatch
from forbear.services.outreach.dispatch import SendResult
from forbear.store.crypto import PiiVault
from forbear.store.runs import OutboxMessage

API = "/api/v1/outbox"


def dispatch_some(db: RolledBackDatabase, n: int = 5) -> list[int]:
    """Send ``n`` of the run's due messages through the real use cases; returns their ids."""
    vault = PiiVault(TEST_KEY)
    conn = db.conn
    batch = claims.claim(conn, "web-test", MORNING, n)
    prepared = dispatch.prepare(
        conn,
        vault,
        default_rules(),
        batch,
        worker_id="web-test",
        now=MORNING,
        today=MORNING.date(),
        public_url="https://lender.example",
    )
    dispatch.finish(
        conn,
        [(r, SendResult("accepted", "sandbox", "s-1")) for r in prepared.ready],
        worker_id="web-test",
        now=MORNING,
    )
    return [r.outbox_id for r in prepared.ready]


def one_with(db: RolledBackDatabase, status: str) -> tuple[int, int]:
    row = db.conn.execute(
        select(OutboxMessage.id, OutboxMessage.loan_id)
        .where(OutboxMessage.status == status)
        .order_by(OutboxMessage.id)
        .limit(1)
    ).one()
    return int(row.id), int(row.loan_id)


def test_the_page_lists_messages_with_their_text_for_an_agent(
    client, sign_in, db: RolledBackDatabase, book: Book
) -> None:  # type: ignore[no-untyped-def]
    sent = dispatch_some(db)
    assert sent, "the run queued messages that may go at 10:00"
    c = sign_in("agent1")
    page = c.get("/sent?status=sent")
    assert page.status_code == 200
    assert "已发送消息" in page.text and 'id="nav-sent"' in page.text
    assert f'data-message="{sent[0]}"' in page.text
    assert "已脱敏" not in page.text  # an agent reads what was sent
    english = c.get("/sent?status=sent&lang=en")
    assert "Sent messages" in english.text


def test_a_role_without_contact_or_compliance_sees_the_text_masked(
    client, sign_in, db: RolledBackDatabase
) -> None:  # type: ignore[no-untyped-def]
    dispatch_some(db, 3)
    c = sign_in("legal1")  # account.view only
    found = c.get(API, params={"status": "sent"}).json()["items"]
    assert found and all(i["text_masked"] for i in found)
    assert all(not any(ch.isdigit() for ch in i["text"]) for i in found)
    assert not any(i["can_cancel"] or i["can_retry"] for i in found)
    officer = sign_in("compliance1")
    shown = officer.get(API, params={"status": "sent"}).json()["items"]
    assert shown and not any(i["text_masked"] for i in shown)


def test_an_admin_without_account_view_is_refused(client, sign_in) -> None:  # type: ignore[no-untyped-def]
    c = sign_in("admin1")
    assert c.get("/sent").status_code == 403
    assert c.get(API).status_code == 403


def test_cancel_a_queued_message_and_retry_a_dead_one(
    client, sign_in, db: RolledBackDatabase
) -> None:  # type: ignore[no-untyped-def]
    c = sign_in("super1")
    queued, _ = one_with(db, "queued")
    answer = c.post(f"/sent/{queued}/cancel", follow_redirects=False)
    assert answer.status_code == 303
    row = db.conn.execute(select(OutboxMessage).where(OutboxMessage.id == queued)).one()
    assert row.status == "cancelled" and json.loads(row.reason_rules) == ["OUTBOX.MANUAL"]
    # once cancelled it cannot be cancelled again
    assert c.post(f"{API}/{queued}/cancel").status_code == 409
    # a dead message goes back to the queue, due now, tries reset
    dead, _ = one_with(db, "queued")
    db.conn.execute(
        update(OutboxMessage).where(OutboxMessage.id == dead).values(status="dead", tries=5)
    )
    assert c.post(f"{API}/{dead}/retry").json() == {"id": dead, "status": "queued"}
    row = db.conn.execute(select(OutboxMessage).where(OutboxMessage.id == dead)).one()
    assert (row.status, row.tries) == ("queued", 0)
    assert c.post(f"{API}/999999/retry").status_code == 404


def test_an_agency_agent_sees_and_touches_only_its_placements(
    client, sign_in, db: RolledBackDatabase, book: Book
) -> None:  # type: ignore[no-untyped-def]
    c = sign_in("agency1")
    seen = {i["loan_id"] for i in c.get(API, params={"limit": 500}).json()["items"]}
    assert seen <= {book.placed_loan}
    outside = db.conn.execute(
        select(OutboxMessage.id)
        .where(OutboxMessage.loan_id != book.placed_loan, OutboxMessage.status == "queued")
        .limit(1)
    ).scalar_one()
    assert c.post(f"{API}/{outside}/cancel").status_code == 404


def test_status_counts_match_the_outbox(client, sign_in, db: RolledBackDatabase) -> None:  # type: ignore[no-untyped-def]
    dispatch_some(db, 4)
    c = sign_in("super1")
    counts = c.get(f"{API}/status").json()
    by_status: dict[str, int] = {}
    for entry in counts:
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + entry["count"]
    stored = db.conn.execute(select(OutboxMessage.status)).scalars().all()
    assert by_status == {s: stored.count(s) for s in set(stored)}
    assert c.get(API, params={"status": "nonsense"}).status_code == 422
