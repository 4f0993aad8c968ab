"""The borrower portal's pages on the test book: nothing about a debt before sign-in,
sign-in by code through the forms, each page and form, another borrower's loan (404,
nothing written), CSRF, the development-only log line, the catalogue."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.services import portal as svc
from forbear.store.audit import AuditEvent
from forbear.store.complaints import Complaint
from forbear.store.contacts import Hold
from forbear.store.plans import Plan
from forbear.store.portal import ArticleView, PaymentIntent, PortalOutbox
from forbear.store.promises import Promise
from forbear.web.i18n import EN, ZH
from web.portal_helpers import PortalBorrower, form_token, portal_borrower, portal_sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "src/forbear/web/templates/portal"


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


@pytest.fixture
def signed(client: TestClient, db, clock, me: PortalBorrower) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    csrf = portal_sign_in(client, db, clock, me.borrower_id)
    del client.headers["X-CSRF-Token"]  # pages post the form field
    return client, csrf


def snapshot(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(
        int(db.conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in (AuditEvent, PaymentIntent, Promise, Plan, Hold, Complaint)
    )


@pytest.mark.parametrize(
    "path",
    [
        "/portal/home",
        "/portal/loans/1",
        "/portal/loans/1/plans",
        "/portal/contacts",
        "/portal/preferences",
        "/portal/complain",
    ],
)
def test_nothing_about_a_debt_before_sign_in(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/sign-in"


def test_the_sign_in_page_shows_no_debt_and_no_staff_navigation(client: TestClient) -> None:
    page = client.get("/portal/sign-in")
    assert page.status_code == 200
    assert "¥" not in page.text and "/workbench" not in page.text
    assert 'name="mobile"' in page.text and 'type="tel"' in page.text


def test_sign_in_through_the_forms(client: TestClient, db, me: PortalBorrower, caplog) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/portal/sign-in")
    with caplog.at_level(logging.DEBUG):
        sent = client.post(
            "/portal/code", data={"mobile": me.mobile, "csrf_token": form_token(page.text)}
        )
    assert sent.status_code == 200 and 'id="code-sent"' in sent.text
    message_id = db.conn.execute(select(func.max(PortalOutbox.id))).scalar_one()
    code = svc.outbox_code(db.conn, db.vault, message_id)
    # the test server is not in development mode: no code and no number in the log
    assert code not in caplog.text and me.mobile not in caplog.text
    token = form_token(sent.text)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post(
        "/portal/sign-in", data={"mobile": me.mobile, "code": wrong, "csrf_token": token}
    )
    assert refused.status_code == 401 and 'id="portal-error"' in refused.text
    token = form_token(refused.text)
    opened = client.post(
        "/portal/sign-in",
        data={"mobile": me.mobile, "code": code, "csrf_token": token},
        follow_redirects=False,
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/portal/home"
    home = client.get("/portal/home")
    assert home.status_code == 200 and f'id="loan-{me.loan_id}"' in home.text
    assert f'id="loan-{me.other_loan}"' not in home.text


def test_the_code_form_needs_its_csrf_cookie(client: TestClient, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    before = db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one()
    answer = client.post("/portal/code", data={"mobile": me.mobile, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert db.conn.execute(select(func.count()).select_from(PortalOutbox)).scalar_one() == before


def test_a_bad_number_is_answered_on_the_form(client: TestClient) -> None:
    page = client.get("/portal/sign-in")
    answer = client.post("/portal/code", data={"mobile": "12", "csrf_token": form_token(page.text)})
    assert answer.status_code == 422 and 'id="portal-error"' in answer.text


def test_the_loan_page_shows_what_is_owed_by_component(signed, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed
    page = client.get(f"/portal/loans/{me.loan_id}")
    assert page.status_code == 200
    assert 'id="overdue-total"' in page.text and "¥" in page.text
    for key in ("portal.loan.overdue_principal", "portal.loan.overdue_penalty"):
        assert ZH[key] in page.text


def test_another_borrowers_loan_is_404_and_nothing_is_written(
    signed, db, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    before = snapshot(db)
    other = me.other_loan
    assert client.get(f"/portal/loans/{other}").status_code == 404
    assert client.get(f"/portal/loans/{other}/plans").status_code == 404
    for action, data in (
        ("pay", {"amount": "10", "method": "alipay"}),
        ("promise", {"amount": "10", "promised_on": "2026-11-22"}),
        ("dispute", {"reason": "other"}),
        ("plans", {"option": "restructure-3"}),
    ):
        answer = client.post(f"/portal/loans/{other}/{action}", data=data | {"csrf_token": csrf})
        assert answer.status_code == 404, action
        assert ZH["portal.error.not_found"] in answer.text
    complaint = client.post(
        "/portal/complain",
        data={"loan_id": str(other), "category": "other", "description": "x", "csrf_token": csrf},
    )
    assert complaint.status_code == 404
    assert snapshot(db) == before


def test_forms_without_the_csrf_token_are_refused(signed, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed
    before = snapshot(db)
    answer = client.post(
        f"/portal/loans/{me.loan_id}/pay", data={"amount": "10", "method": "alipay"}
    )
    assert answer.status_code == 403
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("pay", {"amount": "abc", "method": "alipay"}),
        ("pay", {"amount": "10.001", "method": "alipay"}),
        ("pay", {"amount": "10", "method": "cash"}),
        ("promise", {"amount": "10", "promised_on": "someday"}),
        ("dispute", {"reason": "because"}),
        ("plans", {"option": "settlement-99"}),
    ],
)
def test_bad_form_input_is_422_and_writes_nothing(
    signed, db, me: PortalBorrower, action, data
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    before = snapshot(db)
    answer = client.post(f"/portal/loans/{me.loan_id}/{action}", data=data | {"csrf_token": csrf})
    assert answer.status_code == 422
    if action == "promise":  # beside the field on the loan page, what was typed kept
        assert 'id="promise-error"' in answer.text and 'value="someday"' in answer.text
        assert "承诺" in answer.text and 'aria-invalid="true"' in answer.text
    else:
        assert 'id="portal-error-message"' in answer.text
    assert snapshot(db) == before


def test_pay_promise_dispute_through_the_forms(signed, db, me: PortalBorrower, clock) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    base = f"/portal/loans/{me.loan_id}"
    paid = client.post(
        f"{base}/pay", data={"amount": "100.50", "method": "alipay", "csrf_token": csrf}
    )
    assert paid.status_code == 200 and ZH["portal.done.pay"] in paid.text
    amount = db.conn.execute(select(PaymentIntent.amount).order_by(PaymentIntent.id.desc())).first()
    assert amount is not None and amount[0] == 10_050
    day = clock.now.date().isoformat()
    promised = client.post(
        f"{base}/promise", data={"amount": "200", "promised_on": day, "csrf_token": csrf}
    )
    assert promised.status_code == 200 and ZH["portal.done.promise"] in promised.text
    disputed = client.post(f"{base}/dispute", data={"reason": "amount_wrong", "csrf_token": csrf})
    assert disputed.status_code == 200 and ZH["portal.done.dispute"] in disputed.text
    again = client.post(f"{base}/dispute", data={"reason": "other", "csrf_token": csrf})
    assert again.status_code == 409


def test_plans_page_confirm_step_and_choice(signed, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    page = client.get(f"/portal/loans/{me.loan_id}/plans")
    assert page.status_code == 200
    keys = re.findall(r"/plans/review\?option=([a-z0-9-]+)", page.text)
    if not keys:
        assert 'id="no-plans"' in page.text
        return
    before = snapshot(db)
    # a choice posted without the confirm step only leads to it
    skipped = client.post(
        f"/portal/loans/{me.loan_id}/plans", data={"option": keys[0], "csrf_token": csrf}
    )
    assert skipped.status_code == 200 and 'id="confirm-plan-form"' in skipped.text
    review = client.get(f"/portal/loans/{me.loan_id}/plans/review?option={keys[0]}")
    assert review.status_code == 200 and snapshot(db) == before
    rows = re.findall(r"<tr><td>\d+</td><td>(\d{4}-\d\d-\d\d)</td>", review.text)
    assert rows and 'id="total-cost"' in review.text and 'id="schedule-total"' in review.text
    chosen = client.post(
        f"/portal/loans/{me.loan_id}/plans",
        data={"option": keys[0], "confirm": "1", "csrf_token": csrf},
    )
    assert chosen.status_code == 200 and ZH["portal.done.plan"] in chosen.text
    # afterwards: the schedule on the loan page, the plan on "my requests"
    assert 'id="current-plan"' in chosen.text and 'id="schedule"' in chosen.text
    assert all(day in chosen.text for day in rows)
    mine = client.get("/portal/requests")
    assert mine.status_code == 200 and 'data-kind="plan"' in mine.text
    assert "已接受" in mine.text or "执行中" in mine.text


def test_complain_preferences_contacts(signed, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    assert client.get("/portal/complain").status_code == 200
    filed = client.post(
        "/portal/complain",
        data={
            "loan_id": str(me.loan_id),
            "category": "attitude",
            "description": "态度不好",
            "csrf_token": csrf,
        },
    )
    assert filed.status_code == 200 and ZH["portal.done.complaint"] in filed.text
    source = db.conn.execute(select(Complaint.source).order_by(Complaint.id.desc())).first()
    assert source is not None and source[0] == "portal"
    bad = client.post(
        "/portal/complain",
        data={"category": "nonsense", "description": "x", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    stopped = client.post("/portal/preferences", data={"channel": "sms", "csrf_token": csrf})
    assert stopped.status_code == 200 and 'id="stopped"' in stopped.text
    history = client.get("/portal/contacts")
    assert history.status_code == 200 and "agent" not in history.text


def test_rights_and_articles_are_open_to_anyone(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    rights = client.get("/portal/rights")
    assert rights.status_code == 200
    assert "12378" in rights.text and "08:00-21:00" in rights.text
    assert client.get("/portal/learn").status_code == 200
    before = db.conn.execute(select(func.count()).select_from(ArticleView)).scalar_one()
    english = client.get("/portal/learn/credit-records?lang=en")
    assert english.status_code == 200 and "credit report" in english.text
    assert db.conn.execute(select(func.count()).select_from(ArticleView)).scalar_one() == before + 1
    assert client.get("/portal/learn/nope").status_code == 404


def test_a_staff_session_opens_no_borrower_page(client: TestClient, sign_in) -> None:  # type: ignore[no-untyped-def]
    sign_in("agent1")
    answer = client.get("/portal/home", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/sign-in"


def test_sign_out_ends_the_session(signed, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    out = client.post("/portal/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/portal/home", follow_redirects=False).status_code == 303


def test_every_key_the_portal_templates_use_is_in_both_catalogues() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*'([a-z_.-]*[a-z_])'[,)]""", text))
        prefixes |= set(re.findall(r"""\bt\(\s*'([a-z_.]+\.)'\s*~""", text))
    assert used and used <= set(ZH) and used <= set(EN)
    for prefix in prefixes:  # dynamic keys: every value the code can produce
        assert any(k.startswith(prefix) for k in ZH), prefix
    for key in (
        "portal.done.pay",
        "portal.done.promise",
        "portal.done.dispute",
        "portal.done.plan",
        "portal.done.complaint",
        "portal.done.opt_out",
    ):
        assert key in ZH and key in EN
    for method in svc.PAYMENT_METHODS:
        assert f"portal.method.{method}" in ZH
    for reason in svc.DISPUTE_REASONS:
        assert f"portal.reason.{reason}" in ZH
    from forbear.services import education

    for slug in education.slugs():
        assert f"portal.article.{slug}" in ZH


def test_only_a_development_server_logs_the_code_and_never_the_number(  # type: ignore[no-untyped-def]
    db, clock, me: PortalBorrower, tmp_path, caplog
) -> None:
    from forbear.settings import Environment, Settings
    from forbear.web import create_app
    from web.conftest import RolledBackDatabase

    development = RolledBackDatabase(
        db.conn, Settings(environment=Environment.DEVELOPMENT, data_dir=tmp_path)
    )
    app = create_app(development, clock=clock)
    with TestClient(app, base_url="http://testserver") as dev, caplog.at_level(logging.INFO):
        assert dev.post("/api/v1/portal/code", json={"mobile": me.mobile}).status_code == 202
    message_id = db.conn.execute(select(func.max(PortalOutbox.id))).scalar_one()
    code = svc.outbox_code(db.conn, db.vault, message_id)
    lines = [r.getMessage() for r in caplog.records if r.name == "forbear.web.portal"]
    assert len(lines) == 1 and code in lines[0]
    assert me.mobile not in caplog.text


@pytest.mark.parametrize("loan", ["abc", "0", "99999999999", "-1", "１２"])
def test_a_malformed_loan_id_is_the_portals_own_404(signed, loan: str) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    page = client.get(f"/portal/loans/{loan}")
    assert page.status_code == 404 and 'id="portal-error-message"' in page.text
    posted = client.post(
        f"/portal/loans/{loan}/dispute", data={"reason": "other", "csrf_token": csrf}
    )
    assert posted.status_code == 404
