"""Collection work in a real browser: an agent works a queue item through a blocked and an
allowed contact, records the outcome "promise" and takes the promise, which appears on the
timeline; the plan form computes a schedule; a legal user works the legal console."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from e2e.conftest import Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_an_agent_takes_a_promise(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.clock.now = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 07:30 in Shanghai
    sign_in(page, server)
    page.locator("#queue a.open-account").first.click()
    page.wait_for_selector("#account-title")
    assert f"/accounts/{server.book.queue_loan}" in page.url
    assert page.locator("#promise-form").is_visible()
    assert page.locator("#plan-limits").inner_text().startswith("您的权限上限")
    assert page.locator("#scripts li").count() >= 3
    server.shot(page, "collection-01-account-forms")

    # blocked before 08:00 in the borrower's zone: the reason and the earliest time
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#decision")
    assert "CN.HOURS.QUIET" in page.locator("#blocked-rules").inner_text()
    assert "2026-11-20 08:00" in page.locator("#earliest").inner_text()
    server.shot(page, "collection-02-contact-blocked")

    # allowed at 08:30; the outcome "promise" leads to the promise form
    server.clock.now = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#outcome-form")
    attempt = re.search(r"#(\d+)", page.locator("#decision h2").inner_text())
    assert attempt is not None
    page.check("#outcome-form input[value='promise']")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector("#outcome-saved")
    assert page.url.endswith("#promise")
    assert attempt.group(1) in page.locator("#promise-attempt").inner_text()
    server.shot(page, "collection-03-promise-form")

    page.fill("#amount_yuan", "800")
    page.fill("#promised_on", "2026-11-25")
    page.click("#promise-form button[type=submit]")
    page.wait_for_selector("#promise-saved")
    row = page.locator("#promise-list tbody tr").first.inner_text()
    assert "¥800.00" in row and "2026-11-25" in row and "待履行" in row
    server.shot(page, "collection-04-promise-on-timeline")
    promises = page.locator("#promise-list tbody tr").count()

    # a bad amount: a clear page, nothing recorded
    page.goto(f"{server.url}/accounts/{server.book.queue_loan}#promise")
    page.fill("#amount_yuan", "0")
    page.fill("#promised_on", "2026-11-26")
    page.click("#promise-form button[type=submit]")
    page.wait_for_selector("#promise-error")
    assert "输入无效" in page.locator("#promise-error").inner_text()
    assert "Traceback" not in page.content()
    page.goto(f"{server.url}/accounts/{server.book.queue_loan}")
    assert page.locator("#promise-list tbody tr").count() == promises

    # the plan form: compute a one-month deferral, see its schedule
    page.select_option("#plan_type", "deferral")
    page.fill("#plan-months", "1")
    page.click("#plan-form button[type=submit]")
    page.wait_for_load_state()
    if page.locator("#quote-lines").count():
        assert page.locator("#quote-lines tbody tr").count() >= 1
    server.shot(page, "collection-05-plan-quote")


def test_the_legal_console(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    sign_in(page, server, "legal1")
    page.click("#nav-legal")
    page.wait_for_selector("#legal-title")
    assert page.locator("#stage-counts li").count() == 8
    server.shot(page, "collection-06-legal-console")

    page.goto(f"{server.url}/legal/cases")
    server.shot(page, "collection-07-legal-cases")
    opener = page.locator("#legal-queue form button")
    if opener.count():
        page.goto(f"{server.url}/legal")
        page.locator("#legal-queue form button").first.click()
        page.wait_for_selector("#case-done")
    else:
        page.locator("#cases a").first.click()
        page.wait_for_selector("#case-title")
    assert page.locator("#case-stage").is_visible()
    server.shot(page, "collection-08-legal-case")
