"""The lab benchmark's smoke mode completes, with its kernel-alone baseline, and the lab
delivered contacts without a violation; timings never asserted."""

from __future__ import annotations

from pathlib import Path

from benchsmoke import run_smoke


def test_lab_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
    figures, _ = run_smoke("lab", tmp_path)
    assert figures["lab"]["loans"] == 400 and figures["lab"]["days"] == 5
    assert figures["lab"]["violations"] == 0
    assert figures["lab"]["contacts"] > 0
    assert set(figures["lab"]["phases"]) >= {"frames", "decide", "allocate", "recheck", "step"}
    assert figures["baseline"]["days"] == 5
