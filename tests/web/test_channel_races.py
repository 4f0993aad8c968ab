"""Parallel deliveries of one callback (issue 13, item 4), each request on its own connection
and committed (tests.web.committed), on SQLite and PostgreSQL: a payment posted by several
threads at once is stored exactly once, and an opt-out reply delivered several times at once
places one hold and queues one confirmation. Every answer is a 200, never a 500."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.web.committed import Committed, burst, committed_book
from tests.web.conftest import MORNING

from forbear.domain.signatures import sign
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts
from forbear.store.models import ContactPoint, Loan, Payment
from forbear.store.runs import OutboxMessage

N = 8
PROVIDER = "pay-core"
SECRET = b"the payment system's shared secret"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        found.forbear.settings.channel_secrets = {PROVIDER: SecretStr(SECRET.decode())}
        yield found


def _signed(payload: dict[str, object], i: int) -> tuple[bytes, dict[str, str]]:
    """The payload signed with a timestamp of its own per sender (so no two requests are
    the same signed request: each is a delivery of the same event, not a replay)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    moment = int(MORNING.timestamp()) - i
    return body, {
        "content-type": "application/json",
        "x-forbear-timestamp": str(moment),
        "x-forbear-signature": sign(SECRET, moment, body),
    }


def test_parallel_deliveries_of_one_payment_post_it_once(committed: Committed) -> None:
    loan = committed.book.m2_plus_loan
    payload = {
        "transaction_id": "TX-RACE-1",
        "loan_id": loan,
        "amount": "50.00",
        "paid_at": "2026-11-20 09:00:00",
    }
    requests = [_signed(payload, i) for i in range(N)]
    senders = iter(range(N))

    def send(client: TestClient) -> object:
        body, headers = requests[next(senders)]
        return client.post(f"/api/v1/channels/{PROVIDER}/payments", content=body, headers=headers)

    answers = burst(committed, N, send)
    statuses = Counter(a.status_code for a in answers)  # type: ignore[attr-defined]
    assert statuses == {200: N}, [a.text for a in answers][:3]  # type: ignore[attr-defined]
    results = Counter(a.json()["status"] for a in answers)  # type: ignore[attr-defined]
    assert results == {"applied": 1, "duplicate": N - 1}
    with committed.forbear.reading() as conn:
        stored = conn.execute(
            select(func.count()).select_from(Payment).where(Payment.external_ref == "TX-RACE-1")
        ).scalar_one()
    assert stored == 1


def test_parallel_deliveries_of_one_opt_out_hold_and_confirm_once(committed: Committed) -> None:
    loan = committed.book.queue_loan
    vault = committed.forbear.vault
    with committed.forbear.reading() as conn:
        row = conn.execute(
            select(ContactPoint.borrower_id, ContactPoint.value_enc)
            .join(Loan, Loan.borrower_id == ContactPoint.borrower_id)
            .where(
                Loan.id == loan, ContactPoint.kind == "phone", ContactPoint.owner_type == "debtor"
            )
            .order_by(ContactPoint.id)
        ).first()
    assert row is not None
    phone = vault.decrypt(row.value_enc, context=Contexts.CONTACT_VALUE)
    # half deliver the same reply (one event), half other opt-out words (other events)
    requests = [
        _signed(
            {"from": phone, "text": "退订" if i % 2 else "STOP", "event_id": f"e-{i % 2 or i}"}, i
        )
        for i in range(N)
    ]
    senders = iter(range(N))

    def send(client: TestClient) -> object:
        body, headers = requests[next(senders)]
        return client.post(f"/api/v1/channels/{PROVIDER}/replies", content=body, headers=headers)

    answers = burst(committed, N, send)
    assert Counter(a.status_code for a in answers) == {200: N}, [a.text for a in answers][:3]  # type: ignore[attr-defined]
    with committed.forbear.reading() as conn:
        holds = conn.execute(
            select(func.count())
            .select_from(Hold)
            .where(Hold.borrower_id == row.borrower_id, Hold.kind == "opt_out")
        ).scalar_one()
        confirmations = conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.borrower_id == row.borrower_id, OutboxMessage.origin == "system")
        ).scalar_one()
    assert (holds, confirmations) == (1, 1)
