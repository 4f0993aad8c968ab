"""The collection API: promises, plans, scripts and the legal console, route by route:
answers, permission denials per role, scope, bad input writing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.web.conftest import AS_OF

from forbear.store.audit import AuditEvent
from forbear.store.legal import LegalCase
from forbear.store.plans import Plan
from forbear.store.promises import Promise


def counts(db):  # type: ignore[no-untyped-def]
    conn = db.conn
    return tuple(
        conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Promise, Plan, LegalCase)
    )


def promise_body(days: int = 3, fen: int = 50_000) -> dict[str, object]:
    return {"amount_fen": fen, "promised_on": (AS_OF + timedelta(days=days)).isoformat()}


# ------------------------------------------------------------------------ promises


def test_an_agent_takes_a_promise_and_it_is_listed_and_audited(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["amount"] == {"fen": 50_000, "yuan": "¥500.00"}
    assert body["status"] == "open" and body["source"] == "agent"
    assert body["taken_by"] == "web:agent1"
    listed = c.get(f"/api/v1/accounts/{book.queue_loan}/promises").json()
    assert listed["items"][0]["promise_id"] == body["promise_id"]
    after = counts(db)
    assert after[1] == before[1] + 1 and after[0] > before[0]
    action = db.conn.execute(
        select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one()
    assert action == "promise.add"
    # a second open promise is a conflict unless it replaces the first
    again = c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body(5))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    replaced = c.post(
        f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body(5) | {"replace": True}
    )
    assert replaced.status_code == 201 and replaced.json()["replaces_id"] == body["promise_id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"amount_fen": 0, "promised_on": "2026-11-22"}, 422),
        ({"amount_fen": -5, "promised_on": "2026-11-22"}, 422),
        ({"amount_fen": "lots", "promised_on": "2026-11-22"}, 422),
        ({"amount_fen": 10**13, "promised_on": "2026-11-22"}, 422),
        ({"amount_fen": 5000, "promised_on": "2026-11-19"}, 422),  # in the past
        ({"amount_fen": 5000, "promised_on": "2027-11-19"}, 422),  # beyond the horizon
        ({"amount_fen": 5000, "promised_on": "tomorrow"}, 422),
        ({"amount_fen": 5000, "promised_on": "2026-11-22", "extra": 1}, 422),
        ({"amount_fen": 10**11, "promised_on": "2026-11-22"}, 422),  # more than owed
    ],
)
def test_bad_promises_are_refused_in_chinese_and_write_nothing(
    client, sign_in, book, db, body, status
) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and "Traceback" not in answer.text
    assert counts(db) == before


def test_malformed_json_is_a_400_writing_nothing(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/promises",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert counts(db) == before


@pytest.mark.parametrize(
    ("username", "status"),
    [("compliance1", 403), ("legal1", 403), ("admin1", 403), ("agency1", 404), ("super1", 201)],
)
def test_who_may_take_a_promise(client, sign_in, book, db, username, status) -> None:
    before = counts(db)
    answer = sign_in(username).post(
        f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body()
    )
    assert answer.status_code == status, answer.text
    if status != 201:
        assert counts(db) == before


def test_unknown_and_out_of_scope_loans_are_404(client, sign_in, book) -> None:
    c = sign_in("agency1")
    assert c.get(f"/api/v1/accounts/{book.other_loan}/promises").status_code == 404
    assert c.get(f"/api/v1/accounts/{book.placed_loan}/promises").status_code == 200
    assert sign_in("agent1").get("/api/v1/accounts/2000000000/promises").status_code == 404


def test_without_a_csrf_token_a_session_cannot_take_a_promise(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    del c.headers["X-CSRF-Token"]
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body())
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf_failed"
    assert counts(db) == before


# ------------------------------------------------------------------------ plans


def _overdue_loan(c, book) -> int:  # type: ignore[no-untyped-def]
    """A loan on which the agent can quote a 1-month deferral."""
    for loan in [book.queue_loan, book.m2_plus_loan, book.other_loan, *book.loans[:200]]:
        q = c.post(
            f"/api/v1/accounts/{loan}/plans/quote", json={"plan_type": "deferral", "months": 1}
        )
        if q.status_code == 200:
            return int(loan)
    raise AssertionError("no loan to quote a plan on")


def test_quote_saves_nothing_and_offer_saves_within_authority(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    loan = _overdue_loan(c, book)
    before = counts(db)
    quote = c.post(
        f"/api/v1/accounts/{loan}/plans/quote", json={"plan_type": "deferral", "months": 1}
    )
    q = quote.json()
    assert q["plan_id"] is None and q["lines"] and q["limits"]["role"] == "agent"
    assert q["scheduled"]["fen"] == sum(line["total"]["fen"] for line in q["lines"])
    assert counts(db) == before
    saved = c.post(f"/api/v1/accounts/{loan}/plans", json={"plan_type": "deferral", "months": 1})
    assert saved.status_code == 201, saved.text
    plan_id = saved.json()["plan_id"]
    assert counts(db)[2] == before[2] + 1
    detail = c.get(f"/api/v1/plans/{plan_id}").json()
    assert detail["status"] == "offered" and len(detail["lines"]) == len(q["lines"])
    listed = c.get(f"/api/v1/accounts/{loan}/plans").json()
    assert listed["items"][0]["plan_id"] == plan_id
    accepted = c.post(f"/api/v1/plans/{plan_id}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # an accepted plan is cancelled only with plan.approve
    refused = c.post(f"/api/v1/plans/{plan_id}/cancel", json={"reason": "test"})
    assert refused.status_code == 403
    done = sign_in("super1").post(f"/api/v1/plans/{plan_id}/cancel", json={"reason": "借款人撤回"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_an_offer_beyond_the_agents_authority_names_the_limit(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    loan = _overdue_loan(c, book)
    limit = c.post(
        f"/api/v1/accounts/{loan}/plans/quote", json={"plan_type": "deferral", "months": 1}
    ).json()["limits"]["max_deferral_months"]
    before = counts(db)
    answer = c.post(
        f"/api/v1/accounts/{loan}/plans", json={"plan_type": "deferral", "months": limit + 1}
    )
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert f"上限为 {limit}" in message and "催收员" in message
    english = c.post(
        f"/api/v1/accounts/{loan}/plans?lang=en",
        json={"plan_type": "deferral", "months": limit + 1},
    ).json()["error"]["message"]
    assert f"the limit is {limit}" in english
    assert counts(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"plan_type": "holiday", "months": 1},
        {"plan_type": "deferral", "months": 0},
        {"plan_type": "deferral", "months": 99},
        {"plan_type": "settlement", "discount_pct": 100},
        {"plan_type": "deferral", "months": 1, "income_fen": -1},
    ],
)
def test_bad_plan_requests_write_nothing(client, sign_in, book, db, body) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/plans", json=body)
    assert answer.status_code == 422, answer.text
    assert counts(db) == before


@pytest.mark.parametrize("username", ["compliance1", "legal1", "agency1", "admin1"])
def test_roles_without_plan_offer_are_refused(client, sign_in, book, username) -> None:
    answer = sign_in(username).post(
        f"/api/v1/accounts/{book.queue_loan}/plans/quote",
        json={"plan_type": "deferral", "months": 1},
    )
    assert answer.status_code == 403


def test_unknown_plan_is_404(client, sign_in) -> None:
    assert sign_in("agent1").get("/api/v1/plans/999999").status_code == 404


# ------------------------------------------------------------------------ scripts


def test_scripts_follow_the_situation_and_the_language(client, sign_in, book) -> None:
    c = sign_in("agent1")
    zh = c.get(f"/api/v1/accounts/{book.queue_loan}/scripts").json()
    ids = [line["id"] for line in zh["lines"]]
    assert ids[0].startswith("open.") and ids[-1] == "close.summary"
    assert zh["bucket"] and "您好" in zh["lines"][0]["text"]
    en = c.get(f"/api/v1/accounts/{book.queue_loan}/scripts?lang=en").json()
    assert en["lines"][0]["text"].startswith("Hello")
    c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body())
    after = c.get(f"/api/v1/accounts/{book.queue_loan}/scripts").json()
    assert after["open_promise"] and "promise.follow_up" in [x["id"] for x in after["lines"]]
    assert sign_in("admin1").get(f"/api/v1/accounts/{book.queue_loan}/scripts").status_code == 403


# ------------------------------------------------------------------------ legal


@pytest.mark.parametrize("username", ["agent1", "super1", "compliance1", "agency1", "admin1"])
def test_the_legal_console_is_for_the_legal_role_only(client, sign_in, username) -> None:
    c = sign_in(username)
    for path in ("/api/v1/legal/queue", "/api/v1/legal/cases", "/api/v1/legal/limitation"):
        assert c.get(path).status_code == 403, path


def test_legal_queue_cases_and_limitation_watch(client, sign_in) -> None:
    c = sign_in("legal1")
    queue = c.get("/api/v1/legal/queue").json()
    assert queue["as_of"] == AS_OF.isoformat()
    cases = c.get("/api/v1/legal/cases").json()
    assert set(cases["counts"]) >= {"review", "demand_letter", "filed", "closed"}
    assert sum(cases["counts"].values()) == len(cases["items"])
    if cases["items"]:
        stage = cases["items"][0]["stage"]
        only = c.get("/api/v1/legal/cases", params={"stage": stage}).json()
        assert {x["stage"] for x in only["items"]} == {stage}
    assert c.get("/api/v1/legal/cases", params={"stage": "heaven"}).status_code == 422
    watch = c.get("/api/v1/legal/limitation", params={"within": 3650}).json()
    dates = [w["limitation_date"] for w in watch["items"] if w["limitation_date"]]
    assert dates == sorted(dates)
    assert c.get("/api/v1/legal/limitation", params={"within": -1}).status_code == 422


def _queued_without_case(c):  # type: ignore[no-untyped-def]
    items = c.get("/api/v1/legal/queue").json()["items"]
    return next((i for i in items if i["case_id"] is None), None)


def test_open_a_case_advance_it_and_never_backwards(client, sign_in, db) -> None:
    c = sign_in("legal1")
    entry = _queued_without_case(c)
    if entry is None:
        pytest.skip("the test book queues no account without a case")
    before = counts(db)
    opened = c.post("/api/v1/legal/cases", json={"loan_id": entry["loan_id"]})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["stage"] == "review" and case["stage_label"] == "法务审核"
    assert counts(db)[3] == before[3] + 1
    twice = c.post("/api/v1/legal/cases", json={"loan_id": entry["loan_id"]})
    assert twice.status_code == 409
    moved = c.post(
        f"/api/v1/legal/cases/{case['case_id']}/advance",
        json={"to": "demand_letter", "evidence_ref": "EMS1234567890"},
    )
    if moved.status_code == 409:  # a disputed or time-barred debt: refused with the reason
        assert moved.json()["error"]["message"]
        return
    assert moved.status_code == 200 and moved.json()["stage"] == "demand_letter"
    snapshot = counts(db)
    back = c.post(f"/api/v1/legal/cases/{case['case_id']}/advance", json={"to": "review"})
    assert back.status_code == 409 and "review" in back.json()["error"]["message"]
    assert counts(db) == snapshot
    assert (
        c.post(f"/api/v1/legal/cases/{case['case_id']}/advance", json={"to": "nowhere"}).status_code
        == 422
    )


def test_legal_documents_download_and_audit(client, sign_in, db) -> None:
    c = sign_in("legal1")
    cases = [
        x
        for x in c.get("/api/v1/legal/cases").json()["items"]
        if x["stage"] not in ("settled", "closed")
    ]
    if not cases:
        entry = _queued_without_case(c)
        if entry is None:
            pytest.skip("no open case in the test book")
        cases = [c.post("/api/v1/legal/cases", json={"loan_id": entry["loan_id"]}).json()]
    case_id = cases[0]["case_id"]
    listed = c.get(f"/api/v1/legal/cases/{case_id}/documents")
    if listed.status_code != 200:  # a claim the contract refuses: a clear refusal
        assert listed.status_code in (400, 409) and listed.json()["error"]["message"]
        return
    files = listed.json()["files"]
    assert f"case-{case_id}-demand-letter.pdf" in files
    pdf = c.get(f"/api/v1/legal/cases/{case_id}/documents/case-{case_id}-demand-letter.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    csv = c.get(f"/api/v1/legal/cases/{case_id}/documents/case-{case_id}-payments.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    actions = db.conn.execute(select(AuditEvent.action)).scalars().all()
    assert "legal.documents" in actions
    missing = c.get(f"/api/v1/legal/cases/{case_id}/documents/case-{case_id}-nothing.csv")
    assert missing.status_code == 404
    assert sign_in("agent1").get(f"/api/v1/legal/cases/{case_id}/documents").status_code == 403


def test_an_open_promise_is_withdrawn_once(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    taken = c.post(f"/api/v1/accounts/{book.queue_loan}/promises", json=promise_body()).json()
    pid = taken["promise_id"]
    assert sign_in("legal1").post(f"/api/v1/promises/{pid}/cancel").status_code == 403
    assert sign_in("agency1").post(f"/api/v1/promises/{pid}/cancel").status_code == 404
    c = sign_in("agent1")
    done = c.post(f"/api/v1/promises/{pid}/cancel", json={"reason": "借款人撤回"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    before = counts(db)
    again = c.post(f"/api/v1/promises/{pid}/cancel")
    assert again.status_code == 409 and counts(db) == before
    assert c.post("/api/v1/promises/999999/cancel").status_code == 404
