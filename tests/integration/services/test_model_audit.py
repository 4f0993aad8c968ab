"""Activating and rolling back a model leave their events in the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from forbear.domain.scoring.artefact import ModelKind
from forbear.services import models
from forbear.store import audit

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def train(conn: Connection, path: Path, seed: int) -> int:
    return models.train_application(conn, path, "bad", seed=seed, now=NOW).model.id


def test_activate_and_rollback_are_audited(connection: Connection, tmp_path: Path) -> None:
    path = tmp_path / "apps.csv"
    ages = list(range(20, 70))
    pl.DataFrame(
        {
            "age": ages * 8,
            "income": [a * 37 % 100 for a in ages] * 8,
            "bad": [a % 3 == 0 for a in ages] * 8,
        }
    ).with_columns(pl.col("bad").cast(pl.Int8)).write_csv(path)
    first, second = train(connection, path, 1), train(connection, path, 2)

    models.activate(connection, first, now=NOW, actor="alice")
    models.activate(connection, first, now=NOW, actor="alice")  # already active: no event
    models.activate(connection, second, now=NOW)
    back = models.rollback(connection, ModelKind.APPLICATION, now=NOW, actor="bob")
    assert back.id == first

    trail = [
        (e.action, e.actor, e.subject_id, e.payload)
        for e in reversed(audit.events(connection, subject_type="model_version"))
    ]
    assert trail == [
        ("model.activate", "alice", str(first), {"kind": "application", "retired": None}),
        ("model.activate", "system", str(second), {"kind": "application", "retired": first}),
        ("model.rollback", "bob", str(first), {"kind": "application", "retired": second}),
    ]
    assert audit.verify(connection).ok
