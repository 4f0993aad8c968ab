"""A double click and a retried POST through the HTTP API (issue 13, item 5): twenty
parallel sends with one request id queue exactly one message; each request has its own
connection and commits, on SQLite and on PostgreSQL (tests.web.committed). Every answer is
the one message (one 201, the rest 200 with the same id), never a 500 or a second row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.web.committed import Committed, burst, committed_book

from forbear.store.audit import AuditEvent
from forbear.store.runs import OutboxMessage

N = 20


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def test_parallel_sends_with_one_request_id_queue_one_message(committed: Committed) -> None:
    auth = {"Authorization": f"Bearer {committed.token('agent1')}"}
    loan = committed.book.queue_loan
    with committed.client() as c:
        found = c.get(f"/api/v1/outreach/loans/{loan}/choices", headers=auth)
    assert found.status_code == 200, found.text
    sms = next(x for x in found.json()["channels"] if x["channel"] == "sms")
    body = {
        "channel": "sms",
        "template": sms["templates"][0]["code"],
        "request_id": "double-click-race-01",
    }
    answers = burst(
        committed,
        N,
        lambda c: c.post(f"/api/v1/outreach/loans/{loan}/messages", json=body, headers=auth),
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 200: N - 1}, (statuses, [a.text for a in answers][:3])
    assert len({a.json()["message_id"] for a in answers}) == 1
    with committed.forbear.transaction() as conn:
        rows = conn.execute(
            select(func.count()).where(OutboxMessage.origin == "agent")
        ).scalar_one()
        events = conn.execute(
            select(func.count()).where(AuditEvent.action == "outreach.queued")
        ).scalar_one()
    assert (rows, events) == (1, 1)
