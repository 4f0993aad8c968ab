"""The borrower portal in a real browser at a phone's size: a borrower signs in with the
code (read from the portal outbox, as the SMS sender would), sees the debt, chooses a
repayment plan and files a complaint; the other portal pages; screenshots of each."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from web.conftest import MORNING, TEST_KEY, Book, Clock, shared_sqlite_book

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

    # choose a plan
    page.click("#see-plans")
    page.wait_for_selector("ul.options li")
    server.shot(page, "05-plans")
    page.locator("ul.options li button").first.click()
    page.wait_for_selector("#portal-done")
    assert "还款计划已生效" in page.locator("#portal-done").inner_text()
    server.shot(page, "06-plan-accepted")
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
