"""No rule and no use case reads the clock: the front end that starts a use case passes
the moment (issue 12, item 4; ``forbear/clock.py``). This reads the source of
``forbear.domain`` and ``forbear.services`` for every way Python reads the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import forbear

ROOT = Path(forbear.__file__).parent
LAYERS = ("domain", "services")

# (object, attribute) calls that read the wall clock
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("pendulum", "now"),
}
CLOCK_NAMES = {"utcnow", "system_clock"}
CLOCK_MODULES = {"forbear.clock"}


def _clock_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                owner = func.value
                name = (
                    owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                )
                if (name, func.attr) in CLOCK_CALLS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in CLOCK_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {func.id}()")
        elif isinstance(node, ast.ImportFrom) and node.module in CLOCK_MODULES:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import")
        elif isinstance(node, ast.Import) and any(a.name in CLOCK_MODULES for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} import forbear.clock")
    return found


def _sources() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def test_the_layers_have_source_to_read() -> None:
    assert len(_sources()) > 100


@pytest.mark.parametrize("layer", LAYERS)
def test_no_clock_read_in(layer: str) -> None:
    reads = [hit for p in sorted((ROOT / layer).rglob("*.py")) for hit in _clock_reads(p)]
    assert reads == [], "read the moment from the caller, not the clock:\n" + "\n".join(reads)


def test_the_check_sees_each_way_of_reading_the_clock(tmp_path: Path) -> None:
    # the scanner itself: every form it must catch, in a throwaway module under ROOT's shape
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime as dt\n"
        "from datetime import date, datetime\n"
        "from forbear.clock import system_clock\n"
        "a = datetime.now()\n"
        "b = date.today()\n"
        "c = dt.datetime.utcnow()\n"
        "d = system_clock()\n"
        "e = datetime(2026, 1, 1)\n",
        encoding="utf-8",
    )
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        hits = _clock_reads(sample)
    finally:
        ROOT = saved
    assert [h.split(" ", 1)[1] for h in hits] == [
        "from forbear.clock import",
        "datetime.now()",
        "date.today()",
        "datetime.utcnow()",
        "system_clock()",
    ]
