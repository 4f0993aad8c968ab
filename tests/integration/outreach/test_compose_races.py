"""A double click, a reload or a retried POST queues one message: many threads, each with
its own connection and transaction (as web workers have), send with the same request id
at once, on SQLite and PostgreSQL. Exactly one outbox row and one ``outreach.queued``
event per request id; every thread gets that row back; nobody gets an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from clocks import SETUP_AT
from databases import migrated_pg, migrated_sqlite
from factories import import_three_loans
from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import default_rules
from forbear.services import templates as template_service
from forbear.services.outreach import compose
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from forbear.store.runs import OutboxMessage
from parallel import parallel

KEY = bytes(range(32))
THREADS = 12
AGENT = Actor(name="web:li.agent", role=Role.AGENT, user_id=3)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
DAY = date(2026, 11, 20)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """A database of its own with the book committed (the threads must see it)."""
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, tmp_path / "race.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
        try:
            yield engine, _book(engine, tmp_path)
        finally:
            engine.dispose()
        return
    with migrated_pg(
        tmp_path_factory, "forbear_compose_race", pool_size=THREADS, max_overflow=5
    ) as engine:
        yield engine, _book(engine, tmp_path)


def _book(engine: Engine, folder: Path) -> dict[str, int]:
    with engine.begin() as conn:
        ids = import_three_loans(conn, PiiVault(KEY), folder)
        template_service.install_library(conn, now=SETUP_AT)
        return ids


def send(engine: Engine, loan_id: int, request_id: str) -> compose.Sent:
    with engine.begin() as conn:
        return compose.send(
            conn,
            PiiVault(KEY),
            default_rules(),
            AGENT,
            loan_id,
            channel="sms",
            template="CN.M1.REMIND.SMS",
            request_id=request_id,
            now=NOW,
            today=DAY,
            public_url="https://portal.example.cn",
        )


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
        events = conn.execute(
            select(func.count()).where(AuditEvent.action == "outreach.queued")
        ).scalar_one()
    return int(rows), int(events)


def test_parallel_sends_with_one_request_id_queue_exactly_one_message(
    committed: tuple[Engine, dict[str, int]],
) -> None:
    engine, ids = committed
    results = parallel(THREADS, lambda i: send(engine, ids["L0001"], "double-click-0001"))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len({r.message.id for r in results}) == 1
    assert _counts(engine) == (1, 1)


def test_parallel_sends_with_distinct_request_ids_queue_one_each(
    committed: tuple[Engine, dict[str, int]],
) -> None:
    engine, ids = committed
    # three request ids, each sent four times at once, on both loans of one debtor
    loans = [ids["L0001"], ids["L0002"]]
    results = parallel(
        THREADS, lambda i: send(engine, loans[(i % 3) % 2], f"retried-post-{i % 3:04d}")
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 3
    assert len({r.message.id for r in results}) == 3
    assert _counts(engine) == (3, 3)
