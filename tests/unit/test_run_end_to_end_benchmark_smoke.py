"""The end-to-end run benchmark's smoke mode completes on a tiny demo book: ``forbear run``
on SQLite (and on PostgreSQL when the server is reachable) and the kernel floor on the
same book, with identical decisions on both backends; timings never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "run_end_to_end.py"


def test_run_end_to_end_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
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
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    results = {(r["what"], r["backend"]): r for r in figures["results"]}
    run = results[("run", "sqlite")]
    assert run["ok"] and run["decisions"] > 0
    assert run["wall_s"] > 0 and run["peak_mb"] > 0
    assert results[("kernel (floor)", "parquet")]["ok"]
    if ("run", "postgresql") in results:
        assert results[("run", "postgresql")]["decisions"] == run["decisions"]
        assert all(figures["agreement"].values())
