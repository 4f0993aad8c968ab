"""Holds in a real browser (issue 15, item 1): an agent records "经济困难", which places a
hardship hold; the agent may still call to finish the plan, but an SMS demand is blocked
with a message naming that hardship hold; a supervisor releases it with a reason at
/holds. Screenshots go to test-artefacts/screenshots/ (and /tmp/shots-h1 when it exists)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from e2e.conftest import SCREENSHOTS, Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
COPY = Path("/tmp/shots-h1")


def _shot(server: Server, page, name: str) -> None:  # type: ignore[no-untyped-def]
    server.shot(page, name)
    if COPY.is_dir():
        shutil.copy(SCREENSHOTS / f"{name}.png", COPY / f"{name}.png")


def test_a_hardship_hold_allows_the_plan_call_blocks_an_sms_and_is_released(  # type: ignore[no-untyped-def]
    page, browser, server: Server
) -> None:
    loan = server.book.queue_loan
    sign_in(page, server)
    page.goto(f"{server.url}/accounts/{loan}")
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#outcome-form")
    page.check("#outcome-form input[value='hardship']")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector("#outcome-saved")
    held = re.search(r"#(\d+)", page.locator("#outcome-saved").inner_text())
    assert held is not None
    hold = held.group(1)
    row = page.locator(f"#account-holds tr[data-hold='{hold}']")
    assert "经济困难" in row.inner_text()
    assert "仍可人工致电" in page.locator("#holds-account").inner_text()
    _shot(server, page, "holds-01-hardship-recorded")

    # the plan conversation: the agent's call still goes through
    page.select_option("#channel", "call")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#decision")
    assert "blocked" not in (page.locator("#decision").get_attribute("class") or "")
    assert page.locator("#outcome-form").is_visible()

    # an SMS demand is blocked, naming the hardship hold and who may release it
    page.goto(f"{server.url}/accounts/{loan}/compose")
    sms = page.locator("#choice option[value^='sms:']").first.get_attribute("value")
    assert sms is not None
    page.select_option("#choice", sms)
    page.click("#preview-button")
    page.wait_for_selector("#gate-blocked")
    reasons = page.locator("#block-reasons").inner_text()
    assert "CN.HOLDS" in page.locator("#blocked-rules").inner_text()
    assert f"#{hold}" in reasons and "经济困难" in reasons and "主管" in reasons
    assert "律师代理" not in reasons
    _shot(server, page, "holds-02-sms-blocked-names-the-hold")

    # a supervisor releases it with a reason at /holds
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    boss = context.new_page()
    try:
        sign_in(boss, server, "super1")
        boss.goto(f"{server.url}/holds?kind=hardship")
        assert boss.locator(f"#holds tr[data-hold='{hold}']").count() == 1
        _shot(server, boss, "holds-03-queue")
        boss.click(f"#hold-open-{hold}")
        boss.wait_for_selector("#hold-release-form")
        boss.click("#hold-release")  # no reason: the browser asks for one
        assert boss.locator("#hold-done").count() == 0
        boss.fill("#reason", "借款人已签署分期还款方案，恢复正常沟通")
        boss.click("#hold-release")
        boss.wait_for_selector("#hold-done")
        assert "恢复正常沟通" in boss.locator("#hold-release-reason").inner_text()
        _shot(server, boss, "holds-04-released")
        boss.goto(f"{server.url}/holds?kind=hardship")
        assert boss.locator(f"#holds tr[data-hold='{hold}']").count() == 0
    finally:
        context.close()

    # the SMS is no longer blocked by that hold
    page.goto(f"{server.url}/accounts/{loan}/compose?choice={sms}")
    page.wait_for_selector("#gate")
    assert f"#{hold}" not in page.locator("#gate").inner_text()
