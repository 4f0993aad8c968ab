"""The lab benchmark's smoke mode completes, with its kernel-alone baseline, and the lab
delivered contacts without a violation; timings never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "lab.py"


def test_lab_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
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
    assert figures["lab"]["loans"] == 400 and figures["lab"]["days"] == 5
    assert figures["lab"]["violations"] == 0
    assert figures["lab"]["contacts"] > 0
    assert set(figures["lab"]["phases"]) >= {"frames", "decide", "allocate", "recheck", "step"}
    assert figures["baseline"]["days"] == 5
