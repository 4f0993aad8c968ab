"""An agent's day in a real browser: sign in, open the first queue item, a blocked contact
(the reason and the earliest time shown), an allowed one, its outcome; English; mobile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from e2e.conftest import Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_an_agent_works_the_first_queue_item(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.clock.now = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 07:30 in Shanghai
    page.goto(f"{server.url}/workbench")
    assert page.url.startswith(f"{server.url}/sign-in")
    assert page.locator("h1").inner_text() == "登录"
    server.shot(page, "01-sign-in")

    sign_in(page, server)
    assert page.locator("h1").inner_text() == "今日工作队列"
    first = page.locator("#queue a.open-account").first
    assert first.is_visible()
    assert page.locator("#queue-chart dd").count() >= 1  # plain HTML bars: no Plotly here
    server.shot(page, "02-workbench")

    first.click()
    page.wait_for_selector("#account-title")
    assert f"/accounts/{server.book.queue_loan}" in page.url
    mobile = page.locator("#masked-mobile").inner_text()
    assert "****" in mobile
    server.shot(page, "03-account")

    # before 08:00 in the borrower's zone: the gate blocks, says why and from when
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#decision")
    assert "不得联系" in page.locator("#decision h2").inner_text()
    assert "CN.HOURS.QUIET" in page.locator("#blocked-rules").inner_text()
    assert "2026-11-20 08:00" in page.locator("#earliest").inner_text()
    assert page.locator("#outcome-form").count() == 0
    server.shot(page, "04-contact-blocked")

    # at 08:30 the same call is allowed; the outcome is recorded
    server.clock.now = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#outcome-form")
    assert "允许联系" in page.locator("#decision h2").inner_text()
    server.shot(page, "05-contact-allowed")

    page.check("#outcome-form input[value='promise']")
    page.click("#outcome-save")
    page.wait_for_selector("#outcome-saved")
    assert "承诺还款" in page.locator("#outcome-saved").inner_text()
    events = page.locator("#events").inner_text()
    assert "接通" in events and "CN.HOURS.QUIET" in events
    server.shot(page, "06-outcome-recorded")

    page.click("#lang-switch")
    page.wait_for_selector("#account-title")
    assert page.locator("#account-title").inner_text().startswith("Account ")
    server.shot(page, "07-account-english")


def test_the_workbench_on_a_phone(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, server, "super1")
        assert page.locator("#queue").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400  # the table scrolls inside its box, not the page
        server.shot(page, "08-workbench-phone")
        page.goto(f"{server.url}/accounts/{server.book.queue_loan}")
        server.shot(page, "09-account-phone")
    finally:
        context.close()


def test_a_wrong_password_is_answered_on_the_page(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/sign-in")
    page.fill("#username", "agent1")
    page.fill("#password", "not the password")
    page.click("form[action='/sign-in'] button[type=submit]")
    assert "用户名或密码不正确" in page.locator("#sign-in-error").inner_text()
    server.shot(page, "10-sign-in-refused")
