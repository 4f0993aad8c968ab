"""The ledger benchmark's smoke mode runs and the kernel and the baseline agree.

Speed is measured, not asserted: this test checks only that the benchmark completes and
that the pandas baseline gives the same states as the Polars kernel.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "ledger.py"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("forbear_benchmark_ledger", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ledger_benchmark_smoke_mode_completes_with_identical_states(tmp_path: Path) -> None:
    bench = _load_benchmark()
    out = tmp_path / "figures.json"

    figures = bench.main(["--smoke", "--json", str(out)])

    assert figures["states_identical"] is True
    assert figures["partitioned_states_identical"] is True
    assert figures["check"]["mismatches"] == 0
    assert figures["check"]["loans_compared"] == figures["sizes"]["loans"]
    assert {c["role"] for c in figures["contenders"]} == {"kernel", "kernel_parts", "baseline"}
    assert json.loads(out.read_text())["states_identical"] is True
