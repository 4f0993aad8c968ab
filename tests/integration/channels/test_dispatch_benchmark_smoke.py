"""The dispatch benchmark's smoke mode completes on PostgreSQL: a small book, 400 due SMS
sent by 1 and by 2 dispatcher processes to the provider stand-in, every message sent, and
the database agrees with the stand-in's accept log at each level. Timings are never
asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from databases import pg_url

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "dispatch.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_dispatch_benchmark_smoke_sends_every_message_once(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke", "--json", str(out), "--pg-url", pg_url()],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if "PostgreSQL not reachable" in proc.stderr:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    figures = json.loads(out.read_text())
    assert figures["provider_ceiling_per_second"] > 0
    assert [level["workers"] for level in figures["levels"]] == [1, 2]
    for level in figures["levels"]:
        assert level["sent"] == level["messages"] == 400, level["by_status"]
        agreement = level["agreement"]
        assert agreement["exact"], agreement
        assert agreement["log_keys"] == agreement["log_lines"] == 400
        assert level["messages_per_second"] > 0
        assert level["worker_cpu_ms_per_message"] > 0
        stand_in = level["standin_cpu_ms_per_message"]
        assert stand_in is None or stand_in > 0
    workers = {r["worker"] for level in figures["levels"] for r in level["workers_report"]}
    assert len(workers) == 3
