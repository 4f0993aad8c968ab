"""The collector's workbench (issue 15, items 3 and 4): notes encrypted at rest, callbacks
through the gate and in the agent's queue when due, search by phone / ID number / name
scoped and audited without the query, unmasking to dial following the gate, the outcome
with no default and a note, worked / unworked state and "next account", refusals beside
their fields in the user's language. On SQLite and PostgreSQL (the ``built`` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.store.workbench import AccountNote, Callback

NOTE = "借款人说下周一发工资后还款，新手机 13912345678"


def _call(agent, loan_id: int) -> int:  # type: ignore[no-untyped-def]
    made = agent.post(
        f"/accounts/{loan_id}/contact", data={"channel": "call"}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    attempt = int(re.search(r"attempt=(\d+)", made.headers["location"]).group(1))  # type: ignore[union-attr]
    return attempt


def _mobile(db, loan_id: int) -> str:  # type: ignore[no-untyped-def]
    blob = db.conn.execute(
        select(Borrower.mobile_enc)
        .join(Loan, Loan.borrower_id == Borrower.id)
        .where(Loan.id == loan_id)
    ).scalar_one()
    return db.vault.decrypt(bytes(blob), context=Contexts.BORROWER_MOBILE)


def test_the_outcome_has_no_default_and_is_saved_with_an_encrypted_note_then_next(  # type: ignore[no-untyped-def]
    sign_in, book, db
) -> None:
    agent = sign_in("agent1")
    attempt = _call(agent, book.queue_loan)
    page = agent.get(f"/accounts/{book.queue_loan}?attempt={attempt}")
    form = page.text.split('id="outcome-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="outcome"' in form and "checked" not in form  # no preselected outcome

    # no outcome chosen: refused beside the field, in Chinese, the note kept
    missing = agent.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt}/outcome", data={"note": NOTE}
    )
    assert missing.status_code == 422
    assert 'id="outcome-error"' in missing.text and "请检查记录联系结果：必填" in missing.text
    assert NOTE in missing.text.split('id="outcome-form"', 1)[1]
    stored = db.conn.execute(
        select(ContactAttempt.outcome).where(ContactAttempt.id == attempt)
    ).scalar_one()
    assert stored is None

    # too long a note: the limit in words, the chosen outcome kept, nothing recorded
    long = agent.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt}/outcome?lang=en",
        data={"outcome": "right_party", "note": "x" * 2001},
    )
    assert long.status_code == 422 and "Call note: at most 2000 characters" in long.text
    assert 'value="right_party" required checked' in long.text

    done = agent.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt}/outcome",
        data={"outcome": "right_party", "note": NOTE, "then": "next"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/workbench/next?after={book.queue_loan}"
    row = db.conn.execute(select(AccountNote).where(AccountNote.attempt_id == attempt)).one()
    assert NOTE.encode() not in bytes(row.text_enc) and b"13912345678" not in bytes(row.text_enc)
    events = db.conn.execute(
        select(AuditEvent.payload).where(AuditEvent.action == "note.add")
    ).scalars()
    assert all("13912345678" not in (p or "") for p in events)
    assert NOTE in agent.get(f"/accounts/{book.queue_loan}").text  # shown in clear

    # next account: another unworked item of the queue; the worked one says so
    following = agent.get(done.headers["location"], follow_redirects=False)
    assert following.status_code == 303
    target = following.headers["location"]
    assert target == "/workbench?done=1" or target.startswith("/accounts/")
    assert f"/accounts/{book.queue_loan}#" not in target
    queue = agent.get("/workbench?lang=zh").text
    row_html = queue.split(f'data-loan="{book.queue_loan}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-worked="true"' in queue and "今日已处理" in row_html and "接通" in row_html


def test_a_contact_left_without_an_outcome_is_listed_until_recorded(sign_in, book) -> None:  # type: ignore[no-untyped-def]
    agent = sign_in("agent1")
    attempt = _call(agent, book.queue_loan)
    bench = agent.get("/workbench").text
    assert 'id="pending"' in bench and f"attempt={attempt}" in bench
    # opening the account brings its outcome form back
    assert 'id="outcome-form"' in agent.get(f"/accounts/{book.queue_loan}").text
    agent.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt}/outcome", data={"outcome": "no_answer"}
    )
    assert f"attempt={attempt}" not in agent.get("/workbench").text


def test_a_callback_goes_through_the_gate_and_lands_in_the_queue_when_due(  # type: ignore[no-untyped-def]
    sign_in, book, db, clock
) -> None:
    agent = sign_in("agent1")
    base = f"/accounts/{book.queue_loan}/callbacks"
    day = (clock.now + timedelta(days=1)).date().isoformat()
    # 23:30 in the borrower's time: quiet hours, refused with the rule beside the field
    night = agent.post(base, data={"callback_at": f"{day}T23:30"})
    assert night.status_code == 409
    error = night.text.split('id="callback-error"', 1)[1].split("</p>", 1)[0]
    assert "CN.HOURS.QUIET" in error and "该时间不能回电" in error
    assert f'value="{day}T23:30"' in night.text  # what was typed stays
    past = agent.post(base, data={"callback_at": "2020-01-01T10:00"})
    assert past.status_code == 422 and "必须是将来的时间" in past.text
    assert (
        db.conn.execute(select(Callback.id).where(Callback.loan_id == book.queue_loan)).first()
        is None
    )

    ok = agent.post(base, data={"callback_at": f"{day}T10:30"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    again = agent.post(base, data={"callback_at": f"{day}T11:00"}, follow_redirects=False)
    assert again.status_code == 303  # supersedes the first: one open callback per loan
    rows = (
        db.conn.execute(
            select(Callback.status).where(Callback.loan_id == book.queue_loan).order_by(Callback.id)
        )
        .scalars()
        .all()
    )
    assert rows == ["cancelled", "open"]
    assert 'id="callbacks"' not in agent.get("/workbench").text  # not due within a day yet?
    clock.now = clock.now + timedelta(days=1, hours=1, minutes=5)  # 11:05 next day
    agent = sign_in("agent1")  # the session of yesterday has expired
    bench = agent.get("/workbench").text
    assert 'id="callbacks"' in bench and "已到时间" in bench
    nxt = agent.get("/workbench/next", follow_redirects=False)
    assert nxt.headers["location"] == f"/accounts/{book.queue_loan}#contact"
    _call(agent, book.queue_loan)  # the call keeps the promise: the callback is done
    status = (
        db.conn.execute(
            select(Callback.status)
            .where(Callback.loan_id == book.queue_loan)
            .order_by(Callback.id.desc())
        )
        .scalars()
        .first()
    )
    assert status == "done"


def test_search_by_phone_and_id_number_is_scoped_and_audited_without_the_query(  # type: ignore[no-untyped-def]
    sign_in, book, db
) -> None:
    agent = sign_in("agent1")
    phone = _mobile(db, book.queue_loan)
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    found = agent.get("/accounts", params={"q": spaced}, follow_redirects=False)
    if found.status_code == 303:
        assert found.headers["location"].startswith(f"/accounts/{book.queue_loan}")
    else:
        assert f'href="/accounts/{book.queue_loan}"' in found.text
    payloads = (
        db.conn.execute(select(AuditEvent.payload).where(AuditEvent.action == "account.search"))
        .scalars()
        .all()
    )
    assert payloads and all(phone not in (p or "") for p in payloads)
    assert '"kind": "phone"' in payloads[-1] or "phone" in payloads[-1]

    # an agency agent finds only its placements
    other_phone = _mobile(db, book.other_loan)
    agency = sign_in("agency1")
    page = agency.get("/accounts", params={"q": other_phone}, follow_redirects=False)
    assert page.status_code == 200 and f"/accounts/{book.other_loan}" not in page.text
    assert "没有找到匹配的账户" in page.text
    placed = agency.get(
        "/accounts", params={"q": _mobile(db, book.placed_loan)}, follow_redirects=False
    )
    assert f"/accounts/{book.placed_loan}" in (placed.headers.get("location", "") + placed.text)

    too_long = agent.get("/accounts", params={"q": "1" * 80})
    assert too_long.status_code == 422 and 'id="q-error"' in too_long.text


def test_the_borrower_view_lists_every_loan_of_the_borrower(sign_in, book, db) -> None:  # type: ignore[no-untyped-def]
    owners = db.conn.execute(select(Loan.borrower_id, Loan.id).order_by(Loan.id)).all()
    by_borrower: dict[int, list[int]] = {}
    for borrower_id, loan_id in owners:
        by_borrower.setdefault(int(borrower_id), []).append(int(loan_id))
    several = next((ids for ids in by_borrower.values() if len(ids) > 1), None)
    if several is None:
        return  # the book has no borrower with two loans
    page = sign_in("compliance1").get(f"/accounts/{several[0]}").text
    section = page.split('id="borrower-loans"', 1)[1].split("</section>", 1)[0]
    for loan_id in several[1:]:
        assert f'href="/accounts/{loan_id}"' in section


def test_unmasking_the_number_to_dial_follows_the_gate(sign_in, book, db, clock) -> None:  # type: ignore[no-untyped-def]
    path = f"/api/v1/accounts/{book.queue_loan}/unmask"
    body = {"field": "mobile", "purpose": "contact"}
    # 07:30 in Shanghai: the gate blocks a call, so the number stays masked
    clock.now = clock.now.replace(hour=23, minute=30) - timedelta(days=1)
    agent = sign_in("agent1")
    refused = agent.post(path, json=body)
    assert refused.status_code == 409, refused.text
    assert "CN.HOURS.QUIET" in refused.json()["error"]["details"]
    page = agent.post(f"/accounts/{book.queue_loan}/unmask", data=body)
    assert page.status_code == 409 and 'id="unmask-error"' in page.text
    assert _mobile(db, book.queue_loan) not in page.text
    blocked = (
        db.conn.execute(select(AuditEvent.payload).where(AuditEvent.action == "pii.unmask_blocked"))
        .scalars()
        .all()
    )
    assert len(blocked) == 2
    clock.now = clock.now + timedelta(hours=1)  # 08:30: allowed
    shown = agent.post(path, json=body)
    assert shown.status_code == 200 and shown.json()["value"] == _mobile(db, book.queue_loan)
