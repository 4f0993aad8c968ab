"""One borrower situation for every reader: a plan accepted in the portal (through the
HTTP app) is visible at once on the agent's account page and the API, with the same
amounts the portal shows (issue 12: before, the agent's page read the daily run's
snapshot and still showed the debt as overdue)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


def test_a_plan_accepted_in_the_portal_shows_at_once_to_the_agent(  # type: ignore[no-untyped-def]
    client: TestClient, db, clock, sign_in, me: PortalBorrower
) -> None:
    agent = sign_in("agent1")
    before = agent.get(f"/api/v1/accounts/{me.loan_id}").json()["state"]
    assert before["overdue_total"]["fen"] > 0  # the queue loan is overdue
    portal_sign_in(client, db, clock, me.borrower_id)
    base = f"/api/v1/portal/loans/{me.loan_id}"
    options = client.get(f"{base}/plan-options").json()
    assert options["available"], options
    key = next(o["key"] for o in options["options"] if o["key"].startswith("restructure"))
    chosen = client.post(f"{base}/plans", json={"option": key})
    assert chosen.status_code == 201, chosen.text
    owed = client.get(base).json()
    assert owed["overdue_total"]["fen"] == 0 and owed["active_plan_id"] is not None

    answer = agent.get(f"/api/v1/accounts/{me.loan_id}").json()
    after = answer["state"]
    assert answer["situation"]["governed_by"] == "plan"
    assert answer["situation"]["plan_id"] == owed["active_plan_id"]
    assert answer["situation"]["needs_work"] is False
    for name in ("overdue_total", "next_due_amount"):
        assert after[name]["fen"] == owed[name]["fen"], name
    assert (after["dpd"], after["next_due_date"]) == (owed["dpd"], owed["next_due_date"])
    assert after["overdue_total"] != before["overdue_total"]

    page = agent.get(f"/accounts/{me.loan_id}")
    assert page.status_code == 200
    assert owed["next_due_amount"]["yuan"].lstrip("¥") in page.text
    assert 'id="needs-work"' in page.text and 'data-needs-work="false"' in page.text
    assert 'data-governed-by="plan"' in page.text
