"""A supervisor's dashboard in a real browser: from the navigation to the figures, Plotly
charts drawn from the package's script (offline), another range with no data, English."""

from __future__ import annotations

import pytest

from e2e.conftest import Server, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_supervisor_reads_the_dashboard(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "super1")
    page.click("#nav-dashboard")
    page.wait_for_url("**/dashboard")
    assert page.locator("h1").inner_text() == "主管看板"
    # the charts by arm and by team are drawn: Plotly's svg inside each chart's div
    page.wait_for_selector("#chart-arm .main-svg")
    page.wait_for_selector("#chart-team .main-svg")
    assert page.locator("#chart-arm svg.main-svg").count() >= 1
    assert page.locator("#chart-arm .bars path").count() >= 1  # bars, not an empty frame
    tiles = page.locator("#tiles .tile")
    assert tiles.count() == 8  # six rates, complaints per 10,000 contacts, satisfaction
    assert "回收率" in page.locator("#tiles").inner_text()
    assert page.locator("#by-arm tbody tr").count() >= 2  # all + at least one arm
    assert page.locator("#capacity tbody tr").count() >= 1
    server.shot(page, "dashboard-01-supervisor")

    # a range before the book: the page says there is no data, no zeros, no charts
    page.fill("input[name=from]", "2020-01-01")
    page.fill("input[name=to]", "2020-02-01")
    page.click("#dash-range button[type=submit]")
    page.wait_for_selector("#dash-no-data")
    assert "所选期间没有数据" in page.locator("#dash-no-data").inner_text()
    assert page.locator("#tiles").count() == 0
    server.shot(page, "dashboard-02-no-data")

    page.goto(f"{server.url}/dashboard?lang=en")
    page.wait_for_selector("#chart-arm .main-svg")
    assert page.locator("h1").inner_text() == "Supervisor dashboard"
    server.shot(page, "dashboard-03-english")
