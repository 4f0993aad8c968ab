"""Callbacks under parallel requests (issue 15, item 3), through the real app on a
committed database, SQLite and PostgreSQL: agents booking a callback on one loan at once
leave exactly one open (the others superseded, under the debtor's lock); closing one
callback from several tabs at once closes it once (the rest answer 409)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.web.committed import Committed, burst, committed_book

from forbear.store.audit import AuditEvent
from forbear.store.workbench import Callback

TIMES = ["2026-11-21T10:00", "2026-11-21T10:30", "2026-11-21T11:00", "2026-11-21T11:30"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def test_parallel_bookings_leave_one_open_callback_and_one_close_wins(
    committed: Committed,
) -> None:
    token = committed.token("agent1")
    loan = committed.book.queue_loan
    picks = iter(range(len(TIMES)))

    def book(client):  # type: ignore[no-untyped-def]
        at = TIMES[next(picks) % len(TIMES)]
        client.headers["Authorization"] = f"Bearer {token}"
        return client.post(
            f"/accounts/{loan}/callbacks", data={"callback_at": at}, follow_redirects=False
        ).status_code

    answers = burst(committed, len(TIMES), book)
    assert answers == [303] * len(TIMES)
    with committed.forbear.reading() as conn:
        statuses = Counter(
            conn.execute(select(Callback.status).where(Callback.loan_id == loan)).scalars()
        )
        open_id = conn.execute(
            select(Callback.id).where(Callback.loan_id == loan, Callback.status == "open")
        ).scalar_one()
    assert statuses == {"open": 1, "cancelled": len(TIMES) - 1}

    def close(client):  # type: ignore[no-untyped-def]
        client.headers["Authorization"] = f"Bearer {token}"
        return client.post(
            f"/accounts/{loan}/callbacks/close",
            data={"callback_id": str(open_id), "status": "done"},
            follow_redirects=False,
        ).status_code

    closed = burst(committed, 4, close)
    assert sorted(closed) == [303, 409, 409, 409]
    with committed.forbear.reading() as conn:
        done = conn.execute(
            select(AuditEvent.id).where(
                AuditEvent.action == "callback.done", AuditEvent.subject_id == str(open_id)
            )
        ).all()
    assert len(done) == 1
