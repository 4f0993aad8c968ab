"""Errors that keep work (issue 15, item 4): a form posted with an expired session is
given back after signing in; error pages keep the navigation and sign-out; each role
lands on a page it may open; the browser's amount pattern accepts what the server does."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import update

from forbear.domain.errors import ValidationError
from forbear.domain.money import parse_yuan
from forbear.store.web import StaffSession
from forbear.web.app import AMOUNT_PATTERN
from forbear.web.forms import STASH_COOKIE, refusal
from forbear.web.i18n import Translator
from web.conftest import sign_in_form

NOTE = "借款人要求下午三点后再联系，手机尾号5678"


def test_a_form_posted_with_an_expired_session_comes_back_after_signing_in(  # type: ignore[no-untyped-def]
    client, sign_in, book, db, clock
) -> None:
    agent = sign_in("agent1")
    page = f"/accounts/{book.queue_loan}"
    assert agent.get(page).status_code == 200
    db.conn.execute(update(StaffSession).values(expires_at=clock.now))  # it has just ended
    posted = agent.post(
        f"{page}/notes",
        data={"note": NOTE, "csrf_token": "t0ken-value"},
        headers={"referer": f"https://testserver{page}"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    target = posted.headers["location"]
    assert target.startswith("/sign-in?next=%2Faccounts%2F") and "&kept=1" in target
    stash = next(c for c in posted.headers.get_list("set-cookie") if c.startswith(STASH_COOKIE))
    assert "httponly" in stash.lower() and "max-age=900" in stash.lower()
    value = stash.split(";")[0].split("=", 1)[1]
    assert "5678" not in value and "t0ken" not in value  # encrypted, no secrets
    notice = client.get(target).text
    assert "您的登录已过期" in notice and "恢复" in notice

    signed = sign_in_form(client, "agent1", next=page)
    assert signed.headers["location"] == page
    back = client.get(page)
    assert 'id="form-restored"' in back.text
    found = re.search(
        r'<script type="application/json" id="restored-form">(.*?)</script>', back.text
    )
    assert found is not None
    restored = json.loads(found.group(1))
    assert restored["action"] == f"{page}/notes" and restored["fields"] == {"note": NOTE}
    assert any(c.startswith(f"{STASH_COOKIE}=;") for c in back.headers.get_list("set-cookie"))
    assert 'id="form-restored"' not in client.get(page).text  # given back once


def test_a_stash_for_another_page_or_forged_is_ignored(client, sign_in, book) -> None:  # type: ignore[no-untyped-def]
    agent = sign_in("agent1")
    agent.cookies.set(STASH_COOKIE, "bm90LWEtc3Rhc2g=", domain="testserver", path="/")
    assert 'id="form-restored"' not in agent.get(f"/accounts/{book.queue_loan}").text


@pytest.mark.parametrize(
    ("username", "landing"),
    [("admin1", "/admin/staff"), ("legal1", "/legal"), ("agent1", "/workbench")],
)
def test_each_role_lands_on_a_page_it_may_open(client, username: str, landing: str) -> None:  # type: ignore[no-untyped-def]
    answer = sign_in_form(client, username)
    assert answer.status_code == 303 and answer.headers["location"] == landing


def test_error_pages_keep_the_navigation_and_sign_out(sign_in) -> None:  # type: ignore[no-untyped-def]
    agent = sign_in("agent1")
    for path in ("/accounts/999999", "/no-such-page"):
        page = agent.get(path)
        assert page.status_code == 404
        assert 'action="/sign-out"' in page.text and 'href="/workbench"' in page.text
        assert 'id="nav-sent"' in page.text
    forbidden = sign_in("admin1").get("/workbench")
    assert forbidden.status_code == 403 and 'action="/sign-out"' in forbidden.text


def test_a_refusal_is_worded_beside_its_field_with_its_label_and_limit() -> None:
    zh, en = Translator("zh-CN"), Translator("en")
    labels = {"note": "workbench.note.label"}
    assert refusal(zh, ValidationError("note", "too_long:2000"), labels) == {
        "note": "请检查通话备注：最多 2000 个字"
    }
    assert refusal(en, ValidationError("note", "required"), labels) == {
        "note": "Call note: required"
    }
    assert refusal(en, ValidationError("x", "free text"), labels, default="note") == {
        "note": "x: free text"
    }


@pytest.mark.parametrize("text", ["１２３", "¥1,200.50", "￥ 1,200", "88", "1234.5", "12，345"])
def test_the_browser_amount_pattern_accepts_what_the_server_accepts(text: str) -> None:
    assert re.fullmatch(AMOUNT_PATTERN, text) is not None
    assert parse_yuan(text) > 0


@pytest.mark.parametrize("text", ["abc", "1.234", "-5", ""])
def test_the_browser_amount_pattern_refuses_what_the_server_refuses(text: str) -> None:
    assert re.fullmatch(AMOUNT_PATTERN, text) is None
