"""Admin and strategies in a real browser (issue 15, items 8 and 9): the admin adds a staff
member (the initial password shown once) and disables them; a supervisor adds a second
strategy version, compares it with the first, runs the pre-launch check and activates it.
Screenshots go to test-artefacts/screenshots/ (and /tmp/shots-h5 when it exists)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e.conftest import PASSWORD, SCREENSHOTS, Server
from forbear.domain.strategy import default_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
COPY = Path("/tmp/shots-h5")
CHALLENGER = default_text().replace(
    "{on_dpd: 7, channel: call, template: CN.M1.CALLBACK",
    "{on_dpd: 5, channel: call, template: CN.M1.CALLBACK",
)


def _shot(server: Server, page, name: str) -> None:  # type: ignore[no-untyped-def]
    server.shot(page, name)
    if COPY.is_dir():
        shutil.copy(SCREENSHOTS / f"{name}.png", COPY / f"{name}.png")


def _sign_in(page, server: Server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state()


def test_an_admin_adds_and_disables_a_staff_member(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, server, "admin1")
    page.goto(f"{server.url}/admin/staff")
    page.fill("#username", "zhang.wei")
    page.fill("#display_name", "张 伟")
    page.select_option("#role", "agent")
    page.check("input[name=scope_buckets][value=M1]")
    page.click("#add-go")
    page.wait_for_selector("#initial-password")
    assert len(page.locator("#initial-password").inner_text().strip()) == 16
    row = page.locator("tr[data-user='zhang.wei']")
    assert "催收员" in row.inner_text() and "M1" in row.inner_text()
    _shot(server, page, "h5-01-staff-added")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.disable").click()
    page.wait_for_selector("#admin-notice")
    assert page.locator("tr[data-user='zhang.wei']").get_attribute("data-disabled") == "true"
    assert "已停用" in page.locator("tr[data-user='zhang.wei'] td.status").inner_text()
    _shot(server, page, "h5-02-staff-disabled")


def test_a_supervisor_compares_checks_and_activates_a_strategy(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, server, "super1")
    for text in (default_text(), CHALLENGER):
        page.goto(f"{server.url}/strategies")
        page.fill("#yaml_text", text)
        page.click("#add-go")
        page.wait_for_selector("#strategies-done")
    versions = page.locator("#versions tbody tr")
    assert versions.count() >= 2
    _shot(server, page, "h5-03-strategies")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#compare-title")
    assert "逾期第 5 天" in page.locator("#treatment-changes").inner_text()
    _shot(server, page, "h5-04-compare")
    page.goto(f"{server.url}/strategies")
    page.locator("#versions tbody tr").last.locator("a.check-link").click()
    page.wait_for_selector("#check-verdict", timeout=120_000)
    _shot(server, page, "h5-05-check")
    page.goto(f"{server.url}/strategies")
    last = page.locator("#versions tbody tr").last
    page.once("dialog", lambda dialog: dialog.accept())
    last.locator(".activate-form button").click()
    page.wait_for_selector("#strategies-done")
    assert page.locator("#versions tbody tr").last.get_attribute("data-status") == "active"
    _shot(server, page, "h5-06-activated")
