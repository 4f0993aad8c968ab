"""Run one piece of work on several threads released together (race tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def parallel(n: int, work: Callable[[int], Any], timeout: float | None = None) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads released together; results (or exceptions). With
    ``timeout``, a thread still running that many seconds later fails the test (a hang
    is then a failure, not a stuck suite)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported by the test, never swallowed
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"still running after {timeout} s"
    return results
