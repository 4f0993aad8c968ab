"""The agent's work queue reads the borrower situation live (issue 12, item 2): once a use
case changed the facts (a plan accepted in the portal, a dispute raised on a call), the
account is no longer offered as due work, on the workbench page and in the API, and the
account page and API show the amounts the portal shows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


def _queued(agent: TestClient) -> set[int]:
    answer = agent.get("/api/v1/queue")
    assert answer.status_code == 200, answer.text
    return {int(i["loan_id"]) for i in answer.json()["items"]}


def test_a_plan_accepted_in_the_portal_takes_the_account_out_of_the_agents_queue(  # type: ignore[no-untyped-def]
    client: TestClient, db, clock, sign_in, me: PortalBorrower
) -> None:
    agent = sign_in("agent1")
    assert me.loan_id in _queued(agent)
    page = agent.get("/workbench")
    assert f'href="/accounts/{me.loan_id}"' in page.text and 'id="settled"' not in page.text

    portal_sign_in(client, db, clock, me.borrower_id)
    base = f"/api/v1/portal/loans/{me.loan_id}"
    options = client.get(f"{base}/plan-options").json()
    key = next(o["key"] for o in options["options"] if o["key"].startswith("restructure"))
    assert client.post(f"{base}/plans", json={"option": key}).status_code == 201
    owed = client.get(base).json()
    assert owed["overdue_total"]["fen"] == 0

    assert me.loan_id not in _queued(agent)  # no longer due work
    settled = agent.get("/api/v1/queue").json()["settled"]
    assert [i["settled"] for i in settled if i["loan_id"] == me.loan_id] == ["plan"]
    page = agent.get("/workbench")
    assert page.status_code == 200
    settled = page.text.split('id="settled"', 1)
    assert len(settled) == 2, "the page lists the account apart, with the reason"
    assert f'href="/accounts/{me.loan_id}"' in settled[1]
    assert 'data-reason="plan"' in settled[1]
    assert "已接受还款计划" in settled[1]  # the reason in words (zh-CN by default)
    queue_table = settled[0].split('id="queue"', 1)[-1]
    assert f'href="/accounts/{me.loan_id}"' not in queue_table

    # the account API and page show what the portal shows
    state = agent.get(f"/api/v1/accounts/{me.loan_id}").json()["state"]
    for name in ("overdue_total", "next_due_amount"):
        assert state[name]["fen"] == owed[name]["fen"], name
    assert (state["dpd"], state["next_due_date"]) == (owed["dpd"], owed["next_due_date"])
    account = agent.get(f"/accounts/{me.loan_id}")
    assert owed["next_due_amount"]["yuan"].lstrip("¥") in account.text


def test_a_dispute_raised_on_a_call_takes_the_account_out_of_the_queue(  # type: ignore[no-untyped-def]
    sign_in, me: PortalBorrower, clock
) -> None:
    from datetime import datetime, timedelta

    # within the calling hours of the borrower's day
    clock.now = datetime.combine(clock.now.date(), datetime.min.time(), clock.now.tzinfo) + (
        timedelta(hours=3)
    )
    agent = sign_in("agent1")
    assert me.loan_id in _queued(agent)
    made = agent.post(f"/api/v1/accounts/{me.loan_id}/contacts", json={"channel": "call"})
    assert made.status_code == 201, made.text
    if not made.json()["allowed"]:
        pytest.skip(f"the gate blocked the call: {made.json()['blocked_by']}")
    attempt = made.json()["attempt_id"]
    recorded = agent.post(f"/api/v1/contacts/{attempt}/outcome", json={"outcome": "dispute"})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["hold_id"] is not None

    assert me.loan_id not in _queued(agent)
    page = agent.get("/workbench")
    assert 'data-reason="dispute"' in page.text.split('id="settled"', 1)[1]
