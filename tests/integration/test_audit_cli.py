"""``forbear audit verify`` and ``forbear audit show`` as an operator runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from clirun import forbear
from forbear.store import audit
from forbear.store.db import make_engine


def test_verify_on_a_fresh_data_dir_finds_an_intact_empty_chain(tmp_path: Path) -> None:
    result = forbear(tmp_path, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "✓ 0 events, chain intact" in result.stdout


def test_verify_lists_each_problem_and_fails_show_lists_events(tmp_path: Path) -> None:
    assert forbear(tmp_path, "audit", "verify").returncode == 0  # creates the database
    engine = make_engine(f"sqlite:///{tmp_path / 'forbear.db'}")
    try:
        with engine.begin() as conn:
            for i in range(3):
                audit.record(
                    conn,
                    action="model.activate",
                    actor="cli",
                    subject_type="model_version",
                    subject_id=i + 1,
                    payload={"kind": "behaviour", "retired": i or None},
                    at=datetime(2026, 11, 30, 9, i, tzinfo=UTC),
                )
        ok = forbear(tmp_path, "audit", "verify")
        assert ok.returncode == 0, ok.stderr
        assert "✓ 3 events, chain intact" in ok.stdout

        shown = forbear(tmp_path, "audit", "show", "--action", "model.activate", "--limit", "2")
        assert shown.returncode == 0, shown.stderr
        assert "model_version 3" in shown.stdout and "model_version 2" in shown.stdout
        assert "model_version 1" not in shown.stdout

        with engine.begin() as conn:  # tampering, as someone with the database file could
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
        broken = forbear(tmp_path, "audit", "verify")
    finally:
        engine.dispose()
    assert broken.returncode != 0
    assert "Traceback" not in broken.stdout + broken.stderr
    lines = [line for line in broken.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("✗ seq 2: edited")
    assert "audit chain broken: 1 problem(s) in 3 events, first at seq 2" in lines[-1]
