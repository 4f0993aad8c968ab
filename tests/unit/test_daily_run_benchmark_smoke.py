"""The daily-run benchmark's smoke mode completes (scan floor, local engine, DuckDB SQL and
pandas on a tiny generated day) and every engine decides the day exactly as the local
engine does; timings never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "daily_run.py"


def test_daily_run_benchmark_smoke_mode_completes_and_engines_agree(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("pandas")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--smoke",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    engines = figures["engines"]
    assert {"scan", "local", "duckdb", "pandas", "local-small", "scan-small"} <= set(engines)
    assert "spark" not in engines  # smoke mode leaves Spark out
    assert engines["local"]["actions"] > 0
    for name in ("duckdb vs local", "pandas vs local-small"):
        agreement = figures["agreement"][name]
        assert agreement["actions_other"] == agreement["actions_local"] > 0
        assert agreement["identical_all"], agreement
        assert agreement["accounts_mismatched"] == 0
