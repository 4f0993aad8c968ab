"""The borrower portal in a real browser at a phone's size: a borrower signs in with the
code (read from the portal outbox, as the SMS sender would), sees the debt, chooses a
repayment plan and files a complaint; the other portal pages; screenshots of each."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from e2e.conftest import SCREENSHOTS, _free_port
from forbear.bootstrap import Forbear, bootstrap
from forbear.services import portal as svc
from forbear.settings import Environment, Settings
from forbear.store.complaints import Complaint
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.store.plans import Plan
from forbear.store.portal import PortalOutbox
from forbear.web import create_app
from web.conftest import MORNING, PASSWORD, TEST_KEY, Book, Clock, shared_sqlite_book

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


@dataclass
class PortalServer:
    url: str
    book: Book
    forbear: Forbear

    def shot(self, page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"portal-{name}.png"), full_page=True)
        own = os.environ.get("FORBEAR_SHOTS")  # a second copy for a reviewer's folder
        if own:
            Path(own).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(own) / f"portal-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def portal_server(
    tmp_path_factory: pytest.TempPathFactory, browser_path: str
) -> Iterator[PortalServer]:
    """The e2e server (as ``e2e.conftest.server``) with its database at hand, so the test
    reads the code from the outbox."""
    import uvicorn

    directory = tmp_path_factory.mktemp("e2e-portal")
    book = shared_sqlite_book(tmp_path_factory, directory / "forbear.db")
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        data_dir=directory,
        encryption_key=base64.b64encode(TEST_KEY).decode(),  # type: ignore[arg-type]
    )
    forbear = bootstrap(settings)
    app = create_app(forbear, clock=Clock(MORNING))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield PortalServer(f"http://127.0.0.1:{port}", book, forbear)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        forbear.close()


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    opened = context.new_page()
    yield opened
    context.close()


def test_a_borrower_signs_in_sees_the_debt_chooses_a_plan_and_complains(
    phone: Any, portal_server: PortalServer
) -> None:
    page, server = phone, portal_server
    with server.forbear.transaction() as conn:
        borrower_id, blob = conn.execute(
            select(Borrower.id, Borrower.mobile_enc)
            .join(Loan, Loan.borrower_id == Borrower.id)
            .where(Loan.id == server.book.queue_loan)
        ).one()
        mobile = server.forbear.vault.decrypt(blob, context=Contexts.BORROWER_MOBILE)
    loan = server.book.queue_loan

    # nothing about the debt before sign-in
    page.goto(f"{server.url}/portal/home")
    assert page.url.endswith("/portal/sign-in")
    assert "¥" not in page.content()
    server.shot(page, "01-sign-in")

    page.fill("#mobile", mobile)
    page.click("#send-code")
    page.wait_for_selector("#code-sent")
    server.shot(page, "02-code")
    with server.forbear.transaction() as conn:
        message_id = conn.execute(
            select(func.max(PortalOutbox.id)).where(PortalOutbox.borrower_id == borrower_id)
        ).scalar_one()
        code = svc.outbox_code(conn, server.forbear.vault, message_id)
    page.fill("#code", code)
    page.click("#verify")
    page.wait_for_url("**/portal/home")

    # the debt: overdue amount and the next due date
    card = page.locator(f"#loan-{loan}")
    assert "¥" in card.inner_text()
    server.shot(page, "03-home")
    card.locator("a.button").click()
    page.wait_for_selector("#overdue-total")
    assert page.locator("#overdue-total").inner_text().startswith("¥")
    server.shot(page, "04-loan")

    # the lender on every page
    footer = page.locator("#lender-footer").inner_text()
    assert "示例消费金融" in footer and "400-000-0000" in footer

    # choose a plan: its schedule and total cost first, then confirm
    page.click("#see-plans")
    page.wait_for_selector("ul.options li")
    server.shot(page, "05-plans")
    page.locator("ul.options li a.review").first.click()
    page.wait_for_selector("#confirm-plan-form")
    days = page.locator("#schedule tbody tr").count()
    assert days >= 1 and page.locator("#total-cost").inner_text().startswith("¥")
    server.shot(page, "05b-plan-review")
    page.click("#confirm-plan")  # not ticked: the browser keeps the form
    assert page.locator("#confirm-plan-form").is_visible()
    page.check("#confirm-plan-check")
    page.click("#confirm-plan")
    page.wait_for_selector("#portal-done")
    assert "还款计划已生效" in page.locator("#portal-done").inner_text()
    # afterwards the loan page shows the schedule, and "my requests" lists the plan
    assert page.locator("#current-plan #schedule tbody tr").count() == days
    server.shot(page, "06-plan-accepted")
    page.click("#nav-requests")
    page.wait_for_selector("#requests")
    assert page.locator("#requests li[data-kind='plan']").count() >= 1
    server.shot(page, "06b-my-requests")
    with server.forbear.transaction() as conn:
        status = (
            conn.execute(select(Plan.status).where(Plan.loan_id == loan).order_by(Plan.id.desc()))
            .scalars()
            .first()
        )
    assert status == "accepted"

    # file a complaint
    page.click("nav.tabs a[href='/portal/complain']")
    page.select_option("#complaint-loan", str(loan))
    page.select_option("#complaint-category", "harassment")
    page.fill("#complaint-description", "上周每天都有好几个电话。")
    server.shot(page, "07-complain")
    page.click("#complaint-submit")
    page.wait_for_selector("#portal-done")
    server.shot(page, "08-complaint-filed")
    with server.forbear.transaction() as conn:
        source = (
            conn.execute(select(Complaint.source).where(Complaint.borrower_id == borrower_id))
            .scalars()
            .first()
        )
    assert source == "portal"

    # the other pages
    for path, name in (
        ("/portal/contacts", "09-contacts"),
        ("/portal/preferences", "10-preferences"),
        ("/portal/rights", "11-rights"),
        ("/portal/learn", "12-learn"),
        ("/portal/learn/rights-in-collection", "13-article"),
    ):
        page.goto(f"{server.url}{path}")
        page.wait_for_selector("h1")
        server.shot(page, name)
    page.goto(f"{server.url}/portal/rights")
    assert "12378" in page.locator("#hotline").inner_text()

    # English, then sign out
    page.goto(f"{server.url}/portal/home?lang=en")
    assert page.locator("h1").inner_text() == "What I owe"
    server.shot(page, "14-home-en")
    page.click("#portal-sign-out")
    page.wait_for_url("**/portal/sign-in")


def _portal_sign_in(page: Any, server: PortalServer, loan: int) -> None:
    """The borrower of ``loan`` signs in with the code from the portal outbox."""
    with server.forbear.transaction() as conn:
        borrower_id, blob = conn.execute(
            select(Borrower.id, Borrower.mobile_enc)
            .join(Loan, Loan.borrower_id == Borrower.id)
            .where(Loan.id == loan)
        ).one()
        mobile = server.forbear.vault.decrypt(blob, context=Contexts.BORROWER_MOBILE)
    page.goto(f"{server.url}/portal/sign-in")
    page.fill("#mobile", mobile)
    page.click("#send-code")
    page.wait_for_selector("#code-sent")
    with server.forbear.transaction() as conn:
        message_id = conn.execute(
            select(func.max(PortalOutbox.id)).where(PortalOutbox.borrower_id == borrower_id)
        ).scalar_one()
        code = svc.outbox_code(conn, server.forbear.vault, message_id)
    page.fill("#code", code)
    page.click("#verify")
    page.wait_for_url("**/portal/home")


def test_a_plan_beyond_authority_is_submitted_approved_and_seen_by_the_borrower(
    browser: Any, phone: Any, portal_server: PortalServer
) -> None:
    """The approval route: the agent's plan beyond authority -> submit with a reason ->
    the supervisor approves at /approvals -> the borrower sees it in the portal."""
    server = portal_server
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    staff = desk.new_page()

    def sign_in(username: str) -> None:
        staff.context.clear_cookies()
        staff.goto(f"{server.url}/workbench")
        staff.fill("#username", username)
        staff.fill("#password", PASSWORD)
        staff.click("form[action='/sign-in'] button[type=submit]")
        staff.wait_for_url("**/workbench")

    sign_in("agent1")
    loan = None
    for candidate in (server.book.m2_plus_loan, server.book.other_loan, *server.book.loans[:40]):
        staff.goto(f"{server.url}/accounts/{candidate}#plan")
        if not staff.locator("#plan-form").count():
            continue
        staff.select_option("#plan_type", "settlement")
        assert not staff.locator("#plan-months").is_visible()  # only the type's fields
        staff.fill("#plan-discount_pct", "19")
        staff.click("#plan-form button[type=submit]")
        staff.wait_for_selector("#plan-form")
        if staff.locator("#plan-submit-form").count():
            loan = candidate
            break
    assert loan is not None, "no loan to submit a plan on"
    assert "请提交主管审批" in staff.locator("#plan-error").inner_text()
    server.shot(staff, "a1-beyond-authority")
    staff.fill("#submit-reason", "借款人筹到款项，可一次性结清，申请19%折扣")
    staff.click("#plan-submit")
    staff.wait_for_selector("#plan-submitted")
    assert "待主管审批" in staff.locator("#plan-approvals").inner_text()
    server.shot(staff, "a2-submitted")

    sign_in("super1")
    staff.click("#nav-approvals")
    staff.wait_for_selector("#pending-h")
    item = staff.locator("section.approval").filter(has_text="19%")
    assert "一次性结清" in item.inner_text()
    server.shot(staff, "a3-queue")
    item.locator("button.approve").click()
    staff.wait_for_selector("#approval-done")
    assert "已向借款人提供" in staff.locator("#approval-done").inner_text()
    server.shot(staff, "a4-approved")
    desk.close()

    _portal_sign_in(phone, server, loan)
    phone.goto(f"{server.url}/portal/loans/{loan}")
    phone.wait_for_selector("#current-plan")
    assert phone.locator("#current-plan").get_attribute("data-status") == "offered"
    assert phone.locator("#current-plan #schedule tbody tr").count() >= 1
    server.shot(phone, "a5-borrower-sees-offer")
    phone.click("#nav-requests")
    phone.wait_for_selector("#requests")
    assert "已批准" in phone.locator("#requests li[data-kind='plan_request']").first.inner_text()
    server.shot(phone, "a6-borrower-requests")
