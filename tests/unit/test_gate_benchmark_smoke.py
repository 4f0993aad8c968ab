"""The gate benchmark's smoke mode completes (batch, its per-contact-loop baseline and
online) and the baseline decides the sample exactly as the gate does; timings never
asserted."""

from __future__ import annotations

from pathlib import Path

from benchsmoke import run_smoke


def test_gate_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
    figures, _ = run_smoke("gate", tmp_path)
    assert figures["batch"]["decided_rows"] == figures["batch"]["plan_rows"]
    assert figures["baseline"]["plan_rows"] == figures["decisions"]["sample_rows"] > 0
    assert figures["decisions"]["identical"], figures["decisions"]["examples"]
    assert figures["online"], "at least SQLite ran"
    assert figures["online"][0]["backend"] == "sqlite"
