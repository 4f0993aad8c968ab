"""The supervisor dashboard page on the demo book: per role, its tiles, tables and chart
data, the no-data state, English, a bad range, and the navigation link."""

from __future__ import annotations

import json
import re

import pytest

URL = "/dashboard"


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("super1", 200),
        ("compliance1", 200),
        ("admin1", 200),
        ("agent1", 403),
        ("legal1", 403),
        ("agency1", 403),
    ],
)
def test_the_page_is_for_the_roles_that_steer_the_operation(
    client, sign_in, username, status
) -> None:
    # a range before the book: cheap to compute, and who may read it does not depend on it
    page = sign_in(username).get(URL, params={"from": "2020-01-01", "to": "2020-02-01"})
    assert page.status_code == status
    if status == 403:
        assert "主管看板" not in page.text


def test_without_a_session_the_page_goes_to_the_sign_in(client) -> None:
    answer = client.get(URL, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_the_supervisor_sees_tiles_tables_and_charts(client, sign_in) -> None:
    page = sign_in("super1").get(URL)
    text = page.text
    assert "主管看板" in text and 'id="tiles"' in text
    assert 'data-metric="complaints_per_10k"' in text and 'data-metric="satisfaction"' in text
    for table in ('id="by-arm"', 'id="by-team"', 'id="roll"', 'id="capacity"'):
        assert table in text, table
    # the demo's day blocked nothing: the section says so rather than showing an empty table
    assert 'id="blocked-h"' in text and "期间没有被拦截的联系" in text
    assert '<script src="/static/vendor/plotly.min.js">' in text
    assert '<script src="/static/dashboard.js">' in text
    assert "<script>" not in text  # no inline script (CSP)
    data = re.search(r'<script type="application/json" id="chart-arm-data">(.*?)</script>', text)
    assert data is not None
    chart = json.loads(data.group(1))
    assert chart["kind"] == "grouped" and len(chart["series"]) == 6
    assert all(len(s["y"]) == len(chart["x"]) for s in chart["series"])
    assert "未分配" in chart["x"]  # the accounts without a decision, named
    assert 'id="dash-no-data"' not in text
    assert 'id="satisfaction-h"' in text
    assert 'id="chart-collected-data"' in text


def test_a_range_without_data_shows_the_no_data_state(client, sign_in) -> None:
    page = sign_in("super1").get(URL, params={"from": "2020-01-01", "to": "2020-02-01"})
    assert page.status_code == 200
    assert 'id="dash-no-data"' in page.text and "所选期间没有数据" in page.text
    assert 'id="tiles"' not in page.text and "plotly" not in page.text


def test_the_page_in_english(client, sign_in) -> None:
    page = sign_in("compliance1").get(URL, params={"lang": "en"})
    assert "Supervisor dashboard" in page.text and "Recovery rate" in page.text


def test_a_bad_range_is_a_clear_error_page(client, sign_in) -> None:
    page = sign_in("super1").get(URL, params={"from": "2026-11-20", "to": "2026-11-01"})
    assert page.status_code == 422 and "结束日期必须晚于开始日期" in page.text
    assert "Traceback" not in page.text


def test_the_navigation_links_the_dashboard_for_managers_only(client, sign_in) -> None:
    assert 'href="/dashboard"' in sign_in("super1").get("/workbench").text
    assert 'href="/dashboard"' not in sign_in("agent1").get("/workbench").text


def test_survey_answers_show_by_subject(client, sign_in, book, db) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from forbear.store.complaints import SatisfactionResponse
    from forbear.store.models import Loan

    from .conftest import AS_OF

    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    db.conn.execute(
        insert(SatisfactionResponse).values(
            borrower_id=borrower,
            loan_id=book.queue_loan,
            subject_type="plan",
            subject_id=1,
            score=5,
            answered_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
            answered_on=AS_OF,
            recorded_by="test",
        )
    )
    text = sign_in("super1").get(URL).text
    table = re.search(r'<table id="satisfaction">(.*?)</table>', text, re.S)
    assert table is not None
    assert "还款计划" in table.group(1) and "5.00" in table.group(1) and "100.0%" in table.group(1)
    assert "1 份回答" in text  # the tile
