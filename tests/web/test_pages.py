"""Server-rendered pages: Chinese first, English switchable; the contact flow."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from web.conftest import sign_in_form


def test_pages_need_a_session(client) -> None:
    answer = client.get("/workbench", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_the_sign_in_page_is_chinese_first_and_switches_to_english(client) -> None:
    zh = client.get("/sign-in")
    assert '<html lang="zh-CN">' in zh.text and "登录" in zh.text
    en = client.get("/sign-in?lang=en")
    assert '<html lang="en">' in en.text and "Sign in" in en.text
    assert "forbear_lang=en" in en.headers["set-cookie"]
    assert "Sign in" in client.get("/sign-in").text  # the cookie keeps it


def test_security_headers(client) -> None:
    answer = client.get("/sign-in")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


def test_the_workbench_lists_the_agents_queue(client, sign_in, book) -> None:
    page = sign_in("agent1").get("/workbench")
    assert page.status_code == 200
    assert "今日工作队列" in page.text and f'href="/accounts/{book.queue_loan}"' in page.text
    # the queue's chart is plain HTML: the workbench loads no chart library (issue 15, 10)
    assert 'id="queue-chart"' in page.text and "plotly" not in page.text
    assert client.get("/static/vendor/plotly.min.js").status_code == 200


def test_the_admin_has_no_workbench(client, sign_in) -> None:
    page = sign_in("admin1").get("/workbench")
    assert page.status_code == 403 and "系统管理员" in page.text


def test_the_account_page_shows_masked_data_state_scores_and_timeline(
    client, sign_in, book
) -> None:
    page = sign_in("agent1").get(f"/accounts/{book.queue_loan}")
    assert page.status_code == 200
    mobile = re.search(r'id="masked-mobile">([^<]+)<', page.text)
    assert mobile is not None and "****" in mobile.group(1)
    for text in (
        "账户状态",
        "风险评分与原因",
        "联系借款人",
        "时间线",
        'id="complaints"',
        'id="legal"',
    ):
        assert text in page.text


def test_a_blocked_contact_shows_the_rule_and_the_earliest_time(
    client, sign_in, book, clock
) -> None:
    clock.now = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai
    c = sign_in("agent1")
    answer = c.post(
        f"/accounts/{book.queue_loan}/contact",
        data={"channel": "call", "csrf_token": c.headers["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = c.get(answer.headers["location"])
    assert "不得联系" in page.text and "CN.HOURS.QUIET" in page.text
    assert "2026-11-21 08:00" in page.text
    assert 'id="outcome-form"' not in page.text


def test_an_allowed_contact_then_its_outcome(client, sign_in, book) -> None:
    c = sign_in("agent1")
    token = c.headers["X-CSRF-Token"]
    answer = c.post(
        f"/accounts/{book.queue_loan}/contact", data={"channel": "call", "csrf_token": token}
    )
    assert "允许联系" in answer.text and 'id="outcome-form"' in answer.text
    attempt = re.search(r"/attempts/(\d+)/outcome", answer.text)
    assert attempt is not None
    saved = c.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt.group(1)}/outcome",
        data={"outcome": "hardship", "csrf_token": token},
    )
    assert 'id="outcome-saved"' in saved.text and "经济困难" in saved.text
    assert "已为该账户设置“经济困难”暂停" in saved.text  # the hardship hold it set


@pytest.mark.parametrize(
    ("data", "status"),
    [({"channel": "pigeon"}, 422), ({"channel": "call", "contact_point_id": "x"}, 422)],
)
def test_bad_contact_forms_show_a_clear_page(client, sign_in, book, data, status) -> None:
    c = sign_in("agent1")
    answer = c.post(
        f"/accounts/{book.queue_loan}/contact",
        data={**data, "csrf_token": c.headers["X-CSRF-Token"]},
    )
    assert answer.status_code == status and "输入无效" in answer.text
    assert "Traceback" not in answer.text


def test_unmasking_on_the_page(client, sign_in, book) -> None:
    c = sign_in("agent1")
    page = c.post(
        f"/accounts/{book.queue_loan}/unmask",
        data={"field": "mobile", "purpose": "contact", "csrf_token": c.headers["X-CSRF-Token"]},
    )
    revealed = re.search(r'id="revealed">手机号：(\d{11})', page.text)
    assert revealed is not None


def test_an_out_of_scope_account_page_is_not_found(client, sign_in, book) -> None:
    page = sign_in("agency1").get(f"/accounts/{book.other_loan}")
    assert page.status_code == 404 and "未找到借据" in page.text


def test_the_accounts_page_searches(client, sign_in) -> None:
    page = sign_in("super1").get("/accounts?bucket=M1")
    assert page.status_code == 200 and "账户查询" in page.text


def test_sign_in_then_out(client) -> None:
    assert sign_in_form(client, "agent1").status_code == 303
    page = client.get("/workbench")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    out = client.post("/sign-out", data={"csrf_token": token.group(1)})
    assert "您已安全退出" in out.text
    assert client.get("/workbench", follow_redirects=False).status_code == 303
