"""The gate benchmark's smoke mode completes (batch, its per-contact-loop baseline and
online) and the baseline decides the sample exactly as the gate does; timings never
asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "gate.py"


def test_gate_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke", "--json", str(out)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["batch"]["decided_rows"] == figures["batch"]["plan_rows"]
    assert figures["baseline"]["plan_rows"] == figures["decisions"]["sample_rows"] > 0
    assert figures["decisions"]["identical"], figures["decisions"]["examples"]
    assert figures["online"], "at least SQLite ran"
    assert figures["online"][0]["backend"] == "sqlite"
