"""The handoff forms under parallel clients (each request its own connection and commit, on
SQLite and PostgreSQL: tests.web.committed): a reply submitted twenty times at once (a
double click, a retried POST) is recorded and queued once; two agents taking one
conversation at once: one has it, the other is told it is taken."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.web.committed import Committed, burst, committed_book

from forbear.services import assistant as conversations
from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.models import Loan
from web.conftest import MORNING

N = 20


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def waiting(committed: Committed) -> int:
    with committed.forbear.transaction() as conn:
        borrower_id = conn.execute(
            select(Loan.borrower_id).where(Loan.id == committed.book.queue_loan)
        ).scalar_one()
        found = conversations.open_conversation(
            conn, committed.forbear.vault, channel="portal", now=MORNING, borrower_id=borrower_id
        )
        conversations.record_turn(
            conn, committed.forbear.vault, found, role="borrower", text="我要人工", now=MORNING
        )
        return conversations.hand_over(conn, found, reason="asked", now=MORNING).id


def test_one_reply_submitted_many_times_at_once_is_sent_once(committed: Committed) -> None:
    conversation_id = waiting(committed)
    auth = {"Authorization": f"Bearer {committed.token('agent1')}"}
    path = f"/assistant/conversations/{conversation_id}"
    with committed.client() as c:
        taken = c.post(f"{path}/take-over", headers=auth, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"].endswith("done=taken")
    text = "您好，我是人工客服，马上为您查看。"
    answers = burst(
        committed,
        N,
        lambda c: c.post(
            f"{path}/reply", data={"text": text}, headers=auth, follow_redirects=False
        ),
    )
    assert Counter(a.status_code for a in answers) == {303: N}, [a.text[:200] for a in answers]
    assert {a.headers["location"] for a in answers} == {f"{path}?done=replied"}
    with committed.forbear.transaction() as conn:
        roles = list(
            conn.execute(
                select(AssistantTurn.role).where(AssistantTurn.conversation_id == conversation_id)
            ).scalars()
        )
    assert roles.count("agent") == 1


def test_two_agents_taking_one_conversation_at_once(committed: Committed) -> None:
    conversation_id = waiting(committed)
    tokens = [committed.token("agent1"), committed.token("super1")]
    path = f"/assistant/conversations/{conversation_id}/take-over"
    turn = iter(range(2))

    def take(c):  # type: ignore[no-untyped-def]
        token = tokens[next(turn)]
        return c.post(path, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)

    answers = burst(committed, 2, take)
    assert [a.status_code for a in answers] == [303, 303]
    outcomes = sorted(a.headers["location"].rsplit("=", 1)[1] for a in answers)
    assert outcomes == ["not_waiting", "taken"]
    with committed.forbear.transaction() as conn:
        status, agent = conn.execute(
            select(AssistantConversation.status, AssistantConversation.agent).where(
                AssistantConversation.id == conversation_id
            )
        ).one()
        joined = list(
            conn.execute(
                select(AssistantTurn.role).where(AssistantTurn.conversation_id == conversation_id)
            ).scalars()
        ).count("system")
    assert status == "agent" and agent in ("api:agent1", "api:super1")
    assert joined == 1
