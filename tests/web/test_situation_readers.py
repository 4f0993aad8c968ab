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


def test_the_script_panel_counts_broken_promises_by_their_date(  # type: ignore[no-untyped-def]
    db, sign_in, me: PortalBorrower
) -> None:
    """A promise for a date 100 days back, found broken 10 days ago, is not a broken
    promise of the last 90 days (docs/promises.md); the panel's old SQL counted it."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from forbear.store.promises import Promise

    agent = sign_in("agent1")
    before = agent.get(f"/api/v1/accounts/{me.loan_id}/scripts").json()
    as_of = agent.get(f"/api/v1/accounts/{me.loan_id}").json()["as_of"]
    on = datetime.fromisoformat(as_of).date()
    for promised, resolved in ((100, 10), (20, 5)):
        db.conn.execute(
            insert(Promise).values(
                loan_id=me.loan_id,
                borrower_id=me.borrower_id,
                amount=10_000,
                promised_on=on - timedelta(days=promised),
                source="agent",
                status="broken",
                taken_by="test",
                taken_at=datetime.combine(
                    on - timedelta(days=promised + 3), datetime.min.time(), UTC
                ),
                taken_on=on - timedelta(days=promised + 3),
                amount_paid=0,
                resolved_on=on - timedelta(days=resolved),
                resolved_by="test",
            )
        )
    after = agent.get(f"/api/v1/accounts/{me.loan_id}/scripts").json()
    # only the promise dated within 90 days counts
    assert after["broken_promises_90d"] == before["broken_promises_90d"] + 1


def test_an_offered_plan_is_not_an_active_plan_until_accepted(  # type: ignore[no-untyped-def]
    sign_in, me: PortalBorrower
) -> None:
    """The script panel's old SQL counted an offered plan as an open plan; a plan the
    borrower has not accepted governs nothing (docs/plans.md)."""
    agent = sign_in("agent1")
    saved = agent.post(
        f"/api/v1/accounts/{me.loan_id}/plans", json={"plan_type": "restructure", "instalments": 6}
    )
    assert saved.status_code == 201, saved.text
    offered = agent.get(f"/api/v1/accounts/{me.loan_id}/scripts").json()
    assert offered["open_plan"] is False
    assert agent.get(f"/api/v1/accounts/{me.loan_id}").json()["situation"]["active_plan"] is False
    accepted = agent.post(f"/api/v1/plans/{saved.json()['plan_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert agent.get(f"/api/v1/accounts/{me.loan_id}/scripts").json()["open_plan"] is True
    shown = agent.get(f"/api/v1/accounts/{me.loan_id}").json()["situation"]
    assert (shown["active_plan"], shown["governed_by"], shown["needs_work"]) == (
        True,
        "plan",
        False,
    )
