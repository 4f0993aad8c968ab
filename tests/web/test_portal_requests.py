"""The portal's issue-15 pages: the lender's name, licence and hotline on every page;
"my requests" with statuses (and the evidence link of an open dispute); a plan approved
by a supervisor shown with its schedule and accepted with a confirmation; no forms on a
settled loan; 我要还款 to the lender's payment page when configured; a refused promise
beside its field with the limit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forbear.domain.access import Actor, Role
from forbear.domain.plans import PlanRequest, PlanType
from forbear.services import portal as svc
from forbear.services.plans import approvals
from forbear.store.models import Loan
from forbear.store.plans import Plan
from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


@pytest.fixture
def signed(client: TestClient, db, clock, me: PortalBorrower) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    csrf = portal_sign_in(client, db, clock, me.borrower_id)
    del client.headers["X-CSRF-Token"]
    return client, csrf


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_lender_is_named_on_every_portal_page(signed, me: PortalBorrower, lang) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed
    settings = client.app.state.web.forbear.settings  # type: ignore[attr-defined]
    for path in (
        "/portal/home",
        f"/portal/loans/{me.loan_id}",
        "/portal/requests",
        "/portal/rights",
    ):
        page = client.get(f"{path}?lang={lang}")
        assert page.status_code == 200, path
        for text in (settings.lender_name, settings.lender_licence, settings.lender_hotline):
            assert text in page.text, (path, text)
        assert re.search(r">\s*portal\.[a-z_.]+", page.text) is None


def test_my_requests_list_promises_disputes_and_their_status(
    signed, db, me: PortalBorrower, clock
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    base = f"/portal/loans/{me.loan_id}"
    day = clock.now.date().isoformat()
    client.post(f"{base}/promise", data={"amount": "200", "promised_on": day, "csrf_token": csrf})
    client.post(f"{base}/dispute", data={"reason": "amount_wrong", "csrf_token": csrf})
    page = client.get("/portal/requests")
    assert page.status_code == 200 and 'id="nav-requests"' in page.text
    assert 'data-kind="promise"' in page.text and "待还款" in page.text and "¥200.00" in page.text
    dispute = re.search(r'data-kind="dispute" data-id="(\d+)" data-status="open"', page.text)
    assert dispute is not None and "金额不对" in page.text
    assert f'href="/portal/disputes/{dispute.group(1)}/evidence"' in page.text
    english = client.get("/portal/requests?lang=en")
    assert "Promise to pay" in english.text and "being checked" in english.text


def test_a_supervisors_approval_reaches_the_portal_and_is_accepted_with_a_confirmation(
    signed, db, me: PortalBorrower, clock
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    today = clock.now.date()
    agent = Actor("web:agent1", role=Role.AGENT)
    boss = Actor("web:super1", role=Role.SUPERVISOR)
    when = {"vault": db.vault, "now": clock.now, "today": today}
    try:
        sent = approvals.submit(
            db.conn,
            agent,
            me.loan_id,
            PlanRequest(PlanType.SETTLEMENT, discount_pct=19),
            reason="一次性还清",
            **when,
        )
    except Exception as exc:  # the test book's loan may not allow a settlement
        pytest.skip(f"no settlement on this loan: {exc}")
    pending = client.get("/portal/requests")
    assert 'data-kind="plan_request"' in pending.text and "主管审批中" in pending.text
    assert "一次性还清" not in pending.text.split('id="requests"')[1]  # no staff reason
    decided = approvals.decide(db.conn, boss, sent.id, "approve", **when)
    loan = client.get(f"/portal/loans/{me.loan_id}")
    assert 'id="current-plan" data-status="offered"' in loan.text
    assert 'id="schedule"' in loan.text and 'id="accept-offer-form"' in loan.text
    url = f"/portal/loans/{me.loan_id}/plans/{decided.plan_id}/accept"
    unconfirmed = client.post(url, data={"csrf_token": csrf})
    assert unconfirmed.status_code == 422
    status = select(Plan.status).where(Plan.id == decided.plan_id)
    assert db.conn.execute(status).scalar_one() == "offered"
    accepted = client.post(url, data={"confirm": "1", "csrf_token": csrf})
    assert accepted.status_code == 200 and 'data-status="accepted"' in accepted.text
    assert db.conn.execute(status).scalar_one() == "accepted"
    mine = client.get("/portal/requests")
    assert "已批准，请确认" in mine.text and "已接受" in mine.text


def test_a_refused_promise_is_told_beside_the_field_with_the_limit(
    signed, db, me: PortalBorrower, clock
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    late = (clock.now.date() + timedelta(days=400)).isoformat()
    answer = client.post(
        f"/portal/loans/{me.loan_id}/promise",
        data={"amount": "１２３", "promised_on": late, "csrf_token": csrf},
    )
    assert answer.status_code == 422
    assert "还款日期有误：最晚为" in answer.text and f'value="{late}"' in answer.text
    assert 'value="１２３"' in answer.text
    huge = client.post(
        f"/portal/loans/{me.loan_id}/promise?lang=en",
        data={"amount": "9999999", "promised_on": clock.now.date().isoformat(), "csrf_token": csrf},
    )
    assert huge.status_code == 422 and "at most ¥" in huge.text


def test_the_pay_button_leads_to_the_lenders_payment_page_when_configured(
    signed, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed
    forbear = client.app.state.web.forbear  # type: ignore[attr-defined]
    before = forbear.settings
    page = client.get(f"/portal/loans/{me.loan_id}")
    assert 'id="pay-link"' not in page.text and f"/portal/loans/{me.loan_id}/pay" in page.text
    url = "https://pay.example.com/repay"
    object.__setattr__(forbear, "settings", before.model_copy(update={"lender_payment_url": url}))
    try:
        page = client.get(f"/portal/loans/{me.loan_id}")
    finally:
        object.__setattr__(forbear, "settings", before)
    assert f'id="pay-link" href="{url}"' in page.text
    assert f"/portal/loans/{me.loan_id}/pay" not in page.text


def test_a_settled_loan_offers_no_forms(client: TestClient, db, clock, book) -> None:  # type: ignore[no-untyped-def]
    found = None
    for loan_id, borrower_id in db.conn.execute(
        select(Loan.id, Loan.borrower_id).order_by(Loan.id).limit(400)
    ).all():
        owed = svc.owed(db.conn, int(borrower_id), int(loan_id), clock.now.date())
        if owed.status != "active" or owed.outstanding_total <= 0:
            found = (int(loan_id), int(borrower_id))
            break
    if found is None:
        pytest.skip("no settled loan in the first 400 of the test book")
    portal_sign_in(client, db, clock, found[1])
    page = client.get(f"/portal/loans/{found[0]}")
    assert page.status_code == 200 and 'id="loan-settled"' in page.text
    for form in ("/pay", "/promise", "/dispute", 'id="see-plans"'):
        assert form not in page.text, form
