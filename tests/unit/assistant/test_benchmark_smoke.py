"""The assistant benchmark's smoke mode runs both contenders (speed is not asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from assistant_model import trained_model_dir

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "assistant.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("forbear_benchmark_assistant", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assistant_benchmark_smoke_mode_measures_model_and_baseline(tmp_path: Path) -> None:
    bench = _load_benchmark()
    out = tmp_path / "figures.json"

    figures = bench.main(["--smoke", "--model", str(trained_model_dir()), "--json", str(out)])

    assert figures["messages"] == 12
    assert [c["role"] for c in figures["contenders"]] == ["model", "baseline"]
    for contender in figures["contenders"]:
        for key in ("cpu", "thread", "wall"):
            assert (
                0
                <= contender[key]["p50_ms"]
                <= contender[key]["p95_ms"]
                <= contender[key]["max_ms"]
            )
        assert contender["cold_start"]["wall_s"] > 0
    assert 0 <= figures["intent_agreement"] <= 1
    assert json.loads(out.read_text())["messages"] == 12
    engine = figures["end_to_end"]
    assert engine["messages"] == 10 and engine["replies"] >= engine["messages"]
    assert 0 <= engine["cpu"]["p50_ms"] <= engine["cpu"]["p95_ms"] <= engine["cpu"]["max_ms"]


def test_the_benchmark_messages_are_seeded_and_bilingual() -> None:
    bench = _load_benchmark()
    first = bench.messages(40, seed=1)
    assert first == bench.messages(40, seed=1)
    assert any("还" in m or "還" in m for m in first)
    assert any(m.isascii() for m in first)
