"""The content-filter benchmark's smoke mode completes and its polite messages pass every
layer; timings are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from benchsmoke import run_smoke


def test_content_benchmark_smoke_mode_completes(tmp_path: Path) -> None:
    figures, _ = run_smoke("content", tmp_path)
    assert figures["send"]["messages"] == figures["baseline_per_entry_regexes"]["messages"] > 0
    assert figures["findings_on_polite_messages"] == 0
    assert figures["template_cached_ms"] > 0
