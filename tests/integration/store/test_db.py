from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from forbear.domain.errors import StorageUnavailable
from forbear.store.db import make_engine, normalise_url, ping


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
