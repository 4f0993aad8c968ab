"""The daily contact caps are a property of the debtor, held exactly under parallel clients.

Many threads, each with its own connection and transaction (as web workers have), ask the
gate for the same debtor at the same moment, on SQLite and PostgreSQL. An attempt counts
from the moment it is allowed, pending until its outcome says otherwise, so:

- with every outcome pending, exactly CN.FREQ.CONNECTED (3) calls are allowed;
- once they are recorded unanswered, calls go on to exactly CN.FREQ.UNANSWERED (6) on the
  number, and never more than 3 conversations whatever is recorded;
- one attempt's outcome is set once: parallel submissions give one ``contact.outcome``
  event; a different outcome is refused and audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from databases import migrated_pg, migrated_sqlite
from factories import import_three_loans
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.services import contacts as svc
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from parallel import parallel

SHANGHAI = ZoneInfo("Asia/Shanghai")
KEY = bytes(range(32))
THREADS = 20


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """A database of its own with the three-loan book committed (the threads must see it)."""
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, tmp_path / "race.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
        try:
            yield engine, _book(engine, tmp_path)
        finally:
            engine.dispose()
        return
    with migrated_pg(tmp_path_factory, "forbear_race", pool_size=THREADS, max_overflow=5) as engine:
        yield engine, _book(engine, tmp_path)


def _book(engine: Engine, folder: Path) -> dict[str, int]:
    with engine.begin() as conn:
        return import_three_loans(conn, PiiVault(KEY), folder)


@pytest.fixture
def rules() -> CompiledRules:
    return default_rules()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def call(
    engine: Engine, rules: CompiledRules, loan_id: int, moment: datetime
) -> svc.ContactDecision:
    with engine.begin() as conn:
        return svc.request_contact(
            conn, loan_id=loan_id, channel="call", at=moment, actor="agent:race", rules=rules
        )


def test_parallel_calls_to_one_debtor_allow_exactly_the_connected_cap(
    committed: tuple[Engine, dict[str, int]], rules: CompiledRules
) -> None:
    engine, ids = committed
    # both loans of C0001: the cap is the debtor's, not the loan's (CN.FREQ.CROSSPARTY)
    loans = [ids["L0001"], ids["L0002"]]
    results = parallel(
        THREADS, lambda i: call(engine, rules, loans[i % 2], at(f"2026-11-02T10:00:{i:02d}"))
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 3
    assert all("CN.FREQ.CONNECTED" in r.blocked_by for r in results if not r.allowed)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(ContactAttempt.allowed.is_(True))
        ).scalar_one()
        audited = conn.execute(
            select(func.count()).where(AuditEvent.action == "contact.attempt")
        ).scalar_one()
    assert stored == audited == 3


def test_recorded_no_answers_free_the_conversation_cap_up_to_the_unanswered_cap(
    committed: tuple[Engine, dict[str, int]], rules: CompiledRules
) -> None:
    engine, ids = committed
    loan = ids["L0001"]
    allowed_total = 0
    for wave in range(4):  # 3 pending allowed per wave, then recorded unanswered
        results = parallel(
            8, lambda i, w=wave: call(engine, rules, loan, at(f"2026-11-02T1{w}:00:{i:02d}"))
        )
        assert not [r for r in results if isinstance(r, Exception)]
        allowed = [r for r in results if r.allowed]
        allowed_total += len(allowed)
        outcomes = (
            parallel(
                len(allowed),
                lambda i, done=allowed: _record(engine, done[i].attempt_id, "no_answer"),
            )
            if allowed
            else []
        )
        assert not [o for o in outcomes if isinstance(o, Exception)]
    # 6 unanswered dials on the debtor's number, then CN.FREQ.UNANSWERED blocks
    assert allowed_total == 6
    last = call(engine, rules, loan, at("2026-11-02T18:00:00"))
    assert not last.allowed and "CN.FREQ.UNANSWERED" in last.blocked_by


def _record(engine: Engine, attempt_id: int | None, outcome: str) -> svc.OutcomeResult:
    assert attempt_id is not None
    with engine.begin() as conn:
        return svc.record_outcome(conn, attempt_id, outcome, "agent:race")


def test_recording_connected_never_takes_a_debtor_over_the_cap(
    committed: tuple[Engine, dict[str, int]], rules: CompiledRules
) -> None:
    engine, ids = committed
    loan = ids["L0001"]
    for minute in range(10):  # call, connect, call again, all day long
        decision = call(engine, rules, loan, at(f"2026-11-02T11:{minute:02d}:00"))
        if decision.allowed:
            _record(engine, decision.attempt_id, "connected")
    with engine.connect() as conn:
        connected = conn.execute(
            select(func.count()).where(ContactAttempt.outcome == "connected")
        ).scalar_one()
    assert connected == 3


def test_one_outcome_per_attempt_under_parallel_submissions(
    committed: tuple[Engine, dict[str, int]], rules: CompiledRules
) -> None:
    engine, ids = committed
    decision = call(engine, rules, ids["L0001"], at("2026-11-02T10:00:00"))
    assert decision.allowed
    wanted = ["connected", "no_answer"] * 6
    results = parallel(len(wanted), lambda i: _record(engine, decision.attempt_id, wanted[i]))
    assert not [r for r in results if isinstance(r, Exception)]
    recorded = [r for r in results if r.status is svc.OutcomeStatus.RECORDED]
    assert len(recorded) == 1
    stood = recorded[0].outcome
    # the same outcome again: nothing written; the other: refused and audited
    for r, asked in zip(results, wanted, strict=True):
        if r.status is not svc.OutcomeStatus.RECORDED:
            expected = (
                svc.OutcomeStatus.UNCHANGED if asked == stood.value else svc.OutcomeStatus.CONFLICT
            )
            assert r.status is expected
            assert r.outcome is stood
    with engine.connect() as conn:
        events = conn.execute(
            select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
        ).all()
        stored = conn.execute(
            select(ContactAttempt.outcome).where(ContactAttempt.id == decision.attempt_id)
        ).scalar_one()
    counts = dict(events)
    assert counts["contact.outcome"] == 1
    assert counts["contact.outcome_conflict"] == 6
    assert stored == stood.value
    conflict = next(r for r in results if r.status is svc.OutcomeStatus.CONFLICT)
    with pytest.raises(svc.OutcomeConflict, match="already has outcome"):
        conflict.raise_if_conflict("busy")
