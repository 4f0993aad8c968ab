"""What every benchmark shares: this process's memory, and printing a figures table.

Benchmarks run each contender in a child process so that its peak memory is its own;
``memory()`` reads that process's current and peak resident set.
"""

from __future__ import annotations

import resource
from pathlib import Path


def memory() -> dict[str, float]:
    """Current and peak resident memory of this process, MB (/proc, else getrusage)."""
    found: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        found = {"VmRSS": peak, "VmHWM": peak}
    return {"rss_mb": found["VmRSS"], "peak_mb": found["VmHWM"]}


def print_table(title: str, headers: list[str], body: list[list[str]], width: int = 140) -> None:
    """A right-aligned figures table (first column left-aligned), with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for line in body:
        table.add_row(*line)
    Console(width=width).print(table)
