"""Supervisors deciding the same submission at once, through the HTTP API, on SQLite and
PostgreSQL (each request with its own connection, committed; tests.web.committed): one
decision wins, every other answer is a 409 naming it in the caller's language, never a
500, and the database holds one decided submission and one offered plan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.web.committed import Committed, burst, committed_book
from tests.web.conftest import MORNING

from forbear.services import staff
from forbear.store.plans import Plan, PlanApproval

N = 6


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def _submitted(committed: Committed) -> int:
    auth = {"Authorization": f"Bearer {committed.token('agent1')}"}
    book = committed.book
    body = {"plan_type": "settlement", "discount_pct": 19, "reason": "一次性还清"}
    with committed.client() as c:
        for loan in [book.queue_loan, book.m2_plus_loan, book.other_loan, *book.loans[:200]]:
            sent = c.post(f"/api/v1/accounts/{loan}/plans/submit", json=body, headers=auth)
            if sent.status_code == 201:
                return int(sent.json()["approval_id"])
    raise AssertionError("no loan to submit a plan on")


def test_two_supervisors_deciding_one_submission_one_wins(committed: Committed) -> None:
    approval_id = _submitted(committed)
    with committed.forbear.transaction() as conn:
        staff.add_staff(
            conn,
            username="super2",
            display_name="Supervisor Two",
            role="supervisor",
            actor="test",
            now=MORNING,
            team_id="phone-zh",
        )
    tokens = [committed.token("super1"), committed.token("super2")]
    decisions = [{"decision": "approve"}, {"decision": "refuse", "reason": "材料不足"}]
    url = f"/api/v1/approvals/{approval_id}/decide"
    turn = iter(range(N))

    def send(c):  # type: ignore[no-untyped-def]
        k = next(turn)
        headers = {"Authorization": f"Bearer {tokens[k % 2]}"}
        return c.post(url, json=decisions[k % 2], headers=headers)

    answers = burst(committed, N, send)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 409: N - 1}, (statuses, [a.text for a in answers][:3])
    for a in answers:
        if a.status_code == 409:
            assert a.json()["error"]["message"].startswith("与已存数据冲突"), a.text
    [winner] = [a.json() for a in answers if a.status_code == 200]
    with committed.forbear.transaction() as conn:
        row = conn.execute(
            select(PlanApproval.status, PlanApproval.plan_id).where(PlanApproval.id == approval_id)
        ).one()
        offered = conn.execute(
            select(func.count())
            .select_from(Plan)
            .where(Plan.id == row.plan_id, Plan.status == "offered")
        ).scalar_one()
    assert row.status == winner["status"]
    assert (row.plan_id is not None) == (winner["status"] == "approved")
    assert offered == (1 if winner["status"] == "approved" else 0)
