"""Promotion checks and then writes (is the arm already promoted? then a new candidate
version), so parallel clients must not store it twice: many threads, each with its own
connection and transaction (as web workers have), promote the same arm at once, on
SQLite and PostgreSQL. Exactly one candidate version and one ``experiment.promote``
event are stored; every other client is told the arm is already promoted, by a refusal
that names the waiting version (no database error, nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from databases import migrated_pg, migrated_sqlite
from forbear.domain.access import Actor, Role
from forbear.domain.errors import ValidationError
from forbear.services import experiments as svc
from forbear.store import audit
from forbear.store.db import make_engine
from forbear.store.strategies import StrategyVersion
from parallel import parallel

THREADS = 8
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SUPERVISOR = Actor("web:sup", Role.SUPERVISOR)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An empty migrated database of its own: the shipped strategy (with its m1
    experiment) is the one in force."""
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, tmp_path / "promote.db")
        sqlite = make_engine(f"sqlite:///{tmp_path / 'promote.db'}")
        try:
            yield sqlite
        finally:
            sqlite.dispose()
        return
    with migrated_pg(
        tmp_path_factory, "forbear_promote_race", pool_size=THREADS, max_overflow=2
    ) as pg:
        yield pg


def _promote(engine: Engine) -> Any:
    with engine.begin() as conn:
        return svc.promote(
            conn, "m1_callback_timing", "challenger", SUPERVISOR, now=NOW, reason="race"
        )


def test_parallel_promotions_of_one_arm_store_one_candidate(engine: Engine) -> None:
    results = parallel(THREADS, lambda _: _promote(engine))

    promoted = [r for r in results if isinstance(r, svc.Promotion)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(promoted) == 1, results
    assert len(refused) == THREADS - 1, results  # no other kind of error
    version = promoted[0].strategy.version
    for r in refused:
        assert "already promoted" in str(r) and f"candidate version {version}" in str(r)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(StrategyVersion)
            .where(StrategyVersion.status == "candidate")
        ).scalar()
        assert stored == 1
        assert len(audit.events(conn, action="experiment.promote")) == 1
        assert len(audit.events(conn, action="strategy.add")) == 1


def test_a_second_promotion_after_the_first_is_refused_and_stores_nothing(
    engine: Engine,
) -> None:
    first = _promote(engine)
    with pytest.raises(ValidationError, match="already promoted: candidate version"):
        _promote(engine)
    with engine.connect() as conn:
        versions = conn.execute(select(StrategyVersion.id)).scalars().all()
    assert versions == [first.strategy.id]
