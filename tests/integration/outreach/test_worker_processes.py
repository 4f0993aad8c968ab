"""``forbear worker`` as operators start it: real processes on one database (SQLite and
PostgreSQL). Two started together run the day once; SIGTERM lets the run under way
finish and ends the worker with exit 0."""

from __future__ import annotations

import base64
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from forbear.store.runs import Run
from outreach_book import TEST_KEY, BookDb, runs_of

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_worker_processes")


def _environment(book: BookDb, data_dir: Path, **extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(data_dir),
        "FORBEAR_DATABASE_URL": book.url,
        "FORBEAR_ENCRYPTION_KEY": base64.b64encode(TEST_KEY).decode(),
        "COLUMNS": "200",
        **extra,
    }


def _worker(book: BookDb, data_dir: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "forbear.cli", "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(book, data_dir, **env),
    )


def test_two_worker_processes_started_together_run_the_day_once(
    book_db: BookDb, tmp_path: Path
) -> None:
    engine = book_db.engine()
    try:
        with engine.connect() as conn:
            before = set(conn.execute(select(Run.id)).scalars())
        # run_at 00:00: the day (the real business date today) is due at once
        workers = [
            _worker(book_db, tmp_path / f"w{i}", "--once", "--no-dispatch", FORBEAR_RUN_AT="00:00")
            for i in range(2)
        ]
        outputs = [w.communicate(timeout=600) for w in workers]
        for w, (out, err) in zip(workers, outputs, strict=True):
            assert w.returncode == 0, err
            assert "Traceback" not in out + err
        said = [out for out, _ in outputs]
        assert sum("worker: ran " in s for s in said) == 1, said
        other = next(s for s in said if "worker: ran " not in s)
        # the other was a follower while the leader ran, or came after and found it done
        assert "nothing to run (follower)" in other or "nothing to run (completed)" in other
        with engine.connect() as conn:
            new = conn.execute(select(Run.as_of, Run.status).where(Run.id.not_in(before))).all()
        assert len(new) == 1 and new[0].status == "completed"
    finally:
        engine.dispose()


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_sigterm_lets_the_run_under_way_finish_and_ends_the_worker(
    book_db: BookDb, tmp_path: Path
) -> None:
    day = date(2026, 12, 20)
    worker = _worker(book_db, tmp_path, "--run-now", str(day), "--no-dispatch", "--poll", "0.2")
    logged: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(worker.stderr, logged), daemon=True)
    reader.start()
    engine = book_db.engine()
    try:
        seen = []
        while True:
            line = logged.get(timeout=300)
            seen.append(line)
            if f"daily run of {day} starting" in line:
                break
        worker.send_signal(signal.SIGTERM)  # mid-run
        worker.wait(timeout=600)
        assert worker.stdout is not None
        out = worker.stdout.read()
        reader.join(timeout=30)
        rest = []
        while not logged.empty():
            rest.append(logged.get())
        assert worker.returncode == 0, "".join(seen + rest)
        assert "worker: stopped" in out
        assert any(f"daily run of {day} completed" in line for line in rest), rest
        assert runs_of(engine, day) == ["completed"]  # finished, not cut off
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for stream in (worker.stdout, worker.stderr):
            if stream is not None:
                stream.close()
        engine.dispose()


def test_a_mistake_in_the_channels_file_stops_the_worker_at_once_in_one_line(
    book_db: BookDb, tmp_path: Path
) -> None:
    channels = tmp_path / "channels.yaml"
    channels.write_text("providers:\n  pigeon:\n    kind: pigeon_post\n    channels: [sms]\n")
    worker = _worker(book_db, tmp_path, "--once", FORBEAR_CHANNELS_FILE=str(channels))
    out, err = worker.communicate(timeout=300)
    assert worker.returncode != 0
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "providers.pigeon.kind" in lines[0], err
    assert "worker:" not in out  # nothing ran
