"""Twenty parallel plan offers, and twenty parallel promises, on one loan through the HTTP
API (issue 11, low finding "conflicts as 500"): exactly one succeeds, every other answer
is a 409 with a message in the caller's language, never a 500, and the database holds
one open plan (one open promise). Each request has its own connection and commits, on
SQLite and on PostgreSQL (tests.web.committed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.web.committed import Committed, burst, committed_book
from tests.web.conftest import AS_OF

from forbear.store.plans import OPEN_STATUSES, Plan
from forbear.store.promises import Promise

N = 20


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def _quotable_loan(committed: Committed, auth: dict[str, str]) -> int:
    """A loan on which the agent may offer a one-month deferral."""
    book = committed.book
    with committed.client() as c:
        for loan in [book.queue_loan, book.m2_plus_loan, book.other_loan, *book.loans[:200]]:
            quote = c.post(
                f"/api/v1/accounts/{loan}/plans/quote",
                json={"plan_type": "deferral", "months": 1},
                headers=auth,
            )
            if quote.status_code == 200:
                return int(loan)
    raise AssertionError("no loan to offer a plan on")


def _one_winner(answers: list, what: str) -> None:  # type: ignore[type-arg]
    statuses = Counter(a.status_code for a in answers)
    unexpected = [a.text for a in answers if a.status_code not in (201, 409)]
    assert statuses == {201: 1, 409: N - 1}, (what, statuses, unexpected[:3])
    for a in answers:
        if a.status_code == 409:
            error = a.json()["error"]
            assert error["code"] == "conflict"
            assert error["message"].startswith("与已存数据冲突"), error["message"]


def test_parallel_plan_offers_save_one_plan(committed: Committed) -> None:
    auth = {"Authorization": f"Bearer {committed.token('agent1')}"}
    loan = _quotable_loan(committed, auth)
    body = {"plan_type": "deferral", "months": 1}
    answers = burst(
        committed, N, lambda c: c.post(f"/api/v1/accounts/{loan}/plans", json=body, headers=auth)
    )
    _one_winner(answers, "plan offers")
    with committed.forbear.transaction() as conn:
        open_plans = conn.execute(
            select(func.count())
            .select_from(Plan)
            .where(Plan.loan_id == loan, Plan.status.in_(OPEN_STATUSES))
        ).scalar_one()
    assert open_plans == 1
    with committed.client() as c:  # the same refusal in English
        again = c.post(
            f"/api/v1/accounts/{loan}/plans",
            json=body,
            headers=auth | {"Accept-Language": "en"},
        )
    assert again.status_code == 409
    assert again.json()["error"]["message"].startswith("Conflicts with stored data")


def test_parallel_promises_save_one_promise(committed: Committed) -> None:
    auth = {"Authorization": f"Bearer {committed.token('agent1')}"}
    loan = committed.book.queue_loan
    body = {"amount_fen": 50_000, "promised_on": (AS_OF + timedelta(days=3)).isoformat()}
    answers = burst(
        committed,
        N,
        lambda c: c.post(f"/api/v1/accounts/{loan}/promises", json=body, headers=auth),
    )
    _one_winner(answers, "promises")
    with committed.forbear.transaction() as conn:
        open_promises = conn.execute(
            select(func.count())
            .select_from(Promise)
            .where(Promise.loan_id == loan, Promise.status == "open")
        ).scalar_one()
    assert open_promises == 1
