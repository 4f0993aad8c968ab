from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from forbear.domain.errors import StorageUnavailable
from forbear.store.db import make_engine, normalise_url, ping, read_only


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
    finally:
        engine.dispose()


def test_an_unreachable_server_is_storage_unavailable_without_the_password() -> None:
    engine = make_engine(
        "postgresql://forbear:s3cr3t-pw@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(StorageUnavailable) as caught:
            ping(engine)
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "s3cr3t-pw" not in message
    assert "127.0.0.1:1/nowhere" in message
    assert "\n" not in message


def test_an_unopenable_sqlite_file_is_storage_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        with pytest.raises(StorageUnavailable):
            ping(engine)
    finally:
        engine.dispose()


def test_query_errors_are_not_mistaken_for_an_unavailable_database(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(Exception) as caught:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert not isinstance(caught.value, StorageUnavailable)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(StorageUnavailable):
        make_engine("mysql://u@h/db")


def test_the_sqlite_file_and_its_wal_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "forbear.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        wal = Path(f"{path}-wal")
        assert wal.exists()
        for file in (path, wal):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        engine.dispose()


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_parallel_read_then_write_transactions_all_commit_on_sqlite(tmp_path: Path) -> None:
    """Each transaction reads, then writes what it read (a check-then-write). Begun
    deferred, all but one failed with "database is locked" (a stale snapshot cannot take
    the write lock); begun IMMEDIATE they queue, and the counter is exact."""
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}", pool_size=16)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def bump() -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                conn.exec_driver_sql(f"UPDATE counter SET n = {n + 1}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 12
    finally:
        engine.dispose()


def test_a_read_only_transaction_does_not_block_a_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ro.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    try:
        with read_only(engine.connect()) as reader, reader.begin():
            assert reader.exec_driver_sql("SELECT COUNT(*) FROM t").scalar_one() == 0
            with engine.begin() as writer:  # would wait for the reader if it held the lock
                writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            # the reader keeps its snapshot
            assert reader.exec_driver_sql("SELECT COUNT(*) FROM t").scalar_one() == 0
    finally:
        engine.dispose()


def test_a_failing_statement_s_error_leaves_out_the_values(engine: Engine) -> None:
    """Bound values may be personal data; a statement's error names the SQL only."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "13900000001"})
    assert "13900000001" not in str(failed.value)
