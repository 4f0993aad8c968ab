"""The borrower portal's API on the test book (SQLite and PostgreSQL): sign-in by code,
own loans only, every route's refusals (no session, staff credentials, CSRF, another
borrower's loan, bad input: nothing written) and the education routes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.services import portal as svc
from forbear.store.audit import AuditEvent
from forbear.store.complaints import Complaint
from forbear.store.contacts import Hold
from forbear.store.plans import Plan
from forbear.store.portal import ArticleView, PaymentIntent, PortalCode, PortalOutbox
from forbear.store.promises import Promise
from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


@pytest.fixture
def signed(client: TestClient, db, clock, me: PortalBorrower) -> TestClient:  # type: ignore[no-untyped-def]
    portal_sign_in(client, db, clock, me.borrower_id)
    return client


def snapshot(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(
        int(db.conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in (AuditEvent, PaymentIntent, Promise, Plan, Hold, Complaint, PortalCode)
    )


def test_sign_in_by_code_from_the_outbox(client: TestClient, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    sent = client.post("/api/v1/portal/code", json={"mobile": me.mobile})
    assert sent.status_code == 202 and sent.json() == {"accepted": True, "expires_in_seconds": 300}
    message_id = db.conn.execute(select(func.max(PortalOutbox.id))).scalar_one()
    code = svc.outbox_code(db.conn, db.vault, message_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post("/api/v1/portal/session", json={"mobile": me.mobile, "code": wrong})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "sign_in_failed"
    opened = client.post("/api/v1/portal/session", json={"mobile": me.mobile, "code": code})
    assert opened.status_code == 201
    assert "forbear_portal" in opened.headers["set-cookie"]
    assert "httponly" in opened.headers["set-cookie"].lower()
    client.headers["X-CSRF-Token"] = opened.json()["csrf_token"]
    loans = client.get("/api/v1/portal/loans")
    assert loans.status_code == 200
    assert me.loan_id in [x["loan_id"] for x in loans.json()]
    assert me.other_loan not in [x["loan_id"] for x in loans.json()]
    out = client.delete("/api/v1/portal/session")
    assert out.status_code == 204
    assert client.get("/api/v1/portal/loans").status_code == 401


def test_an_unknown_number_gets_the_same_answer(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    before = db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one()
    sent = client.post("/api/v1/portal/code", json={"mobile": "10000000000"})
    assert sent.status_code == 202 and sent.json() == {"accepted": True, "expires_in_seconds": 300}
    after = db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one()
    assert after == before


def test_code_requests_are_rate_limited(client: TestClient, me: PortalBorrower) -> None:
    assert client.post("/api/v1/portal/code", json={"mobile": me.mobile}).status_code == 202
    again = client.post("/api/v1/portal/code", json={"mobile": me.mobile})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert again.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("body", [{"mobile": "123"}, {"mobile": "abc"}, {"mobile": ""}, {}])
def test_a_malformed_number_is_422_and_writes_nothing(client: TestClient, db, body) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(db)
    answer = client.post("/api/v1/portal/code", json=body)
    assert answer.status_code == 422
    assert snapshot(db) == before


BORROWER_ROUTES = [
    ("get", "/api/v1/portal/loans", None),
    ("get", "/api/v1/portal/loans/{loan}", None),
    ("get", "/api/v1/portal/loans/{loan}/plan-options", None),
    ("get", "/api/v1/portal/contacts", None),
    ("post", "/api/v1/portal/loans/{loan}/payment-intents", {"amount": 100, "method": "alipay"}),
    ("post", "/api/v1/portal/loans/{loan}/promises", {"amount": 100, "promised_on": "2026-11-22"}),
    ("post", "/api/v1/portal/loans/{loan}/plans", {"option": "restructure-3"}),
    ("post", "/api/v1/portal/loans/{loan}/disputes", {"reason": "other"}),
    ("post", "/api/v1/portal/complaints", {"category": "other", "description": "x"}),
    ("post", "/api/v1/portal/opt-outs", {"channel": "sms"}),
]


@pytest.mark.parametrize(("method", "path", "body"), BORROWER_ROUTES)
def test_borrower_routes_need_a_borrower_session_not_a_staff_one(
    client: TestClient,
    db,
    sign_in,
    me: PortalBorrower,
    method: str,
    path: str,
    body,  # type: ignore[no-untyped-def]
) -> None:
    url = path.format(loan=me.loan_id)
    before = snapshot(db)
    assert getattr(client, method)(url, **({"json": body} if body else {})).status_code == 401
    sign_in("agent1")  # a staff session opens no borrower route
    assert getattr(client, method)(url, **({"json": body} if body else {})).status_code == 401
    assert snapshot(db) == before


@pytest.mark.parametrize(("method", "path", "body"), [r for r in BORROWER_ROUTES if r[0] == "post"])
def test_writes_need_the_csrf_token(
    signed: TestClient,
    db,
    me: PortalBorrower,
    method: str,
    path: str,
    body,  # type: ignore[no-untyped-def]
) -> None:
    del signed.headers["X-CSRF-Token"]
    before = snapshot(db)
    answer = signed.post(path.format(loan=me.loan_id), json=body)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf_failed"
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("method", "path", "body"), [r for r in BORROWER_ROUTES if "{loan}" in r[1]]
)
def test_another_borrowers_loan_is_404_and_nothing_is_written(
    signed: TestClient,
    db,
    me: PortalBorrower,
    method: str,
    path: str,
    body,  # type: ignore[no-untyped-def]
) -> None:
    before = snapshot(db)
    url = path.format(loan=me.other_loan)
    answer = getattr(signed, method)(url, **({"json": body} if body else {}))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert snapshot(db) == before


def test_a_complaint_about_another_borrowers_loan_is_404(
    signed: TestClient,
    db,
    me: PortalBorrower,  # type: ignore[no-untyped-def]
) -> None:
    before = snapshot(db)
    body = {"loan_id": me.other_loan, "category": "other", "description": "x"}
    assert signed.post("/api/v1/portal/complaints", json=body).status_code == 404
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("payment-intents", {"amount": 0, "method": "alipay"}),
        ("payment-intents", {"amount": "100", "method": "alipay"}),
        ("payment-intents", {"amount": 100, "method": "cash"}),
        ("payment-intents", {"amount": 99_999_999_999, "method": "alipay"}),
        ("promises", {"amount": 100, "promised_on": "2020-01-01"}),
        ("promises", {"amount": 100, "promised_on": "soon"}),
        ("plans", {"option": "settlement-50"}),
        ("disputes", {"reason": "because"}),
        ("disputes", {"reason": "other", "extra": 1}),
    ],
)
def test_bad_input_is_422_in_the_users_language_and_writes_nothing(
    signed: TestClient,
    db,
    me: PortalBorrower,
    path: str,
    body,  # type: ignore[no-untyped-def]
) -> None:
    before = snapshot(db)
    answer = signed.post(f"/api/v1/portal/loans/{me.loan_id}/{path}", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"]
    assert snapshot(db) == before


def test_malformed_json_is_400(signed: TestClient, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    answer = signed.post(
        f"/api/v1/portal/loans/{me.loan_id}/disputes",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400


def test_the_borrower_sees_what_is_owed_in_fen_and_yuan(
    signed: TestClient, me: PortalBorrower
) -> None:
    loan = signed.get(f"/api/v1/portal/loans/{me.loan_id}").json()
    total = loan["overdue_total"]
    assert total["fen"] > 0 and total["yuan"].startswith("¥")
    parts = ("overdue_principal", "overdue_interest", "overdue_fee", "overdue_penalty")
    assert sum(loan[p]["fen"] for p in parts) == total["fen"]
    assert loan["dpd"] > 0 and loan["oldest_due_date"] is not None


def test_writes_are_stored_with_the_borrower_as_actor(
    signed: TestClient,
    db,
    me: PortalBorrower,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    base = f"/api/v1/portal/loans/{me.loan_id}"
    intent = signed.post(f"{base}/payment-intents", json={"amount": 12_345, "method": "alipay"})
    assert intent.status_code == 201
    row = db.conn.execute(
        select(PaymentIntent).where(PaymentIntent.id == intent.json()["id"])
    ).one()
    assert row.created_by == f"portal:borrower:{me.borrower_id}" and row.amount == 12_345
    day = (clock.now + timedelta(days=3)).date().isoformat()
    promised = signed.post(f"{base}/promises", json={"amount": 10_000, "promised_on": day})
    assert promised.status_code == 201, promised.text
    source = db.conn.execute(
        select(Promise.source).where(Promise.id == promised.json()["id"])
    ).scalar_one()
    assert source == "portal"
    stopped = signed.post("/api/v1/portal/opt-outs", json={"channel": "sms"})
    assert stopped.status_code == 201
    assert signed.post("/api/v1/portal/opt-outs", json={"channel": "sms"}).status_code == 409
    complaint = signed.post(
        "/api/v1/portal/complaints",
        json={"loan_id": me.loan_id, "category": "harassment", "description": "电话太多"},
    )
    assert complaint.status_code == 201
    filed = db.conn.execute(select(Complaint).where(Complaint.id == complaint.json()["id"])).one()
    assert (filed.source, filed.borrower_id) == ("portal", me.borrower_id)


def test_a_plan_is_chosen_from_the_options(signed: TestClient, me: PortalBorrower) -> None:
    base = f"/api/v1/portal/loans/{me.loan_id}"
    options = signed.get(f"{base}/plan-options").json()
    if not options["available"]:
        pytest.skip("this book's queue loan has no plan option on the run date")
    key = options["options"][0]["key"]
    chosen = signed.post(f"{base}/plans", json={"option": key})
    assert chosen.status_code == 201 and chosen.json()["status"] == "accepted"
    again = signed.get(f"{base}/plan-options").json()
    assert again == {"options": [], "available": False}


def test_a_dispute_is_stored_as_a_hold(signed: TestClient, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    answer = signed.post(f"/api/v1/portal/loans/{me.loan_id}/disputes", json={"reason": "other"})
    assert answer.status_code == 201
    hold = db.conn.execute(select(Hold).where(Hold.id == answer.json()["id"])).one()
    assert hold.kind == "dispute" and hold.loan_id == me.loan_id


def test_contact_history_names_no_collector(signed: TestClient, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    answer = signed.get("/api/v1/portal/contacts")
    assert answer.status_code == 200
    for row in answer.json():
        assert set(row) == {"at", "loan_ref", "channel", "outcome"}
    assert "agent" not in answer.text


def test_rights_are_public(client: TestClient) -> None:
    answer = client.get("/api/v1/portal/rights")
    assert answer.status_code == 200 and answer.json()["hotline"] == "12378"
    assert answer.json()["contact_windows"]


def test_articles_are_public_and_views_are_counted(client: TestClient, db, sign_in) -> None:  # type: ignore[no-untyped-def]
    listed = client.get("/api/v1/education/articles", params={"lang": "en"})
    assert listed.status_code == 200 and len(listed.json()) == 5
    before = db.conn.execute(select(func.count()).select_from(ArticleView)).scalar_one()
    one = client.get("/api/v1/education/articles/budgeting", params={"lang": "zh"})
    assert one.status_code == 200 and one.json()["lang"] == "zh" and one.json()["body"]
    after = db.conn.execute(select(func.count()).select_from(ArticleView)).scalar_one()
    assert after == before + 1
    assert client.get("/api/v1/education/articles/nope").status_code == 404
    assert client.get("/api/v1/education/articles", params={"lang": "fr"}).status_code == 422
    assert client.get("/api/v1/education/views").status_code == 401
    sign_in("agent1")
    assert client.get("/api/v1/education/views").status_code == 403
    sign_in("compliance1")
    counts = {r["slug"]: r["views"] for r in client.get("/api/v1/education/views").json()}
    assert counts["budgeting"] >= 1
