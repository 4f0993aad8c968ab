"""The collection pages: promises, plans and scripts on the account page (forms with
CSRF, bad input writing nothing), and the legal console for the legal role only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.web.conftest import AS_OF

from forbear.domain.compliance.content import check_text
from forbear.domain.scripts import Situation, default_scripts, suggest
from forbear.store.audit import AuditEvent
from forbear.store.plans import Plan
from forbear.store.promises import Promise


def counts(db):  # type: ignore[no-untyped-def]
    return tuple(
        db.conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Promise, Plan)
    )


# ------------------------------------------------------------------------ scripts


@pytest.mark.parametrize("line", default_scripts(), ids=lambda line: line.id)
def test_every_script_line_passes_the_content_filter(line) -> None:
    assert check_text(line.text("zh", "某某消费金融"), lang="zh") == []
    assert check_text(line.text("en", "the lender"), lang="en") == []


def test_script_lines_follow_the_situation() -> None:
    early = [x.id for x in suggest(Situation(bucket="M1"))]
    assert "remind.early" in early and "negotiate.partial" not in early
    late = [x.id for x in suggest(Situation(bucket="M3", broken_promises_90d=2))]
    assert {"negotiate.partial", "promise.broken", "promise.realistic"} <= set(late)
    hard = [x.id for x in suggest(Situation(bucket="M2", hardship=True, open_plan=True))]
    assert "hardship.listen" in hard and "plan.active" in hard and "plan.offer" not in hard
    assert early[0] == "open.identify" and early[-1] == "close.summary"


# ------------------------------------------------------------------------ account page


def test_the_account_page_shows_the_collection_forms_and_scripts(client, sign_in, book) -> None:
    page = sign_in("agent1").get(f"/accounts/{book.queue_loan}")
    assert page.status_code == 200
    for marker in ('id="promise-form"', 'id="plan-form"', 'id="plan-limits"', 'id="scripts"'):
        assert marker in page.text, marker
    assert "话术建议" in page.text and "您好" in page.text and "催收员" in page.text
    assert 'id="education"' in page.text


@pytest.mark.parametrize(("username", "form"), [("legal1", False), ("compliance1", False)])
def test_roles_without_contact_see_no_collection_forms(
    client, sign_in, book, username, form
) -> None:
    page = sign_in(username).get(f"/accounts/{book.queue_loan}").text
    assert ('id="promise-form"' in page) is form and ('id="plan-form"' in page) is form


def test_outcome_promise_leads_to_the_promise_form_and_the_timeline(
    client, sign_in, book, db
) -> None:
    c = sign_in("agent1")
    token = c.headers["X-CSRF-Token"]
    answer = c.post(
        f"/accounts/{book.queue_loan}/contact", data={"channel": "call", "csrf_token": token}
    )
    attempt = re.search(r"/attempts/(\d+)/outcome", answer.text)
    assert attempt is not None
    moved = c.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt.group(1)}/outcome",
        data={"outcome": "promise", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"].endswith("#promise")
    page = c.get(moved.headers["location"])
    assert f'name="contact_attempt_id" value="{attempt.group(1)}"' in page.text
    day = (AS_OF + timedelta(days=4)).isoformat()
    saved = c.post(
        f"/accounts/{book.queue_loan}/promises",
        data={
            "amount_yuan": "300.50",
            "promised_on": day,
            "contact_attempt_id": attempt.group(1),
            "csrf_token": token,
        },
    )
    assert 'id="promise-saved"' in saved.text
    assert "¥300.50" in saved.text and day in saved.text
    linked = db.conn.execute(select(Promise.contact_attempt_id, Promise.amount)).all()
    assert (int(attempt.group(1)), 30_050) in [tuple(r) for r in linked]
    pid = db.conn.execute(select(func.max(Promise.id))).scalar_one()
    withdrawn = c.post(f"/promises/{pid}/cancel", data={"csrf_token": token})
    assert 'id="promise-cancelled"' in withdrawn.text and "已取消" in withdrawn.text


@pytest.mark.parametrize(
    "data",
    [
        {"amount_yuan": "", "promised_on": "2026-11-23"},
        {"amount_yuan": "abc", "promised_on": "2026-11-23"},
        {"amount_yuan": "1.234", "promised_on": "2026-11-23"},
        {"amount_yuan": "-5", "promised_on": "2026-11-23"},
        {"amount_yuan": "100", "promised_on": "someday"},
        {"amount_yuan": "100", "promised_on": "2026-11-01"},
        {"amount_yuan": "100", "promised_on": "2026-11-23", "contact_attempt_id": "x"},
    ],
)
def test_bad_promise_forms_show_a_clear_page_and_write_nothing(
    client, sign_in, book, db, data
) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(
        f"/accounts/{book.queue_loan}/promises",
        data={**data, "csrf_token": c.headers["X-CSRF-Token"]},
    )
    assert answer.status_code == 422 and "Traceback" not in answer.text
    assert 'id="promise-error"' in answer.text and "输入无效" in answer.text
    assert counts(db) == before


def test_a_form_without_the_csrf_token_is_refused(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    del c.headers["X-CSRF-Token"]
    before = counts(db)
    answer = c.post(
        f"/accounts/{book.queue_loan}/promises",
        data={"amount_yuan": "100", "promised_on": "2026-11-23"},
    )
    assert answer.status_code == 403 and counts(db) == before


def _quotable(c, book, token):  # type: ignore[no-untyped-def]
    for loan in [book.queue_loan, book.m2_plus_loan, book.other_loan, *book.loans[:200]]:
        page = c.post(
            f"/accounts/{loan}/plans/quote",
            data={"plan_type": "deferral", "months": "1", "csrf_token": token},
        )
        if page.status_code == 200:
            return loan, page
    raise AssertionError("no loan to quote on")


def test_quote_shows_the_schedule_then_save_accept(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    token = c.headers["X-CSRF-Token"]
    before = counts(db)
    loan, page = _quotable(c, book, token)
    assert 'id="quote-lines"' in page.text and 'id="plan-save-form"' in page.text
    assert counts(db)[2] == before[2]
    saved = c.post(
        f"/accounts/{loan}/plans",
        data={"plan_type": "deferral", "months": "1", "csrf_token": token},
    )
    assert 'id="plan-saved"' in saved.text
    plan_id = db.conn.execute(select(func.max(Plan.id))).scalar_one()
    accepted = c.post(f"/plans/{plan_id}/accept", data={"csrf_token": token})
    assert 'id="plan-accepted"' in accepted.text
    assert "还款计划表" in accepted.text  # the saved plan's schedule on the timeline
    assert db.conn.execute(select(Plan.status).where(Plan.id == plan_id)).scalar_one() == "accepted"
    # the agent cannot cancel an accepted plan; the supervisor can
    before_cancel = counts(db)
    assert c.post(f"/plans/{plan_id}/cancel", data={"csrf_token": token}).status_code == 403
    assert counts(db) == before_cancel


def test_a_plan_beyond_authority_is_refused_with_the_limit(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    token = c.headers["X-CSRF-Token"]
    loan, _ = _quotable(c, book, token)
    before = counts(db)
    refused = c.post(
        f"/accounts/{loan}/plans",
        data={"plan_type": "deferral", "months": "24", "csrf_token": token},
    )
    assert refused.status_code == 422 and 'id="plan-error"' in refused.text
    assert "上限为" in refused.text and 'value="24"' in refused.text  # the form keeps its values
    assert counts(db) == before


# ------------------------------------------------------------------------ legal console


@pytest.mark.parametrize("username", ["agent1", "super1", "compliance1", "agency1"])
def test_the_legal_console_is_refused_to_other_roles(client, sign_in, username) -> None:
    c = sign_in(username)
    assert c.get("/legal").status_code == 403
    assert 'id="nav-legal"' not in c.get("/accounts").text


def test_the_legal_console_pages(client, sign_in, db) -> None:
    c = sign_in("legal1")
    console = c.get("/legal")
    assert console.status_code == 200 and 'id="nav-legal"' in console.text
    assert "法务审核队列" in console.text and "诉讼时效" in console.text
    cases = c.get("/legal/cases")
    assert cases.status_code == 200
    found = re.search(r'data-case="(\d+)"', cases.text)
    queued = re.search(r'name="loan_id" value="(\d+)"', console.text)
    token = c.headers["X-CSRF-Token"]
    if queued is not None:
        opened = c.post("/legal/cases", data={"loan_id": queued.group(1), "csrf_token": token})
        assert opened.status_code == 200 and 'id="case-done"' in opened.text
        assert 'id="advance-form"' in opened.text and 'id="documents"' in opened.text
        assert 'id="case-history"' in opened.text and "web:legal1" in opened.text
        case_id = re.search(r"/legal/cases/(\d+)/advance", opened.text)
        assert case_id is not None
        before = counts(db)
        back = c.post(
            f"/legal/cases/{case_id.group(1)}/advance",
            data={"to": "review", "csrf_token": token},
        )
        assert back.status_code == 409 and counts(db) == before
    elif found is not None:
        assert c.get(f"/legal/cases/{found.group(1)}").status_code == 200
    assert c.get("/legal/cases?stage=review").status_code == 200
    assert c.get("/legal/cases/999999").status_code == 404


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_catalogue_key_shows_raw_on_the_collection_pages(client, sign_in, book, lang) -> None:
    pages = [sign_in("agent1").get(f"/accounts/{book.queue_loan}?lang={lang}").text]
    legal = sign_in("legal1")
    pages += [legal.get(f"/legal?lang={lang}").text, legal.get(f"/legal/cases?lang={lang}").text]
    for text in pages:
        assert re.search(r">\s*collection\.[a-z_.]+", text) is None
        assert "collection.status." not in text and "collection.stage." not in text
    if lang == "en":
        assert "Suggested script lines" in pages[0] and "Legal console" in pages[1]
