"""The agents' reply inbox page (回复收件箱, issue 13): replies in the reader's scope, text
for the roles that read correspondence, marked handled with the CSRF token, audited once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from tests.web.conftest import MORNING, Book, RolledBackDatabase

from forbear.services.outreach import replies
from forbear.services.outreach.callbacks import CallbackKind, SignedCallback, accept
from forbear.store.audit import AuditEvent
from forbear.store.crypto import Contexts
from forbear.store.models import ContactPoint, Loan


def _reply(db: RolledBackDatabase, loan_id: int | None, text: str, n: int) -> int:
    """A reply received through the use case, from the loan's debtor (or an unknown number)."""
    if loan_id is None:
        sender = "13900000009"
    else:
        enc = db.conn.execute(
            select(ContactPoint.value_enc)
            .join(Loan, Loan.borrower_id == ContactPoint.borrower_id)
            .where(Loan.id == loan_id, ContactPoint.kind == "phone")
            .order_by(ContactPoint.owner_type != "debtor", ContactPoint.id)
        ).first()
        assert enc is not None
        sender = db.vault.decrypt(enc[0], context=Contexts.CONTACT_VALUE)
    callback = SignedCallback(
        "sms-cn", CallbackKind.REPLY, f"{n:064x}", datetime.fromtimestamp(0, UTC)
    )
    incoming = replies.IncomingReply(channel="sms", sender=sender, text=text, event_id=f"page-{n}")
    accepted = accept(db.conn, callback, replies.event_key(incoming, db.vault), now=MORNING)
    done = replies.receive_reply(
        db.conn, accepted, incoming, provider="sms-cn", vault=db.vault, now=MORNING
    )
    assert done.reply_id is not None
    return done.reply_id


def _handled_events(db: RolledBackDatabase, reply_id: int) -> int:
    return int(
        db.conn.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "reply.handled", AuditEvent.subject_id == str(reply_id))
        ).scalar_one()
    )


def test_the_inbox_lists_replies_and_marks_them_handled(client, sign_in, book: Book, db) -> None:  # type: ignore[no-untyped-def]
    mine = _reply(db, book.queue_loan, "我下周一还款，可以吗？", 1)
    stranger = _reply(db, None, "你们是谁？", 2)
    agent = sign_in("agent1")
    page = agent.get("/replies")
    assert page.status_code == 200
    assert "回复收件箱" in page.text and 'id="nav-replies"' in page.text
    assert "我下周一还款，可以吗？" in page.text and "你们是谁？" in page.text
    assert f'href="/accounts/{book.queue_loan}"' in page.text or "/accounts/" in page.text
    assert "未匹配" in page.text
    token = agent.headers.pop("X-CSRF-Token")
    refused = agent.post(f"/replies/{mine}/handled")
    assert refused.status_code == 403 and _handled_events(db, mine) == 0
    done = agent.post(
        f"/replies/{mine}/handled", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    after = agent.get(done.headers["location"])
    assert "已标记为已处理" in after.text
    assert "我下周一还款，可以吗？" not in after.text and "你们是谁？" in after.text
    again = agent.post(
        f"/replies/{mine}/handled", data={"csrf_token": token}, follow_redirects=False
    )
    assert again.status_code == 303 and "already_handled" in again.headers["location"]
    assert _handled_events(db, mine) == 1
    assert stranger != mine


def test_scope_and_who_reads_the_text(client, sign_in, book: Book, db) -> None:  # type: ignore[no-untyped-def]
    other = _reply(db, book.other_loan, "请问逾期多少钱", 3)
    placed = _reply(db, book.placed_loan, "已经还了", 4)
    agency = sign_in("agency1")
    page = agency.get("/replies")
    assert page.status_code == 200
    assert "已经还了" in page.text and "请问逾期多少钱" not in page.text
    token = agency.headers["X-CSRF-Token"]
    outside = agency.post(f"/replies/{other}/handled", data={"csrf_token": token})
    assert outside.status_code == 404 and _handled_events(db, other) == 0
    legal = sign_in("legal1")
    hidden = legal.get("/replies")
    assert hidden.status_code == 200
    assert "已经还了" not in hidden.text and "您的角色无权查看回复内容" in hidden.text
    assert "/handled" not in hidden.text  # no form to mark it handled
    assert placed != other
