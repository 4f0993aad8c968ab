"""The single-leader lock of ``forbear worker``: one leader at a time; the leadership ends
with the leader's connection (PostgreSQL) or process (SQLite), and another takes over."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from databases import fresh_pg
from forbear.services.outreach.leader import (
    AdvisoryLeader,
    FileLeader,
    leader_for,
    sqlite_lock_path,
)
from forbear.store.db import make_engine


def test_one_file_leader_at_a_time_and_the_next_after_release(tmp_path: Path) -> None:
    first, second = FileLeader(tmp_path / "x.lock"), FileLeader(tmp_path / "x.lock")
    assert first.try_acquire() and first.holds()
    assert not second.try_acquire() and not second.holds()
    assert first.try_acquire()  # asking again while leading keeps leading
    first.release()
    first.release()  # idempotent
    assert not first.holds()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_many_threads_asking_at_once_make_exactly_one_leader(tmp_path: Path) -> None:
    leaders = [FileLeader(tmp_path / "x.lock") for _ in range(8)]
    start = threading.Barrier(len(leaders))
    won: list[bool] = [False] * len(leaders)

    def ask(i: int) -> None:
        start.wait()
        won[i] = leaders[i].try_acquire()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(leaders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(won) == 1
    for leader in leaders:
        leader.release()


HOLD = """
import sys, time
from pathlib import Path
from forbear.services.outreach.leader import FileLeader
leader = FileLeader(Path(sys.argv[1]))
print("led" if leader.try_acquire() else "followed", flush=True)
time.sleep(60)
"""


def test_a_killed_leader_process_leaves_the_leadership_free(tmp_path: Path) -> None:
    lock = tmp_path / "forbear.db.leader.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "led"
        here = FileLeader(lock)
        assert not here.try_acquire()
        holder.kill()  # SIGKILL: no clean-up of its own
        holder.wait(timeout=30)
        assert here.try_acquire()
        here.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_sqlite_workers_meet_beside_the_database_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'forbear.db'}"
    (tmp_path / "db").mkdir()
    one, two = make_engine(url), make_engine(url)
    try:
        # two different data directories, one database: still one lock
        a, b = leader_for(one, tmp_path / "a"), leader_for(two, tmp_path / "b")
        assert isinstance(a, FileLeader)
        assert sqlite_lock_path(one, tmp_path / "a") == tmp_path / "db" / "forbear.db.leader.lock"
        assert a.try_acquire() and not b.try_acquire()
        a.release()
    finally:
        one.dispose()
        two.dispose()


@pytest.mark.postgres
def test_one_advisory_leader_and_a_lost_connection_loses_the_leadership() -> None:
    with fresh_pg("forbear_leader") as engine:
        other = make_engine(engine.url.render_as_string(hide_password=False))
        try:
            a, b = AdvisoryLeader(engine), AdvisoryLeader(other)
            assert isinstance(leader_for(engine, Path(".")), AdvisoryLeader)
            assert a.try_acquire() and a.holds()
            assert not b.try_acquire() and not b.holds()
            # the database ends the leader's session (a network cut, a restart)
            assert a._conn is not None
            pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with other.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            assert not a.holds()  # it knows it no longer leads
            assert b.try_acquire() and b.holds()
            assert not a.try_acquire()
            b.release()
            assert not b.holds()
            assert a.try_acquire()  # released: the next one leads
            a.release()
        finally:
            other.dispose()


@pytest.mark.postgres
def test_many_engines_asking_at_once_make_exactly_one_advisory_leader() -> None:
    with fresh_pg("forbear_leader") as engine:
        url = engine.url.render_as_string(hide_password=False)
        engines = [make_engine(url) for _ in range(6)]
        leaders = [AdvisoryLeader(e) for e in engines]
        start = threading.Barrier(len(leaders))
        won = [False] * len(leaders)

        def ask(i: int) -> None:
            start.wait()
            won[i] = leaders[i].try_acquire()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(leaders))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sum(won) == 1
        finally:
            for leader in leaders:
                leader.release()
            for e in engines:
                e.dispose()


def test_other_databases_have_no_leader_lock() -> None:
    engine = make_engine("sqlite://")
    try:
        assert isinstance(leader_for(engine, Path("/tmp")), FileLeader)
        with pytest.raises(ValueError, match="PostgreSQL"):
            AdvisoryLeader(engine)
    finally:
        engine.dispose()
