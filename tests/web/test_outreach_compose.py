"""Sending from the workbench over HTTP (issue 13, item 5), on SQLite and PostgreSQL: the
API (choices, preview, send once per request id, a blocked send's 409 with the rule ids,
the correspondence), the compose page without JavaScript (choose, preview, send, post /
redirect / get), the account page's link and timeline, scope (another agency: 404) and
roles; and the portal link's landing (the borrower pre-selected, never signed in; a bad
link reveals nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.web.conftest import Book, Clock
from tests.web.portal_helpers import PortalBorrower, form_token, portal_borrower

from forbear.services import portal as svc
from forbear.services.portal import links
from forbear.store.portal import PortalOutbox
from forbear.store.runs import OutboxMessage
from forbear.web.pages.portal import PORTAL_COOKIE

NIGHT = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
API = "/api/v1/outreach/loans"
SignIn = Callable[[str], TestClient]


def _first_sms(client: TestClient, loan_id: int) -> dict[str, str]:
    answer = client.get(f"{API}/{loan_id}/choices")
    assert answer.status_code == 200, answer.text
    sms = next(c for c in answer.json()["channels"] if c["channel"] == "sms")
    assert sms["reachable"] and sms["templates"], sms
    return {"channel": "sms", "template": sms["templates"][0]["code"]}


def _agent_messages(db) -> int:  # type: ignore[no-untyped-def]
    return int(
        db.conn.execute(select(func.count()).where(OutboxMessage.origin == "agent")).scalar_one()
    )


# ------------------------------------------------------------------------------ API


def test_choose_preview_and_send_once_per_request_id(
    sign_in: SignIn,
    book: Book,
    db,  # type: ignore[no-untyped-def]
) -> None:
    client = sign_in("agent1")
    loan = book.queue_loan
    choice = _first_sms(client, loan)
    shown = client.post(f"{API}/{loan}/preview", json=choice)
    assert shown.status_code == 200, shown.text
    preview = shown.json()
    assert preview["body"] and "{" not in preview["body"]
    assert preview["gate"]["allowed"] and preview["sendable"]
    assert _agent_messages(db) == 0  # a preview writes nothing

    body = {**choice, "request_id": "api-send-0000001"}
    first = client.post(f"{API}/{loan}/messages", json=body)
    assert first.status_code == 201, first.text
    queued = first.json()
    assert queued["status"] == "queued" and queued["created"]
    again = client.post(f"{API}/{loan}/messages", json=body)
    assert again.status_code == 200 and again.json()["message_id"] == queued["message_id"]
    assert not again.json()["created"]
    assert _agent_messages(db) == 1

    listed = client.get(f"{API}/{loan}/messages")
    assert listed.status_code == 200
    mine = [m for m in listed.json()["messages"] if m["message_id"] == queued["message_id"]]
    assert mine and mine[0]["status"] == "queued" and mine[0]["origin"] == "agent"
    assert mine[0]["actor"] == "web:agent1"

    page = client.get(f"/accounts/{loan}")
    assert page.status_code == 200
    assert f'data-message="{queued["message_id"]}" data-status="queued"' in page.text
    assert 'data-message-status="queued"' in page.text  # the timeline row
    assert 'id="compose-link"' in page.text


def test_a_send_the_gate_refuses_now_is_a_409_with_the_rule_ids(
    sign_in: SignIn,
    book: Book,
    db,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    clock.now = NIGHT  # signed in at night (a session idles out after a while)
    client = sign_in("agent1")
    loan = book.queue_loan
    choice = _first_sms(client, loan)
    shown = client.post(f"{API}/{loan}/preview", json=choice, params={"lang": "en"})
    assert shown.status_code == 200
    gate = shown.json()["gate"]
    assert not gate["allowed"] and gate["earliest_allowed_local"] == "2026-11-21 08:00"
    assert any(r.startswith("CN.HOURS") for r in gate["blocked_by"]) and gate["explanation"]
    refused = client.post(
        f"{API}/{loan}/messages", json={**choice, "request_id": "api-night-000001"}
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "contact_blocked"
    assert any(d.startswith("CN.HOURS") for d in error["details"])
    assert "2026-11-21 08:00" in error["message"]
    assert _agent_messages(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "sms"},
        {"channel": "call", "template": "CN.M1.CALLBACK"},
        {"channel": "sms", "template": "CN.M1.REMIND.SMS", "article": "budgeting"},
        {"channel": "fax", "template": "CN.M1.REMIND.SMS"},
    ],
)
def test_bad_requests_are_refused_and_queue_nothing(
    sign_in: SignIn,
    book: Book,
    db,  # type: ignore[no-untyped-def]
    body: dict[str, str],
) -> None:
    client = sign_in("agent1")
    answer = client.post(
        f"{API}/{book.queue_loan}/messages", json={**body, "request_id": "api-bad-00000001"}
    )
    assert answer.status_code == 422, answer.text
    assert _agent_messages(db) == 0


def test_another_agency_gets_404_and_the_placed_agency_may_choose(
    sign_in: SignIn,
    book: Book,
    client: TestClient,
    db,  # type: ignore[no-untyped-def]
) -> None:
    outsider = sign_in("agency2")
    loan = book.placed_loan
    choice = {"channel": "sms", "template": "CN.M1.REMIND.SMS"}
    assert outsider.get(f"{API}/{loan}/choices").status_code == 404
    assert outsider.post(f"{API}/{loan}/preview", json=choice).status_code == 404
    sent = outsider.post(f"{API}/{loan}/messages", json={**choice, "request_id": "agency-2-000001"})
    assert sent.status_code == 404
    assert outsider.get(f"{API}/{loan}/messages").status_code == 404
    assert outsider.get(f"/accounts/{loan}/compose").status_code == 404
    assert _agent_messages(db) == 0
    placed = sign_in("agency1")
    assert placed.get(f"{API}/{loan}/choices").status_code == 200


def test_legal_reads_the_correspondence_without_texts_and_may_not_send(
    sign_in: SignIn,
    book: Book,
    db,  # type: ignore[no-untyped-def]
) -> None:
    client = sign_in("legal1")
    loan = book.queue_loan
    assert client.get(f"{API}/{loan}/choices").status_code == 403
    refused = client.post(
        f"{API}/{loan}/messages",
        json={"channel": "sms", "template": "CN.M1.REMIND.SMS", "request_id": "legal-00000001"},
    )
    assert refused.status_code == 403
    listed = client.get(f"{API}/{loan}/messages")
    assert listed.status_code == 200
    assert all(m["text"] is None for m in listed.json()["messages"])


# ------------------------------------------------------------------------------ pages


def test_the_compose_page_chooses_previews_and_sends_without_javascript(
    sign_in: SignIn,
    book: Book,
    db,  # type: ignore[no-untyped-def]
) -> None:
    client = sign_in("agent1")
    loan = book.queue_loan
    empty = client.get(f"/accounts/{loan}/compose")
    assert empty.status_code == 200 and 'id="choose-form"' in empty.text
    assert "<script" not in empty.text
    values = re.findall(r'<option value="(sms:template:[^"]+)"', empty.text)
    assert values, "an approved SMS template to choose"
    shown = client.get(f"/accounts/{loan}/compose", params={"choice": values[0]})
    assert shown.status_code == 200
    assert 'id="preview-body"' in shown.text and 'id="gate-allowed"' in shown.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', shown.text)
    assert request_id is not None
    form = {
        "choice": values[0],
        "request_id": request_id.group(1),
        "csrf_token": form_token(shown.text),
    }
    del client.headers["X-CSRF-Token"]  # the form's own token, as a browser sends it
    done = client.post(f"/accounts/{loan}/compose", data=form, follow_redirects=False)
    assert done.status_code == 303
    target = done.headers["location"]
    assert target.startswith(f"/accounts/{loan}/compose?sent=")
    twice = client.post(f"/accounts/{loan}/compose", data=form, follow_redirects=False)
    assert twice.status_code == 303 and twice.headers["location"] == target  # a double click
    assert _agent_messages(db) == 1
    confirmed = client.get(target)
    assert confirmed.status_code == 200 and 'id="queued"' in confirmed.text


def test_the_compose_page_out_of_hours_shows_the_earliest_time_and_no_send_button(
    sign_in: SignIn,
    book: Book,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    clock.now = NIGHT  # signed in at night (a session idles out after a while)
    client = sign_in("agent1")
    loan = book.queue_loan
    choice = _first_sms(client, loan)
    shown = client.get(
        f"/accounts/{loan}/compose",
        params={"choice": f"sms:template:{choice['template']}", "lang": "en"},
    )
    assert shown.status_code == 200
    assert 'id="gate-blocked"' in shown.text and "2026-11-21 08:00" in shown.text
    assert 'id="send-form"' not in shown.text


def test_a_bad_choice_on_the_page_is_a_422(sign_in: SignIn, book: Book) -> None:
    client = sign_in("agent1")
    answer = client.get(f"/accounts/{book.queue_loan}/compose", params={"choice": "sms:nonsense"})
    assert answer.status_code == 422


# ------------------------------------------------------------------------------ portal link


@pytest.fixture
def me(db, book: Book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


def test_a_signed_link_preselects_the_borrower_and_signs_in_only_with_the_code(
    client: TestClient,
    db,
    me: PortalBorrower,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    token = links.sign(db.vault, me.borrower_id, now=clock.now)
    landing = client.get("/portal/sign-in", params={"t": token})
    assert landing.status_code == 200
    masked = f"{me.mobile[:3]}****{me.mobile[-4:]}"
    assert masked in landing.text and me.mobile not in landing.text
    assert PORTAL_COOKIE not in client.cookies  # not signed in
    assert client.get("/portal/home", follow_redirects=False).status_code == 303

    sent = client.post(
        "/portal/link/code", data={"link": token, "csrf_token": form_token(landing.text)}
    )
    assert sent.status_code == 200 and 'id="code-sent"' in sent.text
    assert me.mobile not in sent.text
    message_id = db.conn.execute(select(func.max(PortalOutbox.id))).scalar_one()
    code = svc.outbox_code(db.conn, db.vault, message_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post(
        "/portal/link/sign-in",
        data={"link": token, "code": wrong, "csrf_token": form_token(sent.text)},
    )
    assert refused.status_code == 401 and PORTAL_COOKIE not in client.cookies
    opened = client.post(
        "/portal/link/sign-in",
        data={"link": token, "code": code, "csrf_token": form_token(refused.text)},
        follow_redirects=False,
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/portal/home"
    assert client.get("/portal/home").status_code == 200


@pytest.mark.parametrize("kind", ["tampered", "expired", "malformed", "other-key"])
def test_a_bad_link_gets_a_clear_page_and_reveals_nothing(
    client: TestClient,
    db,
    me: PortalBorrower,
    clock: Clock,
    kind: str,  # type: ignore[no-untyped-def]
) -> None:
    good = links.sign(db.vault, me.borrower_id, now=clock.now)
    borrower, expires, mac = good.split(".")
    token = {
        "tampered": f"{int(borrower) + 1}.{expires}.{mac}",
        "expired": links.sign(db.vault, me.borrower_id, now=clock.now - timedelta(days=8)),
        "malformed": "not-a-token",
        "other-key": f"{borrower}.{expires}.{'0' * 32}",
    }[kind]
    before = db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one()
    page = client.get("/portal/sign-in", params={"t": token})
    assert page.status_code == 400 and 'id="link-refused"' in page.text
    assert me.mobile[-4:] + "<" not in page.text and "****" not in page.text
    plain = client.get("/portal/sign-in")  # a sign-in form's CSRF token: the code request
    code = client.post(
        "/portal/link/code", data={"link": token, "csrf_token": form_token(plain.text)}
    )
    assert code.status_code == 400 and 'id="link-refused"' in code.text
    after = db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one()
    assert after == before  # no code was sent anywhere


def test_the_account_page_shows_the_text_as_sent_to_agents_and_hides_it_from_legal(
    sign_in: SignIn,
    book: Book,
    db,  # type: ignore[no-untyped-def]
) -> None:
    import json

    from forbear.services.outreach import dispatch

    client = sign_in("agent1")
    loan = book.queue_loan
    body = {**_first_sms(client, loan), "request_id": "page-text-000001"}
    queued = client.post(f"{API}/{loan}/messages", json=body).json()
    text = "【还款提醒】页面测试正文"
    db.conn.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == queued["message_id"])
        .values(
            status="delivered",
            sent_at=datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC),
            delivered_at=datetime(2026, 11, 20, 2, 0, 9, tzinfo=UTC),
            body_enc=db.vault.encrypt(
                json.dumps({"subject": None, "body": text, "params": {}, "lang": "zh"}),
                context=dispatch.BODY_CONTEXT,
            ),
        )
    )
    page = client.get(f"/accounts/{loan}")
    assert f'data-message="{queued["message_id"]}" data-status="delivered"' in page.text
    assert text in page.text and "已送达" in page.text
    legal = sign_in("legal1").get(f"/accounts/{loan}")
    assert legal.status_code == 200
    assert f'data-message="{queued["message_id"]}"' in legal.text
    assert text not in legal.text and "您的角色无权查看内容" in legal.text
    assert 'id="compose-link"' not in legal.text
