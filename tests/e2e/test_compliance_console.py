"""The compliance console in a real browser: an agent files a complaint through the API;
the compliance officer signs in, opens the console and sees it with its SLA clock, opens
it, extends it, and walks every console page (screenshots of each)."""

from __future__ import annotations

import pytest

from e2e.conftest import Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_compliance_officer_sees_the_complaint_with_its_sla_clock(  # type: ignore[no-untyped-def]
    browser, page, server: Server
) -> None:
    # an agent files the complaint through the API, in the agent's own browser session
    agent = browser.new_context(locale="zh-CN")
    agent_page = agent.new_page()
    sign_in(agent_page, server, "agent1")
    token = agent_page.request.get(f"{server.url}/api/v1/me").json()["csrf_token"]
    filed = agent_page.request.post(
        f"{server.url}/api/v1/complaints",
        data={
            "loan_id": server.book.queue_loan,
            "category": "harassment",
            "description": "借款人称晚间多次接到催收电话",
        },
        headers={"X-CSRF-Token": token},
    )
    assert filed.status == 201, filed.text()
    complaint_id = filed.json()["id"]
    # the complaint holds the account: the agent's next call is blocked by the hold rule
    call = agent_page.request.post(
        f"{server.url}/api/v1/accounts/{server.book.queue_loan}/contacts",
        data={"channel": "call"},
        headers={"X-CSRF-Token": token},
    )
    assert call.status == 201 and not call.json()["allowed"]
    held_by = call.json()["blocked_by"]
    agent.close()

    sign_in(page, server, "compliance1")
    page.click("#nav-compliance")
    page.wait_for_selector("#complaints")
    assert page.locator("#console-title").inner_text() == "合规控制台"
    row = page.locator(f"tr[data-complaint='{complaint_id}']")
    assert row.is_visible()
    clock = row.locator(".sla")
    assert clock.inner_text().strip() == "剩余 15 天"
    assert clock.get_attribute("data-urgency") == "on_track"
    assert "骚扰催收" in row.inner_text() and "2026-12-05" in row.inner_text()
    server.shot(page, "compliance-01-complaints-queue")

    row.locator("a.open-complaint").click()
    page.wait_for_selector("#complaint-title")
    assert "剩余 15 天" in page.locator("#sla-clock").inner_text()
    assert "晚间多次" in page.locator("#description").inner_text()
    server.shot(page, "compliance-02-complaint")

    page.fill("#reason", "需调取通话录音核实")
    page.click("#extend-form button[type=submit]")
    page.wait_for_selector("#complaint-done")
    assert "剩余 30 天" in page.locator("#sla-clock").inner_text()
    assert page.locator("#complaint-status").inner_text() == "已延期（30日）"
    server.shot(page, "compliance-03-complaint-extended")

    page.click("#console-blocked")
    page.wait_for_selector("#blocked-title")
    server.shot(page, "compliance-04-blocked-contacts")
    page.click(f"tr[data-rule='{held_by[0]}'] a")
    page.wait_for_selector("#blocked-items")
    assert "实时" in page.locator("#blocked-items").inner_text()
    server.shot(page, "compliance-05-blocked-drill-down")

    page.click("#console-rules")
    page.wait_for_selector("#rules")
    assert page.locator("tr[data-rule='CN.COMPLAINT.SLA']").is_visible()
    server.shot(page, "compliance-06-rules-in-force")

    page.click("#console-audit")
    page.wait_for_selector("#audit")
    page.click("#verify")
    page.wait_for_selector("#verify-result")
    assert "哈希链完整" in page.locator("#verify-result").inner_text()
    server.shot(page, "compliance-07-audit-trail")

    page.click("#console-templates")
    page.wait_for_selector("#check-form")
    page.fill("#body", "再不还钱就去你单位闹")
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#draft-findings")
    server.shot(page, "compliance-08-template-review")

    page.click("#console-cases")
    page.wait_for_selector("#case-form")
    page.fill("#case_loan", str(server.book.other_loan))
    page.select_option("#case_outcome", "failure")
    page.fill("#case_category", "complaint")
    page.fill("#lesson", "Evening calls led to a complaint; hold contact and offer a plan")
    page.click("#case-form button[type=submit]")
    page.wait_for_selector("#case-added")
    assert "Evening calls" in page.locator("#cases").inner_text()
    server.shot(page, "compliance-09-case-library")

    page.click("#lang-switch")
    page.wait_for_selector("#cases-title")
    assert page.locator("#cases-title").inner_text() == "Case library"
