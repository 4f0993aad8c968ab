"""The legal floor in a real browser (issue 15, item 7): a legal officer sorts the review
queue by limitation date, confirms opening a case, is refused a demand letter without
proof of delivery (the reason beside the field, the typed note kept), records it with a
tracking number, adds a cost, and downloads a document saved under its Chinese name."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.conftest import Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SHOTS = Path("/tmp/shots-h4")


def shot(page, server: Server, name: str) -> None:  # type: ignore[no-untyped-def]
    server.shot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_legal_works_a_case_from_the_queue_to_a_download(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    sign_in(page, server, "legal1")
    page.goto(f"{server.url}/legal?stage=waiting&per_page=25")
    page.select_option("#f-sort", "limitation")
    page.click("#queue-filter button[type=submit]")
    page.wait_for_selector("#legal-queue")
    dates = [
        d
        for d in page.locator("#legal-queue tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.limitation)"
        )
        if d
    ]
    assert dates == sorted(dates) and dates
    assert "诉请金额" in page.locator("#legal-queue thead").inner_text()
    shot(page, server, "legal-01-queue-by-limitation")

    page.locator("#legal-queue a[data-open]").first.click()
    page.wait_for_selector("#confirm-open")
    assert "确认立案审核" in page.locator("h1").inner_text()
    shot(page, server, "legal-02-confirm")
    page.click("#confirm-open")
    page.wait_for_selector("#case-done")
    assert page.locator("#case-stage").inner_text() == "法务审核"
    assert "*" in page.locator("#case-debtor").inner_text()  # masked

    page.select_option("#to", "demand_letter")
    page.fill("#tracking_number", "EA123456784CN")  # a wrong check digit
    page.fill("#notes", "寄往户籍地址")
    page.click("#advance-submit")
    page.wait_for_selector("#tracking_number-error")
    assert "校验位不正确" in page.locator("#tracking_number-error").inner_text()
    assert page.input_value("#notes") == "寄往户籍地址"
    assert page.locator("#case-stage").inner_text() == "法务审核"
    shot(page, server, "legal-03-proof-refused")

    page.fill("#tracking_number", "EA123456785CN")
    page.click("#advance-submit")
    page.wait_for_selector("#case-done")
    assert page.locator("#case-stage").inner_text() == "已发催告函"
    assert "EA123456785CN" in page.locator("#demands").inner_text()

    page.select_option("#cost-kind", "court_fee")
    page.fill("#cost-amount", "¥1,250.50")
    page.click("#cost-submit")
    page.wait_for_selector("#case-cost-list")
    assert "¥1,250.50" in page.locator("#case-costs").inner_text()
    shot(page, server, "legal-04-case-with-cost")

    with page.expect_download() as download:
        page.click("#documents a[data-file='amounts.csv']")
    name = download.value.suggested_filename
    assert name.startswith("案件") and "诉请金额" in name and name.endswith(".csv")
    context.close()
