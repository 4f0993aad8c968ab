"""The JSON API, route by route: answers, permission denials per role, masking per role,
scope, bad input (with nothing written), unknown ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.runs import OutboxMessage

ROLES = ["agent1", "super1", "compliance1", "legal1", "agency1", "admin1"]


def counts(db):  # type: ignore[no-untyped-def]
    conn = db.conn
    return (
        conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        conn.execute(select(func.count()).select_from(ContactAttempt)).scalar_one(),
        conn.execute(select(func.count()).select_from(Hold)).scalar_one(),
    )


def test_without_a_credential_every_api_route_is_a_401_in_chinese(client, book) -> None:
    for method, path in [
        ("get", "/api/v1/me"),
        ("get", "/api/v1/accounts"),
        ("get", f"/api/v1/accounts/{book.queue_loan}"),
        ("get", "/api/v1/queue"),
        ("get", "/api/v1/runs"),
        ("get", "/api/v1/strategies"),
        ("get", "/api/v1/models"),
        ("post", f"/api/v1/accounts/{book.queue_loan}/contacts"),
    ]:
        answer = getattr(client, method)(path)
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthenticated"
        assert answer.json()["error"]["message"] == "请先登录。"


def test_me_tells_role_permissions_scope_and_the_csrf_token(client, sign_in) -> None:
    me = sign_in("agent1").get("/api/v1/me").json()
    assert me["role"] == "agent" and me["role_label"] == "催收员"
    assert "contact.make" in me["permissions"] and "audit.view" not in me["permissions"]
    assert me["unmask"] == {"contact": ["mobile"]}
    assert me["agent_ref"] == "zh-001" and me["via"] == "session" and me["csrf_token"]


@pytest.mark.parametrize(
    ("username", "status"),
    [("agent1", 200), ("super1", 200), ("compliance1", 200), ("legal1", 200), ("admin1", 403)],
)
def test_account_list_needs_account_view(client, sign_in, username, status) -> None:
    answer = sign_in(username).get("/api/v1/accounts", params={"page_size": 5})
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["error"]["code"] == "forbidden"
        assert "系统管理员" in answer.json()["error"]["message"]
    else:
        body = answer.json()
        assert body["total"] >= 1000 and len(body["items"]) == 5
        first = body["items"][0]
        assert first["principal"]["fen"] > 0 and first["principal"]["yuan"].startswith("¥")


def test_account_list_filters_and_pages(client, sign_in) -> None:
    c = sign_in("super1")
    m2 = c.get("/api/v1/accounts", params={"bucket": "M2", "page_size": 200}).json()
    assert m2["items"] and {i["bucket"] for i in m2["items"]} == {"M2"}
    late = c.get("/api/v1/accounts", params={"min_dpd": 61}).json()
    assert all(i["dpd"] >= 61 for i in late["items"])
    page2 = c.get("/api/v1/accounts", params={"page": 2, "page_size": 10}).json()
    page1 = c.get("/api/v1/accounts", params={"page": 1, "page_size": 10}).json()
    assert {i["loan_id"] for i in page1["items"]}.isdisjoint(i["loan_id"] for i in page2["items"])
    ref = page1["items"][0]["loan_ref"]
    one = c.get("/api/v1/accounts", params={"loan_ref": ref}).json()
    assert one["total"] == 1 and one["items"][0]["loan_ref"] == ref


def test_account_detail_has_state_bucket_scores_with_reasons_and_masked_borrower(
    client, sign_in, book
) -> None:
    body = sign_in("agent1").get(f"/api/v1/accounts/{book.queue_loan}").json()
    assert body["state"]["bucket"] != "C" and body["state"]["dpd"] > 0
    assert body["state"]["overdue_total"]["fen"] > 0
    behaviour = next(s for s in body["scores"] if s["kind"] == "behaviour")
    assert behaviour["tier"] and behaviour["reasons"]
    assert behaviour["reasons"][0]["label"] == behaviour["reasons"][0]["label_zh"]
    borrower = body["borrower"]
    assert "*" in borrower["name"] and "*" in borrower["mobile"]
    assert len(borrower["mobile"]) == 11 and borrower["mobile"][3:7] == "****"
    assert borrower["national_id"][:3].isdigit() and borrower["national_id"][3:14] == "*" * 11


def test_english_labels_with_accept_language(client, sign_in, book) -> None:
    c = sign_in("agent1")
    body = c.get(f"/api/v1/accounts/{book.queue_loan}", headers={"Accept-Language": "en"}).json()
    reason = next(s for s in body["scores"] if s["kind"] == "behaviour")["reasons"][0]
    assert reason["label"] == reason["label_en"]
    missing = c.get("/api/v1/accounts/999999", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert missing.json()["error"]["message"] == "Loan not found: 999999"


@pytest.mark.parametrize("username", ROLES[:-1])
def test_masking_follows_the_role(client, sign_in, book, username) -> None:
    loan = book.placed_loan if username == "agency1" else book.queue_loan
    borrower = sign_in(username).get(f"/api/v1/accounts/{loan}").json()["borrower"]
    assert borrower["name"].count("*") >= 1
    if username == "agency1":
        assert borrower["national_id"] == "******"  # agency agents see no ID digits
        assert borrower["address"] is None or borrower["address"][3:].strip("*") == ""
    else:
        assert borrower["national_id"][:3].isdigit() and borrower["national_id"][-4:-1].isdigit()
    for point in borrower["contact_points"]:
        assert "*" in point["value"]


def test_unknown_and_out_of_range_ids_are_404_and_422(client, sign_in) -> None:
    c = sign_in("agent1")
    assert c.get("/api/v1/accounts/999999").status_code == 404
    assert c.get("/api/v1/accounts/999999").json()["error"]["message"] == "未找到借据：999999"
    assert c.get("/api/v1/accounts/0").status_code == 422
    assert c.get(f"/api/v1/accounts/{2**40}").status_code == 422
    assert c.get("/api/v1/accounts/abc").json()["error"]["code"] == "invalid_request"
    assert c.get("/api/v1/accounts/999999/timeline").status_code == 404
    assert c.get("/api/v1/accounts/999999/decisions").status_code == 404
    assert c.get("/api/v1/runs/999999").status_code == 403  # agents do not see runs
    assert c.get("/api/v1/no-such-route").status_code == 404


def test_agency_agent_sees_only_its_placements_and_others_are_not_found(
    client, sign_in, book
) -> None:
    c = sign_in("agency1")
    listed = c.get("/api/v1/accounts", params={"page_size": 200}).json()
    assert [i["loan_id"] for i in listed["items"]] == [book.placed_loan]
    assert c.get(f"/api/v1/accounts/{book.placed_loan}").status_code == 200
    hidden = c.get(f"/api/v1/accounts/{book.other_loan}")
    unknown = c.get("/api/v1/accounts/999999")
    assert hidden.status_code == unknown.status_code == 404  # existence is not revealed
    assert c.get(f"/api/v1/accounts/{book.other_loan}/timeline").status_code == 404
    body = {"channel": "sms"}
    assert c.post(f"/api/v1/accounts/{book.other_loan}/contacts", json=body).status_code == 404


def test_another_agency_does_not_see_the_placement(client, sign_in, book) -> None:
    c = sign_in("agency2")
    assert c.get(f"/api/v1/accounts/{book.placed_loan}").status_code == 404
    assert c.get("/api/v1/accounts").json()["total"] == 0


def test_bucket_scope_limits_what_an_agent_sees(client, sign_in, book) -> None:
    c = sign_in("agent.m1")
    listed = c.get("/api/v1/accounts", params={"page_size": 200}).json()
    assert listed["total"] >= 1 and {i["bucket"] for i in listed["items"]} == {"M1"}
    assert c.get(f"/api/v1/accounts/{book.m2_plus_loan}").status_code == 404


def test_timeline_lists_payments_and_contacts(client, sign_in, book) -> None:
    c = sign_in("agent1")
    c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"})
    items = c.get(f"/api/v1/accounts/{book.queue_loan}/timeline").json()["items"]
    kinds = {i["kind"] for i in items}
    assert kinds == {"payment", "contact"} or kinds == {"contact"}
    contact = next(i for i in items if i["kind"] == "contact")
    assert contact["channel"] == "call" and contact["allowed"] is True


def test_timeline_shows_a_message_with_its_status_and_reasons(client, sign_in, book, db) -> None:
    from forbear.store.models import Loan

    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    db.conn.execute(
        insert(OutboxMessage).values(
            as_of=at.date(),
            loan_id=book.queue_loan,
            borrower_id=borrower,
            action_index=7,
            channel="sms",
            template="CN.M1.REMIND.SMS",
            dedupe_key="timeline-api-" + "0" * 51,
            status="cancelled",
            reason_rules='["OUTBOX.PAID"]',
            created_at=at,
            due_at=at,
            next_attempt_at=at,
        )
    )
    items = sign_in("agent1").get(f"/api/v1/accounts/{book.queue_loan}/timeline").json()["items"]
    message = next(i for i in items if i["kind"] == "message")
    assert message["channel"] == "sms" and message["status"] == "cancelled"
    assert message["reasons"] == ["OUTBOX.PAID"] and message["origin"] == "run"
    assert isinstance(message["message_id"], int)


def test_decisions_of_the_run_for_a_loan(client, sign_in, book) -> None:
    c = sign_in("agent1")
    body = c.get(f"/api/v1/accounts/{book.queue_loan}/decisions").json()
    assert body["as_of"] == "2026-11-20" and body["items"]
    assert any(d["channel"] == "call" for d in body["items"])
    empty = c.get(f"/api/v1/accounts/{book.queue_loan}/decisions", params={"as_of": "2026-01-01"})
    assert empty.json()["items"] == []
    bad = c.get(f"/api/v1/accounts/{book.queue_loan}/decisions", params={"as_of": "2026-13-01"})
    assert bad.status_code == 422


def test_the_queue_per_role(client, sign_in, book) -> None:
    agent = sign_in("agent1").get("/api/v1/queue").json()
    assert agent["as_of"] == "2026-11-20" and agent["items"]
    assert {i["agent_id"] for i in agent["items"]} == {"zh-001"}
    assert agent["items"][0]["loan_id"] == book.queue_loan
    assert "*" in agent["items"][0]["borrower_name"]


def test_an_agent_without_an_agent_id_has_an_empty_queue(client, sign_in) -> None:
    assert sign_in("agent.noref").get("/api/v1/queue").json()["items"] == []


def test_a_supervisor_sees_the_team_queue(client, sign_in) -> None:
    items = sign_in("super1").get("/api/v1/queue").json()["items"]
    assert items and {i["team_id"] for i in items} == {"phone-zh"}


@pytest.mark.parametrize(
    ("username", "status"),
    [("agent1", 403), ("agency1", 403), ("legal1", 403), ("super1", 200), ("admin1", 200)],
)
def test_runs_strategies_and_models_are_management_views(client, sign_in, username, status):
    c = sign_in(username)
    for path in ("/api/v1/runs", "/api/v1/strategies", "/api/v1/models"):
        assert c.get(path).status_code == status, path


def test_runs_strategies_and_models_content(client, sign_in) -> None:
    c = sign_in("compliance1")
    runs = c.get("/api/v1/runs").json()
    assert runs["total"] == 1 and runs["items"][0]["status"] == "completed"
    run = c.get(f"/api/v1/runs/{runs['items'][0]['id']}").json()
    assert run["summary"]["accounts"] >= 1000
    strategies = c.get("/api/v1/strategies").json()
    assert strategies["in_force"] == "CN_default" and strategies["in_force_version_id"] is None
    models = c.get("/api/v1/models").json()["items"]
    assert [m["kind"] for m in models] == ["behaviour"] and models[0]["status"] == "active"


# ---------------------------------------------------------------- contacts


def test_an_allowed_contact_is_recorded_and_audited(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["allowed"] is True and body["blocked_by"] == [] and body["attempt_id"] > 0
    after = counts(db)
    assert after[1] == before[1] + 1 and after[0] > before[0]
    actor = db.conn.execute(
        select(ContactAttempt.actor).where(ContactAttempt.id == body["attempt_id"])
    ).scalar_one()
    assert actor == "web:agent1"


def test_a_contact_at_night_is_blocked_with_rules_and_the_earliest_time(
    client, sign_in, book, clock
) -> None:
    clock.now = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    c = sign_in("agent1")
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "sms"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["allowed"] is False and "CN.HOURS.QUIET" in body["blocked_by"]
    assert body["earliest_allowed_local"] == "2026-11-21 08:00"
    assert any("CN.HOURS.QUIET" in line for line in body["explanation"])
    assert "被" in body["explanation"][0]  # Chinese by default
    english = c.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts?lang=en", json={"channel": "sms"}
    ).json()
    assert english["explanation"][0].startswith("Blocked by")


def test_outcomes_map_to_the_contact_domain_and_set_holds(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    made = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"}).json()
    answer = c.post(f"/api/v1/contacts/{made['attempt_id']}/outcome", json={"outcome": "dispute"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["stored_outcome"] == "connected" and body["hold_id"] is not None
    kind = db.conn.execute(select(Hold.kind).where(Hold.id == body["hold_id"])).scalar_one()
    assert kind == "dispute"
    again = c.post(f"/api/v1/contacts/{made['attempt_id']}/outcome", json={"outcome": "busy"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    # the hold now blocks further contact
    blocked = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"})
    assert blocked.json()["allowed"] is False


def test_an_outcome_for_a_blocked_attempt_is_a_conflict(client, sign_in, book, clock) -> None:
    clock.now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    c = sign_in("agent1")
    made = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"}).json()
    answer = c.post(f"/api/v1/contacts/{made['attempt_id']}/outcome", json={"outcome": "busy"})
    assert answer.status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"channel": "pigeon"}, 422, "invalid_request"),
        ({"channel": 5}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"channel": "call", "contact_point_id": -3}, 422, "invalid_request"),
        ({"channel": "call", "contact_point_id": 2**40}, 422, "invalid_request"),
        ({"channel": "call", "extra": 1}, 422, "invalid_request"),
        ({"channel": "call", "contact_point_id": 999999}, 404, "not_found"),
    ],
)
def test_bad_contact_requests_write_nothing(client, sign_in, book, db, body, status, code):
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert counts(db) == before


def test_malformed_json_is_a_400_and_writes_nothing(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    before = counts(db)
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts",
        content=b'{"channel": "call",',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "malformed_json",
        "message": "请求体不是有效的 JSON。",
        "field": None,
        "details": [],
    }
    assert counts(db) == before


def test_an_unknown_outcome_or_attempt(client, sign_in) -> None:
    c = sign_in("agent1")
    assert c.post("/api/v1/contacts/999999/outcome", json={"outcome": "busy"}).status_code == 404
    wrong = c.post("/api/v1/contacts/1/outcome", json={"outcome": "maybe"})
    assert wrong.status_code == 422 and "outcome" in wrong.json()["error"]["message"]


@pytest.mark.parametrize("username", ["compliance1", "legal1", "admin1"])
def test_roles_without_contact_make_may_not_contact(client, sign_in, book, db, username):
    c = sign_in(username)
    before = counts(db)
    answer = c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": "call"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert counts(db) == before


def test_an_agency_agent_contacts_on_behalf_of_its_agency(client, sign_in, book, db) -> None:
    c = sign_in("agency1")
    body = c.post(f"/api/v1/accounts/{book.placed_loan}/contacts", json={"channel": "call"}).json()
    agency = db.conn.execute(
        select(ContactAttempt.agency_id).where(ContactAttempt.id == body["attempt_id"])
    ).scalar_one()
    assert agency == 7


# ---------------------------------------------------------------- unmasking


def test_unmasking_for_an_allowed_purpose_is_audited(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/unmask", json={"field": "mobile", "purpose": "contact"}
    )
    assert answer.status_code == 200
    value = answer.json()["value"]
    assert value.isdigit() and len(value) == 11
    event = db.conn.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.payload)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one()
    assert event.action == "pii.unmask" and event.actor == "web:agent1"
    assert value not in event.payload and '"purpose":"contact"' in event.payload


@pytest.mark.parametrize(
    ("username", "field", "purpose"),
    [
        ("agent1", "national_id", "contact"),
        ("agent1", "mobile", "litigation"),
        ("legal1", "mobile", "litigation"),
        ("compliance1", "address", "complaint"),
    ],
)
def test_unmasking_beyond_the_purpose_is_refused(
    client, sign_in, book, db, username, field, purpose
):
    c = sign_in(username)
    before = counts(db)
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/unmask", json={"field": field, "purpose": purpose}
    )
    assert answer.status_code == 403
    assert "用途" in answer.json()["error"]["message"]
    assert counts(db) == before


def test_admin_may_not_unmask_at_all(client, sign_in, book) -> None:
    c = sign_in("admin1")
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/unmask", json={"field": "name", "purpose": "contact"}
    )
    assert answer.status_code == 403


def test_unmasking_out_of_scope_is_not_found(client, sign_in, book) -> None:
    c = sign_in("agency1")
    answer = c.post(
        f"/api/v1/accounts/{book.other_loan}/unmask", json={"field": "mobile", "purpose": "contact"}
    )
    assert answer.status_code == 404


def test_no_personal_data_in_error_answers_or_the_log(client, sign_in, book, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="forbear.web")
    c = sign_in("agent1")
    phone = c.post(
        f"/api/v1/accounts/{book.queue_loan}/unmask", json={"field": "mobile", "purpose": "contact"}
    ).json()["value"]
    c.get("/api/v1/accounts", params={"loan_ref": phone})  # a phone typed into the search
    c.post(f"/api/v1/accounts/{book.queue_loan}/contacts", json={"channel": phone})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"POST /api/v1/accounts/{book.queue_loan}/unmask 200" in logged
    assert phone not in logged
    c.get(f"/api/v1/accounts/{phone}")  # and one typed into the path
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert phone not in logged and "GET /api/v1/accounts/* 422" in logged


def test_a_contact_point_that_does_not_suit_the_channel(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    points = c.get(f"/api/v1/accounts/{book.queue_loan}").json()["borrower"]["contact_points"]
    phone = next(p for p in points if p["kind"] == "phone")
    before = counts(db)
    answer = c.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts",
        json={"channel": "letter", "contact_point_id": phone["id"]},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_error"
    assert answer.json()["error"]["field"] == "contact_point_id"
    assert counts(db) == before


def test_an_internal_error_is_a_500_with_a_reference_and_no_details(app, client, caplog):
    import logging

    def broken() -> None:
        raise RuntimeError("13812345678 张三")  # a bug whose message quotes data

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/broken", broken)
    caplog.set_level(logging.ERROR, logger="forbear.web")
    for path in ("/api/v1/broken", "/broken"):
        answer = client.get(path)
        assert answer.status_code == 500
        assert "13812345678" not in answer.text and "Traceback" not in answer.text
        assert "系统内部错误" in answer.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError at test_api.py" in logged and "13812345678" not in logged
