"""Databases of a test's own.

- :func:`fresh_pg`: an empty PostgreSQL database created at ``FORBEAR_TEST_PG_URL``'s
  server and dropped afterwards (the test is skipped with the reason when the server is
  not there).
- :func:`migrated_pg` / :func:`migrated_sqlite`: a migrated, empty database of the
  caller's own, copied from the one migrated once per test run.
- :func:`shared_pg` / :func:`shared_sqlite`: a database of the caller's own, copied from
  one that ``build`` filled once per test run (shared by the xdist workers of the run,
  under a lock): migrating, or building a book, once instead of once per module, worker
  and backend. A PostgreSQL copy is ``CREATE DATABASE ... TEMPLATE``; the templates are
  dropped when the run ends (:func:`drop_run_templates`, from tests/conftest.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from forbear.domain.errors import StorageUnavailable
from forbear.store import migrate
from forbear.store.db import make_engine, normalise_url, ping, read_only

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEMPLATES = "pg-templates.txt"  # in the run's directory: the template databases it made


def pg_url() -> str:
    return os.environ.get("FORBEAR_TEST_PG_URL", DEFAULT_PG_URL)


def _admin() -> Engine:
    """An AUTOCOMMIT engine on the server; skips the test when the server is not there."""
    admin = make_engine(normalise_url(pg_url()), isolation_level="AUTOCOMMIT")
    try:
        ping(admin)
    except StorageUnavailable as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {pg_url()}: {exc}")
    return admin


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_pg(prefix: str, **engine_options: Any) -> Iterator[Engine]:
    """An engine on a new, empty (not migrated) database named ``prefix_<pid>_<random>``."""
    admin = _admin()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(normalise_url(pg_url()).set(database=name), **engine_options)
    try:
        yield engine
    finally:
        engine.dispose()
        _drop(admin, name)
        admin.dispose()


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory shared by every xdist worker of this test run (the run's
    base temporary directory without xdist)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return root


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, key: str) -> Iterator[Path]:
    """The run-wide directory ``key``, held under an exclusive lock."""
    directory = run_directory(tmp_path_factory) / key
    directory.mkdir(exist_ok=True)
    with (directory / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def shared_pg(
    tmp_path_factory: pytest.TempPathFactory,
    key: str,
    build: Callable[[Engine, Path], Any],
    prefix: str | None = None,
    **engine_options: Any,
) -> Iterator[tuple[Engine, Any]]:
    """An engine on a PostgreSQL database of the caller's own (dropped afterwards), a copy
    of the run's template ``key``, and what ``build`` returned (JSON round-tripped).

    The first caller of the run creates the template and fills it with
    ``build(engine, directory)`` (``directory``: run-wide, for files the build writes);
    ``build`` must leave nothing connected to it."""
    admin = _admin()
    url = normalise_url(pg_url())
    name = f"{prefix or 'forbear_' + key}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with run_lock(tmp_path_factory, f"pg-{key}") as directory:
            meta = directory / "template.json"
            if not meta.exists():
                template = f"forbear_tpl_{key}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
                with (run_directory(tmp_path_factory) / TEMPLATES).open("a") as made:
                    made.write(template + "\n")  # dropped at the end of the run
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
                engine = make_engine(url.set(database=template))
                try:
                    built = build(engine, directory)
                except BaseException:
                    engine.dispose()
                    _drop(admin, template)
                    raise
                engine.dispose()
                meta.write_text(json.dumps({"template": template, "built": built}))
            found = json.loads(meta.read_text())
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{found["template"]}"')
        engine = make_engine(url.set(database=name), **engine_options)
        try:
            yield engine, found["built"]
        finally:
            engine.dispose()
    finally:
        _drop(admin, name)
        admin.dispose()


def shared_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
    key: str,
    build: Callable[[Engine, Path], Any],
    into: Path,
) -> Any:
    """A copy at ``into`` of the run's SQLite database ``key`` (filled by the run's first
    caller with ``build(engine, directory)``), and what ``build`` returned (JSON
    round-tripped)."""
    with run_lock(tmp_path_factory, f"sqlite-{key}") as directory:
        built_db, meta = directory / "book.db", directory / "built.json"
        if not meta.exists():
            engine = make_engine(f"sqlite:///{built_db}")
            try:
                built = build(engine, directory)
                with engine.connect() as conn:
                    # the whole database in the one file (a checkpoint cannot run inside a
                    # write transaction)
                    read_only(conn).exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                engine.dispose()
            meta.write_text(json.dumps({"built": built}))
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built_db, into)
        return json.loads(meta.read_text())["built"]


def _migrate(engine: Engine, _directory: Path) -> None:
    migrate.upgrade(engine)


def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, into: Path) -> None:
    """A migrated, empty SQLite database at ``into`` (a copy of the run's)."""
    shared_sqlite(tmp_path_factory, "migrated", _migrate, into)


@contextmanager
def migrated_pg(
    tmp_path_factory: pytest.TempPathFactory, prefix: str, **engine_options: Any
) -> Iterator[Engine]:
    """An engine on a migrated, empty PostgreSQL database of its own named
    ``prefix_<pid>_<random>`` (a copy of the run's), dropped afterwards."""
    with shared_pg(tmp_path_factory, "migrated", _migrate, prefix, **engine_options) as made:
        yield made[0]


def drop_run_templates(run_dir: Path) -> None:
    """Drop the template databases this run made (at its end, from the main process)."""
    listed = run_dir / TEMPLATES
    if not listed.exists():
        return
    names = [n for n in listed.read_text().split() if n]
    if not names:
        return
    admin = make_engine(normalise_url(pg_url()), isolation_level="AUTOCOMMIT")
    try:
        for name in names:
            _drop(admin, name)
        listed.unlink()
    finally:
        admin.dispose()
