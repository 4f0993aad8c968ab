"""Run a benchmark of ``benchmarks/`` in its smoke mode, in a child process (the
libraries' own warnings stay out of the test run), and read the figures it wrote.
Timings are printed by the benchmark, never asserted by the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_smoke(name: str, tmp_path: Path, *, timeout: int = 600) -> tuple[dict[str, Any], str]:
    """``benchmarks/<name>.py --smoke --json <file>``: the figures and what it printed."""
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--smoke", "--json", str(out)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout
