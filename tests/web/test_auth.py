"""Sign-in, sessions, CSRF, rate limits and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.services import sessions, staff
from forbear.store.audit import AuditEvent
from forbear.store.web import SignInAttempt, StaffSession
from forbear.web.deps import SESSION_COOKIE
from web.conftest import PASSWORD, sign_in_form


def test_signing_in_sets_a_signed_httponly_samesite_secure_cookie(client) -> None:
    answer = sign_in_form(client, "agent1", next="/accounts")
    assert answer.status_code == 303 and answer.headers["location"] == "/accounts"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "secure" in lowered
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "." in value  # signed


def test_the_database_keeps_only_a_hash_of_the_session_token(client, db) -> None:
    answer = sign_in_form(client, "agent1")
    cookie = answer.cookies[SESSION_COOKIE]
    stored = db.conn.execute(select(StaffSession.token_sha256)).scalars().all()
    assert stored and all(len(h) == 64 and h not in cookie for h in stored)


def test_an_open_redirect_is_refused(client) -> None:
    answer = sign_in_form(client, "agent1", next="//evil.example/x")
    assert answer.headers["location"] == "/workbench"


def test_a_wrong_password_and_an_unknown_user_answer_alike(client, db) -> None:
    wrong = sign_in_form(client, "agent1", "wrong password!!")
    unknown = sign_in_form(client, "nobody", "wrong password!!")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.text and "用户名或密码不正确" in unknown.text
    assert SESSION_COOKIE not in wrong.cookies
    failed = db.conn.execute(
        select(func.count()).where(AuditEvent.action == "staff.sign_in_failed")
    ).scalar_one()
    assert failed == 2
    payloads = db.conn.execute(
        select(AuditEvent.payload).where(AuditEvent.action == "staff.sign_in_failed")
    ).scalars()
    assert all("wrong password" not in p and "nobody" not in p for p in payloads)


def test_the_sign_in_form_needs_its_csrf_token(client) -> None:
    client.get("/sign-in")
    answer = client.post(
        "/sign-in", data={"username": "agent1", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403 and "CSRF" in answer.text


def test_five_failures_throttle_that_username_even_with_the_right_password(client, db) -> None:
    for _ in range(sessions.MAX_FAILURES_PER_USERNAME):
        assert sign_in_form(client, "agent1", "not the password").status_code == 401
    throttled = sign_in_form(client, "agent1")
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "登录尝试次数过多" in throttled.text
    # another username from the same client is still let in
    assert sign_in_form(client, "super1").status_code == 303
    rows = db.conn.execute(select(SignInAttempt.username_key, SignInAttempt.client_key)).all()
    assert all("agent1" not in a and "testclient" not in b for a, b in rows)


def test_the_limit_lifts_when_the_window_has_passed(client, clock) -> None:
    for _ in range(sessions.MAX_FAILURES_PER_USERNAME):
        sign_in_form(client, "agent1", "not the password")
    assert sign_in_form(client, "agent1").status_code == 429
    clock.now += sessions.WINDOW + timedelta(seconds=1)
    assert sign_in_form(client, "agent1").status_code == 303


def test_a_busy_address_costs_accounts_checks_but_never_locks_out_another_account(
    client,
) -> None:
    # behind one address (an office, a carrier NAT): many failures for other usernames ...
    for i in range(sessions.BUSY_CLIENT_FAILURES):
        sign_in_form(client, f"guess{i % 7}", "not the password")
    # ... leave a correct password for another account working
    assert sign_in_form(client, "super1").status_code == 303
    client.cookies.clear()
    # an account gets fewer failed checks from that busy address, then waits
    for _ in range(sessions.BUSY_CLIENT_FAILURES_PER_ACCOUNT):
        assert sign_in_form(client, "agent1", "not the password").status_code == 401
    assert sign_in_form(client, "agent1").status_code == 429


def test_consecutive_failures_lock_the_account_until_enabled(client, clock, db) -> None:
    for _ in range(sessions.LOCK_AFTER):
        sign_in_form(client, "legal1", "not the password")
        clock.now += timedelta(minutes=4)  # slow guessing stays under the window limit
    clock.now += sessions.WINDOW
    assert sign_in_form(client, "legal1").status_code == 429  # locked
    staff.enable_staff(db.conn, "legal1", actor="test", now=clock.now)
    assert sign_in_form(client, "legal1").status_code == 303


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(client, sign_in, db, clock) -> None:
    c = sign_in("agent1")
    staff.disable_staff(db.conn, "agent1", actor="test", now=clock.now)
    assert c.get("/api/v1/me").status_code == 401
    assert sign_in_form(client, "agent1").status_code == 401


def test_a_forged_or_tampered_cookie_is_a_401_and_the_cookie_is_cleared(client) -> None:
    client.cookies.set(SESSION_COOKIE, "forged.value.sig")
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "session_invalid"
    assert "登录状态无效" in answer.json()["error"]["message"]


def test_a_page_with_a_bad_cookie_redirects_to_sign_in(client) -> None:
    client.cookies.set(SESSION_COOKIE, "forged")
    answer = client.get("/workbench", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=%2Fworkbench&expired=1")


def test_sessions_expire_when_idle_and_after_the_absolute_limit(client, sign_in, clock) -> None:
    c = sign_in("agent1")
    clock.now += sessions.IDLE - timedelta(minutes=1)
    assert c.get("/api/v1/me").status_code == 200  # activity keeps it alive
    clock.now += sessions.IDLE + timedelta(seconds=1)
    assert c.get("/api/v1/me").status_code == 401


def test_the_absolute_limit(client, sign_in, clock) -> None:
    c = sign_in("agent1")
    for _ in range(int(sessions.ABSOLUTE / timedelta(hours=1))):
        clock.now += timedelta(hours=1)
        c.get("/api/v1/me")
    assert c.get("/api/v1/me").status_code == 401


def test_signing_out_revokes_the_session(client, sign_in) -> None:
    c = sign_in("agent1")
    stolen = c.cookies[SESSION_COOKIE]
    token = c.headers["X-CSRF-Token"]
    answer = c.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    replay = TestClient(c.app, base_url="https://testserver")
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/api/v1/me").status_code == 401


def test_unsafe_requests_with_the_cookie_need_the_csrf_token(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    token = c.headers.pop("X-CSRF-Token")
    before = db.conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    url = f"/api/v1/accounts/{book.queue_loan}/contacts"
    missing = c.post(url, json={"channel": "call"})
    wrong = c.post(url, json={"channel": "call"}, headers={"X-CSRF-Token": "x" + token})
    for answer in (missing, wrong):
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf_failed"
    assert db.conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before
    page_form = c.post(f"/accounts/{book.queue_loan}/contact", data={"channel": "call"})
    assert page_form.status_code == 403 and "CSRF" in page_form.text
    ok = c.post(url, json={"channel": "call"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


def test_api_tokens_authenticate_without_csrf_and_can_be_revoked(client, book, db, clock) -> None:
    issued = staff.issue_api_token(db.conn, "service1", name="core", actor="test", now=clock.now)
    bearer = {"Authorization": f"Bearer {issued.token}"}
    me = client.get("/api/v1/me", headers=bearer).json()
    assert me["username"] == "service1" and me["via"] == "token" and me["csrf_token"] is None
    made = client.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "sms"}, headers=bearer
    )
    assert made.status_code == 201
    staff.revoke_api_token(db.conn, issued.id, actor="test", now=clock.now)
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


@pytest.mark.parametrize("header", ["Bearer fbr_not-a-token", "Bearer nonsense", "Basic abc"])
def test_bad_bearer_tokens(client, header) -> None:
    answer = client.get("/api/v1/me", headers={"Authorization": header})
    assert answer.status_code == 401


def test_an_expired_api_token(client, db, clock) -> None:
    issued = staff.issue_api_token(
        db.conn, "service1", name="core", actor="test", now=clock.now, days=1
    )
    clock.now += timedelta(days=1, seconds=1)
    answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
    assert answer.status_code == 401
