"""A daily run killed at any moment (SIGKILL, no clean-up) leaves the database as it was
before the run or as after it, never half; the rerun completes the day.

The kill moments are shares of the time an uninterrupted run of the same book took on the
same machine, not fixed waits: the kills spread over the run however fast or busy the
machine is, and no test waits longer than the run takes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from clirun import forbear, forbear_process

AS_OF = "2026-11-27"


def _environment(data_dir: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(data_dir),
    }


def _day(db: Path) -> tuple[list[tuple[str, int]], int, int, int]:
    """Runs of the date by status, and the date's decisions, work queue and outbox rows."""
    with sqlite3.connect(db) as c:
        runs = c.execute(
            "SELECT status, COUNT(*) FROM runs WHERE as_of = ? GROUP BY status ORDER BY status",
            (AS_OF,),
        ).fetchall()
        counts = [
            c.execute(f"SELECT COUNT(*) FROM {t} WHERE as_of = ?", (AS_OF,)).fetchone()[0]
            for t in ("decisions", "work_queue", "outbox")
        ]
    return runs, counts[0], counts[1], counts[2]


def _decisions(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(
            "SELECT loan_id, action_index, segment, treatment, channel, allowed, blocked_by, "
            "scheduled FROM decisions WHERE as_of = ? ORDER BY loan_id, action_index",
            (AS_OF,),
        ).fetchall()


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("killed")
    made = forbear(data, "demo", "--borrowers", "600", "--as-of", AS_OF, "--no-run")
    assert made.returncode == 0, made.stderr
    return data


def _start_run(data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "forbear.cli", "run", "--as-of", AS_OF],
        env=_environment(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Reference:
    decisions: list[tuple[object, ...]]  # what an uninterrupted run decides
    seconds: float  # from the start of its process to its end


@pytest.fixture(scope="module")
def reference(demo_book: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted run on the same book: its decisions and how long it took here."""
    data = tmp_path_factory.mktemp("reference") / "data"
    subprocess.run(["cp", "-a", str(demo_book), str(data)], check=True)
    started = time.monotonic()
    ran = forbear_process(data, "run", "--as-of", AS_OF)
    assert ran.returncode == 0, ran.stderr
    return Reference(_decisions(data / "forbear.db"), time.monotonic() - started)


# when to kill: a share of the time the uninterrupted run took on this machine (starting
# up; computing the day; near its last write)
@pytest.mark.parametrize("share", [0.25, 0.55, 0.85])
def test_a_killed_run_leaves_before_or_after_and_the_rerun_completes(
    demo_book: Path, reference: Reference, tmp_path: Path, share: float
) -> None:
    data = tmp_path / "data"
    # each kill gets its own copy of the book (SQLite file, key, demo files)
    subprocess.run(["cp", "-a", str(demo_book), str(data)], check=True)
    db = data / "forbear.db"
    before = _day(db)
    assert before == ([], 0, 0, 0)

    run = _start_run(data)
    time.sleep(share * reference.seconds)
    if run.poll() is None:
        os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=60)

    state = _day(db)
    # nothing of the run, or all of it: one completed run with its decisions and outbox
    assert state == before or (state[0] == [("completed", 1)] and state[1] > 0 < state[3]), state

    rerun = forbear(data, "run", "--as-of", AS_OF)
    assert rerun.returncode == 0, rerun.stderr
    runs, decisions, _, outbox = _day(db)
    assert ("completed", 1) in runs and ("running", 1) not in runs
    assert decisions > 0 and outbox > 0
    # the rerun decides what an uninterrupted run decides
    assert _decisions(db) == reference.decisions
