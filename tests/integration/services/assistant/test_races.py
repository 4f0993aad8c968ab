"""The assistant under parallel clients, on SQLite and PostgreSQL (issue 14): each thread has
its own connection and transaction, as web workers have.

- two first messages of one sender at once start one conversation, not two;
- agents taking the same conversation at once: exactly one wins;
- identity guesses at once: exactly three failures are counted, the rest are locked out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from databases import migrated_pg, migrated_sqlite
from factories import import_three_loans
from forbear.domain.access import Actor, Role
from forbear.domain.errors import Conflict
from forbear.services import assistant as svc
from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from parallel import parallel

KEY = bytes(range(32))
THREADS = 8
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
DEBTOR_PHONE = "13812345678"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def committed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database of its own with the three-loan book committed (the threads must see it)."""
    folder: Path = tmp_path_factory.mktemp("assistant-race")
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, folder / "race.db")
        engine = make_engine(f"sqlite:///{folder / 'race.db'}")
        try:
            with engine.begin() as conn:
                import_three_loans(conn, PiiVault(KEY), folder)
            yield engine
        finally:
            engine.dispose()
        return
    with migrated_pg(
        tmp_path_factory, "forbear_assistant_race", pool_size=THREADS, max_overflow=4
    ) as engine:
        with engine.begin() as conn:
            import_three_loans(conn, PiiVault(KEY), folder)
        yield engine


def _fresh_sender(engine: Engine, sender: str) -> None:
    """Close whatever an earlier test of the module left open for ``sender``."""
    vault = PiiVault(KEY)
    with engine.begin() as conn:
        conn.execute(
            AssistantConversation.__table__.update()
            .where(AssistantConversation.sender_bidx == vault.blind_index("phone", sender))
            .values(status="closed", closed_at=NOW)
        )


def test_parallel_first_messages_start_one_conversation(committed: Engine) -> None:
    engine, vault = committed, PiiVault(KEY)
    _fresh_sender(engine, DEBTOR_PHONE)

    def first_message(i: int) -> int:
        with engine.begin() as conn:
            c = svc.open_conversation(conn, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
            svc.record_turn(conn, vault, c, role="borrower", text=f"消息{i}", now=NOW)
            return c.id

    ids = parallel(THREADS, first_message)
    assert not [r for r in ids if isinstance(r, Exception)], ids
    assert len(set(ids)) == 1
    with engine.connect() as conn:
        seqs = conn.execute(
            select(AssistantTurn.seq).where(AssistantTurn.conversation_id == ids[0])
        ).scalars()
        assert sorted(seqs) == list(range(1, THREADS + 1))  # every message, in turn


def test_parallel_take_overs_have_one_winner(committed: Engine) -> None:
    engine, vault = committed, PiiVault(KEY)
    _fresh_sender(engine, DEBTOR_PHONE)
    with engine.begin() as conn:
        c = svc.open_conversation(conn, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
        svc.hand_over(conn, c, reason="asked", now=NOW)

    def take(i: int) -> svc.Conversation:
        with engine.begin() as conn:
            return svc.take_over(conn, Actor(f"web:agent{i}", Role.AGENT), vault, c.id, NOW)

    results = parallel(THREADS, take)
    won = [r for r in results if isinstance(r, svc.Conversation)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == THREADS - 1, results
    with engine.connect() as conn:
        stored = svc.get_conversation(conn, vault, c.id)
        assert stored.agent == won[0].agent
        joined = conn.execute(
            select(func.count())
            .select_from(AssistantTurn)
            .where(AssistantTurn.conversation_id == c.id, AssistantTurn.role == "system")
        ).scalar_one()
        assert joined == 1


def test_parallel_identity_guesses_count_exactly_three_failures(committed: Engine) -> None:
    engine, vault = committed, PiiVault(KEY)
    _fresh_sender(engine, DEBTOR_PHONE)
    with engine.begin() as conn:
        c = svc.open_conversation(conn, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)

    def guess(i: int) -> svc.Verification:
        with engine.begin() as conn:
            return svc.verify_identity(
                conn, vault, c, id_digits=f"{i:04d}", now=NOW + timedelta(seconds=1)
            )

    results = parallel(THREADS, guess)
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count("wrong") == 2 and outcomes.count("locked") == THREADS - 2
    with engine.connect() as conn:
        assert svc.get_conversation(conn, vault, c.id).verify_failures == 3
        counted = conn.execute(
            select(AuditEvent.payload).where(
                AuditEvent.action == "assistant.verify", AuditEvent.subject_id == str(c.id)
            )
        ).scalars()
        failures = sorted(p for p in counted if '"failures": 3' in p or '"failures":3' in p)
        assert len(failures) == THREADS - 2  # the third failure, then every refusal
    # even the right digits are refused now
    with engine.begin() as conn:
        late = svc.verify_identity(conn, vault, c, id_digits="1233", now=NOW + timedelta(seconds=2))
        assert late.outcome.value == "locked"
