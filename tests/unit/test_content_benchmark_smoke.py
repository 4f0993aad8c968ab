"""The content-filter benchmark's smoke mode completes and its polite messages pass every
layer; timings are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "content.py"


def test_content_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
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
    assert figures["send"]["messages"] == figures["baseline_per_entry_regexes"]["messages"] > 0
    assert figures["findings_on_polite_messages"] == 0
    assert figures["template_cached_ms"] > 0
