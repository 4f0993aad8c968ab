"""The online-contact benchmark's smoke mode completes on SQLite (and PostgreSQL when it is
reachable): contacts and outcomes through a real ``forbear serve``-equivalent server at 1
and 8 clients, with no 5xx, no request left without an answer, and no daily cap exceeded.
Timings are never asserted. One test per backend, so that two workers can run them at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "online_contact.py"
PG_URL = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_contact_benchmark_smoke_mode_has_no_5xx_and_no_overshoot(
    tmp_path: Path, backend: str
) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--smoke",
            "--backends",
            backend,
            "--json",
            str(out),
            "--pg-url",
            PG_URL,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    backends = [r["backend"] for r in figures["results"]]
    if backend == "postgresql" and not backends:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {proc.stdout[-500:]}")
    assert backends == [backend], "the backend asked for runs (SQLite always)"
    for result in figures["results"]:
        assert [lv["clients"] for lv in result["levels"]] == [1, 8]
        for level in result["levels"]:
            where = f"{result['backend']}, {level['clients']} client(s): {proc.stdout[-4000:]}"
            assert level["contacts"] > 0 and level["allowed"] > 0, where
            assert level["outcomes"] > 0, where
            assert level["5xx"] == 0, where
            assert level["transport_errors"] == 0, where
            assert level["other_4xx"] == 0, where
            assert level["caps"]["overshoot"] == 0, where
            assert level["caps"]["pending"] == 0, where
    assert figures["verdict"]["overshoot"] == 0
