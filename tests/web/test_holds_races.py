"""Parallel clients on one hold, each request with its own connection and commit, on
SQLite and PostgreSQL (issue 15, item 1): of supervisors and compliance officers taking
the same dispute at once one becomes its owner, the others are refused (409, never a
500); of parallel releases exactly one closes the hold and writes one audit event."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.web.committed import Committed, burst, committed_book
from tests.web.conftest import MORNING

from forbear.services import contacts
from forbear.store.audit import AuditEvent
from forbear.store.contacts import Hold
from forbear.store.hold_cases import HoldCase

N = 10


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def _dispute(committed: Committed) -> int:
    with committed.forbear.transaction() as conn:
        return contacts.add_hold(
            conn,
            loan_id=committed.book.queue_loan,
            kind="dispute",
            actor="test",
            since=MORNING - timedelta(days=1),
            reason="portal dispute: other",
        )


def _events(committed: Committed, hold: int, action: str) -> int:
    with committed.forbear.transaction() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.subject_id == str(hold))
            ).scalar_one()
        )


def test_one_owner_wins_when_two_people_take_a_dispute_at_once(committed: Committed) -> None:
    hold = _dispute(committed)
    tokens = {"super1": committed.token("super1"), "compliance1": committed.token("compliance1")}
    names = list(tokens)
    turn = iter(range(N))

    def take(client):  # type: ignore[no-untyped-def]
        who = names[next(turn) % 2]
        answer = client.post(
            f"/holds/{hold}/take",
            headers={"Authorization": f"Bearer {tokens[who]}"},
            follow_redirects=False,
        )
        return who, answer

    answers = burst(committed, N, take)
    assert all(not isinstance(a, BaseException) for a in answers), answers
    with committed.forbear.transaction() as conn:
        owner = conn.execute(select(HoldCase.owner).where(HoldCase.hold_id == hold)).scalar_one()
        cases = conn.execute(
            select(func.count()).select_from(HoldCase).where(HoldCase.hold_id == hold)
        ).scalar_one()
    assert owner in names and cases == 1
    for who, answer in answers:
        # the winner's repeats change nothing (303); everyone else is refused (409)
        assert answer.status_code == (303 if who == owner else 409), answer.text[:300]
    assert _events(committed, hold, "hold.take") == 1


def test_parallel_releases_close_the_hold_once(committed: Committed) -> None:
    hold = _dispute(committed)
    auth = {"Authorization": f"Bearer {committed.token('super1')}"}
    answers = burst(
        committed,
        N,
        lambda c: c.post(
            f"/holds/{hold}/release",
            data={"reason": "借款人撤回异议", "resolution": "released"},
            headers=auth,
            follow_redirects=False,
        ),
    )
    statuses = Counter(getattr(a, "status_code", None) for a in answers)
    assert statuses == {303: 1, 409: N - 1}, statuses
    with committed.forbear.transaction() as conn:
        until = conn.execute(select(Hold.until).where(Hold.id == hold)).scalar_one()
    assert until == MORNING
    assert _events(committed, hold, "hold.release") == 1
