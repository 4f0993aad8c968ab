"""A PostgreSQL database of a test's own: created at ``FORBEAR_TEST_PG_URL``'s server,
dropped afterwards; the test is skipped with the reason when the server is not there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine

from forbear.domain.errors import StorageUnavailable
from forbear.store.db import make_engine, normalise_url, ping

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("FORBEAR_TEST_PG_URL", DEFAULT_PG_URL)


@contextmanager
def fresh_pg(prefix: str, **engine_options: Any) -> Iterator[Engine]:
    """An engine on a new, empty (not migrated) database named ``prefix_<pid>_<random>``."""
    url = normalise_url(pg_url())
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        ping(admin)
    except StorageUnavailable as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {pg_url()}: {exc}")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(url.set(database=name), **engine_options)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
