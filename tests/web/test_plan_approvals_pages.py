"""The approval route on the pages and the API: an agent's plan beyond authority offers
"submit for approval" with a reason; the supervisor's queue at /approvals approves,
adjusts or refuses it (a refusal needs a reason and keeps what was typed; a second
decision is a 409 naming the first); the plan form shows the chosen type's fields; the
terms read in words and yuan."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forbear.store.audit import AuditEvent
from forbear.store.plans import Plan, PlanApproval

# a settlement discount of 19%: beyond an agent (10-15%), within a supervisor (20-30%)
BEYOND = {"plan_type": "settlement", "discount_pct": "19"}


def counts(db):  # type: ignore[no-untyped-def]
    return tuple(
        db.conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Plan, PlanApproval)
    )


def _beyond(c, book, token):  # type: ignore[no-untyped-def]
    """A loan where the agent's settlement quote is refused as beyond authority."""
    for loan in [book.queue_loan, book.m2_plus_loan, book.other_loan, *book.loans[:200]]:
        page = c.post(f"/accounts/{loan}/plans/quote", data={**BEYOND, "csrf_token": token})
        if page.status_code == 422 and 'id="plan-submit-form"' in page.text:
            return loan, page
    raise AssertionError("no loan to submit a plan on")


def test_submit_then_approve_from_the_queue(client, sign_in, book, db) -> None:
    agent = sign_in("agent1")
    token = agent.headers["X-CSRF-Token"]
    before = counts(db)
    loan, refused = _beyond(agent, book, token)
    assert "请提交主管审批" in refused.text and "提交审批" in refused.text
    assert 'name="discount_pct" value="19"' in refused.text  # the submit form carries the plan
    assert counts(db) == before
    # no reason: refused beside the form, the values kept, nothing written
    empty = agent.post(
        f"/accounts/{loan}/plans/submit", data={**BEYOND, "reason": " ", "csrf_token": token}
    )
    assert empty.status_code == 422 and 'id="plan-submit-form"' in empty.text
    assert counts(db) == before
    sent = agent.post(
        f"/accounts/{loan}/plans/submit",
        data={**BEYOND, "reason": "借款人一次性筹到款项，申请19%折扣", "csrf_token": token},
    )
    assert sent.status_code == 200 and 'id="plan-submitted"' in sent.text
    assert "一次性结清：折扣 19%" in sent.text and "待主管审批" in sent.text
    approval_id = db.conn.execute(select(func.max(PlanApproval.id))).scalar_one()
    assert agent.get("/approvals").status_code == 403  # agents do not decide

    boss = sign_in("super1")
    queue = boss.get("/approvals")
    assert queue.status_code == 200 and f'id="approval-{approval_id}"' in queue.text
    assert "借款人一次性筹到款项" in queue.text and 'id="nav-approvals"' in queue.text
    btoken = boss.headers["X-CSRF-Token"]
    decide = f"/approvals/{approval_id}/decide"
    # a refusal without a reason: the page again, 422, nothing written
    mid = counts(db)
    bad = boss.post(
        decide,
        data={"decision": "refuse", "plan_type": "settlement", "reason": "", "csrf_token": btoken},
    )
    assert bad.status_code == 422 and f'id="approval-{approval_id}-error"' in bad.text
    assert counts(db) == mid
    done = boss.post(
        decide, data={"decision": "approve", "plan_type": "settlement", "csrf_token": btoken}
    )
    assert done.status_code == 200 and 'id="approval-done"' in done.text
    plan_id = db.conn.execute(select(PlanApproval.plan_id).where(PlanApproval.id == approval_id))
    plan = db.conn.execute(select(Plan).where(Plan.id == plan_id.scalar_one())).one()
    assert (plan.status, plan.role, plan.terms["discount_pct"]) == ("offered", "supervisor", 19)
    # a second decision: 409 naming the first, nothing written
    after = counts(db)
    again = boss.post(
        decide,
        data={"decision": "refuse", "plan_type": "settlement", "reason": "x", "csrf_token": btoken},
    )
    assert again.status_code == 409 and "已是 approved" not in again.text
    assert "web:super1" in again.text and 'id="approval-error"' in again.text
    assert counts(db) == after
    english = boss.get("/approvals?lang=en")
    assert "Recent decisions" in english.text and "Settlement: discount 19%" in english.text
    assert re.search(r">\s*(approvals|collection)\.[a-z_.]+", english.text) is None


def test_adjust_within_the_supervisors_authority(client, sign_in, book, db) -> None:
    agent = sign_in("agent1")
    token = agent.headers["X-CSRF-Token"]
    loan, _ = _beyond(agent, book, token)
    agent.post(
        f"/accounts/{loan}/plans/submit",
        data={**BEYOND, "reason": "一次性还清", "csrf_token": token},
    )
    approval_id = db.conn.execute(select(func.max(PlanApproval.id))).scalar_one()
    boss = sign_in("super1")
    btoken = boss.headers["X-CSRF-Token"]
    decide = f"/approvals/{approval_id}/decide"
    before = counts(db)
    too_far = boss.post(
        decide,
        data={
            "decision": "adjust",
            "plan_type": "settlement",
            "discount_pct": "60",
            "reason": "改为60%",
            "csrf_token": btoken,
        },
    )
    assert too_far.status_code == 422 and "上限为" in too_far.text
    assert 'value="60"' in too_far.text and "改为60%" in too_far.text  # typed values kept
    assert counts(db) == before
    ok = boss.post(
        decide,
        data={
            "decision": "adjust",
            "plan_type": "settlement",
            "discount_pct": "17",
            "csrf_token": btoken,
        },
    )
    assert ok.status_code == 200 and "已调整后批准" in ok.text
    status = db.conn.execute(select(PlanApproval.status).where(PlanApproval.id == approval_id))
    assert status.scalar_one() == "adjusted"


def test_the_plan_form_shows_the_chosen_types_fields(client, sign_in, book) -> None:
    page = sign_in("agent1").get(f"/accounts/{book.queue_loan}")
    assert 'data-types="deferral hardship" id="field-months"' in page.text
    assert 'data-types="settlement" id="field-discount_pct"' in page.text
    assert '.plan-field:not([data-types~="deferral"])' in page.text


def test_the_api_submits_lists_and_decides_once(client, sign_in, book, db) -> None:
    agent = sign_in("agent1")
    loan, _ = _beyond(agent, book, agent.headers["X-CSRF-Token"])
    body = {"plan_type": "settlement", "discount_pct": 19, "reason": "一次性还清"}
    sent = agent.post(f"/api/v1/accounts/{loan}/plans/submit", json=body)
    assert sent.status_code == 201, sent.text
    found = sent.json()
    assert found["status"] == "pending" and "reason" not in found
    assert agent.get("/api/v1/approvals").status_code == 403
    boss = sign_in("super1")
    listed = boss.get("/api/v1/approvals").json()["items"]
    assert found["approval_id"] in [a["approval_id"] for a in listed]
    url = f"/api/v1/approvals/{found['approval_id']}/decide"
    assert boss.post(url, json={"decision": "refuse"}).status_code == 422
    refused = boss.post(url, json={"decision": "refuse", "reason": "材料不足"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    again = boss.post(url, json={"decision": "approve"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_raw_keys_on_the_queue(client, sign_in, lang) -> None:
    text = sign_in("super1").get(f"/approvals?lang={lang}").text
    assert re.search(r">\s*(approvals|collection)\.[a-z_.]+", text) is None
