"""The holds-and-disputes pages through the web app (issue 15, items 1 and 5), in Chinese
and English: the queue for those who may release holds (and nobody else), a hold's page
with release, refusals beside the form keeping what was typed, scope, the account page's
holds and its complaint form, filing by the loan reference, and the borrower's evidence
upload in the portal."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from forbear.services import contacts
from forbear.store.complaints import Complaint
from forbear.store.contacts import Hold
from forbear.store.hold_cases import DisputeEvidence
from forbear.store.models import Loan
from forbear.web.i18n import EN, ZH
from web.conftest import MORNING
from web.portal_helpers import portal_borrower, portal_sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _dispute(db, loan: int) -> int:  # type: ignore[no-untyped-def]
    return contacts.add_hold(
        db.conn,
        loan_id=loan,
        kind="dispute",
        actor="test",
        since=MORNING - timedelta(days=20),
        reason="portal dispute: amount_wrong",
    )


def test_the_queue_is_for_those_who_release_holds_in_both_languages(db, book, sign_in) -> None:  # type: ignore[no-untyped-def]
    hold = _dispute(db, book.queue_loan)
    agent = sign_in("agent1")
    assert agent.get("/holds").status_code == 403
    assert 'id="nav-holds"' not in agent.get("/workbench").text
    c = sign_in("super1")
    zh = c.get("/holds?kind=dispute&overdue=true")
    assert zh.status_code == 200 and 'id="nav-holds"' in zh.text
    row = re.search(rf'<tr data-hold="{hold}".*?</tr>', zh.text, re.S)
    assert row is not None, zh.text[:2000]
    assert "data-overdue" in row.group(0) and ZH["holds.overdue"] in row.group(0)
    assert "借款人在自助服务提出（金额不对）" in row.group(0) and ZH["holds.nobody"] in row.group(0)
    en = c.get("/holds?kind=dispute&lang=en")
    assert EN["holds.title"] in en.text and "The amount is wrong" in en.text
    assert c.get("/holds?kind=holiday").status_code == 422


def test_release_from_the_hold_page_needs_a_reason_and_happens_once(db, book, sign_in) -> None:  # type: ignore[no-untyped-def]
    hold = _dispute(db, book.queue_loan)
    c = sign_in("super1")
    page = c.get(f"/holds/{hold}")
    assert page.status_code == 200 and ZH["holds.effect.dispute"] in page.text
    empty = c.post(f"/holds/{hold}/release", data={"reason": " ", "resolution": "upheld"})
    assert empty.status_code == 422 and ZH["holds.err.reason"] in empty.text
    assert 'value="upheld" selected' in empty.text  # what was chosen is kept
    assert db.conn.execute(select(Hold.until).where(Hold.id == hold)).scalar_one() is None
    taken = c.post(f"/holds/{hold}/take", follow_redirects=False)
    assert taken.status_code == 303
    done = c.post(
        f"/holds/{hold}/release",
        data={"reason": "借款人提供了还款凭证，异议成立", "resolution": "upheld"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and ZH["holds.done.release"] in done.text
    assert "借款人提供了还款凭证" in done.text and ZH["holds.resolution.upheld"] in done.text
    again = c.post(f"/holds/{hold}/release?lang=en", data={"reason": "再次解除"})
    assert again.status_code == 409 and EN["holds.err.released"] in again.text
    assert 'id="nav-holds"' in again.text  # the page keeps its navigation


def test_a_hold_outside_the_scope_is_not_found(db, book, sign_in) -> None:  # type: ignore[no-untyped-def]
    hold = _dispute(db, book.m2_plus_loan)  # not an M1 account
    c = sign_in("super.m1") if "super.m1" in _users(db) else None
    if c is None:
        from forbear.services import staff

        staff.add_staff(
            db.conn,
            username="super.holds.m1",
            display_name="测试",
            role="supervisor",
            password="correct horse battery staple",
            actor="test",
            now=MORNING - timedelta(days=1),
            scope_buckets=["M1"],
        )
        c = sign_in("super.holds.m1")
    assert c.get(f"/holds/{hold}").status_code == 404
    assert c.post(f"/holds/{hold}/release", data={"reason": "x"}).status_code == 404
    assert db.conn.execute(select(Hold.until).where(Hold.id == hold)).scalar_one() is None


def _users(db) -> set[str]:  # type: ignore[no-untyped-def]
    from forbear.store.web import StaffUser

    return set(db.conn.execute(select(StaffUser.username)).scalars())


def test_the_account_page_shows_its_holds_and_files_a_complaint_about_a_call(
    db, book, sign_in
) -> None:  # type: ignore[no-untyped-def]
    hold = _dispute(db, book.queue_loan)
    c = sign_in("agent1")
    made = c.post(f"/accounts/{book.queue_loan}/contact", data={"channel": "call"})
    attempt = re.search(r"/attempts/(\d+)/outcome", made.text)
    page = c.get(f"/accounts/{book.queue_loan}")
    assert f'data-hold="{hold}"' in page.text and ZH["complaints.account_title"] in page.text
    refused = c.post(
        "/compliance/complaints",
        data={
            "from_account": str(book.queue_loan),
            "category": "harassment",
            "description": " ",
            "contact_attempt_ids": [attempt.group(1)] if attempt else [],
        },
    )
    assert refused.status_code == 422 and ZH["complaints.err.description"] in refused.text
    filed = c.post(
        "/compliance/complaints",
        data={
            "from_account": str(book.queue_loan),
            "category": "harassment",
            "description": "借款人在通话中投诉催收员语气生硬",
            "contact_attempt_ids": [attempt.group(1)] if attempt else [],
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text[:500]
    assert filed.headers["location"].startswith(f"/accounts/{book.queue_loan}?complaint_filed=")
    complaint = db.conn.execute(select(Complaint).order_by(Complaint.id.desc())).first()
    assert complaint is not None and complaint.loan_id == book.queue_loan
    assert complaint.source == "agent"
    back = c.get(filed.headers["location"])
    assert ZH["complaints.filed_here"].split("#")[0] in back.text


def test_compliance_files_by_the_loan_reference_and_a_bad_one_keeps_the_form(
    db, book, sign_in
) -> None:  # type: ignore[no-untyped-def]
    ref = db.conn.execute(select(Loan.external_ref).where(Loan.id == book.other_loan)).scalar_one()
    c = sign_in("compliance1")
    unknown = c.post(
        "/compliance/complaints",
        data={"loan_ref": "NOPE-1", "category": "privacy", "description": "监管转办：泄露隐私"},
    )
    assert unknown.status_code == 404 and "NOPE-1" in unknown.text
    assert "监管转办：泄露隐私" in unknown.text  # what was typed is kept
    filed = c.post(
        "/compliance/complaints",
        data={"loan_ref": ref, "category": "privacy", "description": "监管转办：泄露隐私"},
        follow_redirects=False,
    )
    assert filed.status_code == 303 and "/compliance/complaints/" in filed.headers["location"]


def test_the_borrower_attaches_evidence_to_their_own_dispute(client, db, book, clock) -> None:  # type: ignore[no-untyped-def]
    me = portal_borrower(db, book)
    csrf = portal_sign_in(client, db, clock, me.borrower_id)
    del client.headers["X-CSRF-Token"]
    hold = _dispute(db, me.loan_id)
    other = _dispute(db, book.other_loan if book.other_loan != me.loan_id else book.placed_loan)
    url = f"/portal/disputes/{hold}/evidence"
    page = client.get(url)
    assert page.status_code == 200 and ZH["holds.portal.title"] in page.text
    assert client.get(f"/portal/disputes/{other}/evidence").status_code == 404
    bad = client.post(
        url, data={"csrf_token": csrf}, files={"file": ("a.exe", b"MZ\x90\x00", "image/png")}
    )
    assert bad.status_code == 422 and ZH["holds.portal.err.type"] in bad.text
    ok = client.post(url, data={"csrf_token": csrf}, files={"file": ("收据.png", PNG, "image/png")})
    assert ok.status_code == 200 and ZH["holds.portal.done"] in ok.text and "收据.png" in ok.text
    stored = db.conn.execute(
        select(DisputeEvidence.hold_id).where(DisputeEvidence.hold_id == hold)
    ).all()
    assert len(stored) == 1
    assert (
        client.post(
            f"/portal/disputes/{other}/evidence",
            data={"csrf_token": csrf},
            files={"file": ("x.png", PNG, "image/png")},
        ).status_code
        == 404
    )
