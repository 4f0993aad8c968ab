"""The Arrow reader of a read-only snapshot (SQLite), used by :func:`forbear.store.bulk.read_frame`
inside :func:`arrow_snapshot`: the ADBC SQLite driver, in a worker process
(:mod:`forbear.store.arrow_worker`), reading the very snapshot the caller's read-only
transaction sees. Also :func:`_typed`, which casts the values SQLite returns to a frame
contract (shared by both SQLite paths)."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine

from forbear.domain.ledger import schema as contracts
from forbear.store.db import SQLITE_BEGIN_OPTION, SQLITE_BUSY_TIMEOUT_MS


def _typed(raw: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Values as SQLite returns them (ISO text for dates and date-times, 0/1 for booleans,
    integers where a REAL column holds whole numbers, all-null columns of any type) cast
    to the contract."""
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name)
        source = raw.schema[name]
        if source == pl.String and dtype == pl.Date:
            column = column.str.to_date("%Y-%m-%d")
        elif source == pl.String and isinstance(dtype, pl.Datetime):
            column = column.str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f", time_unit="us"
            ).dt.replace_time_zone(dtype.time_zone)
        elif source == pl.Null:
            column = column.cast(dtype)
        columns.append(column.cast(dtype, strict=True))
    return raw.select(columns)


# --- the Arrow reader of a read-only snapshot ---------------------------------------------

_SNAPSHOT = "forbear.bulk.arrow_snapshot"
SNAPSHOT_LOCK_TIMEOUT_S = 60.0
"""How long :func:`arrow_snapshot` waits for SQLite's write lock to line the snapshots up."""


@contextmanager
def arrow_snapshot(conn: Connection) -> Iterator[bool]:
    """Within it, :func:`read_frame` on ``conn`` reads through an Arrow-native reader that
    sees exactly what ``conn`` sees. Yields whether such a reader is in use.

    ``conn`` must be in a read-only transaction (:func:`forbear.store.db.read_only`) that
    has read nothing yet: enter this right after ``begin()``. In a write transaction (it
    must read its own writes) nothing is attached.

    - SQLite (a database file): the ADBC SQLite driver in a worker process
      (:mod:`forbear.store.arrow_worker`, which says why a process) in a deferred
      transaction on the same file. In WAL mode a reading transaction sees the database
      as of its first read, for as long as it lasts; both transactions make their first
      read while a third connection holds the write lock (``BEGIN IMMEDIATE`` for those
      few milliseconds, nothing computed meanwhile), so no commit can fall between them:
      one snapshot. If the lock cannot be had (or the driver is missing, or the database
      is in memory) nothing is attached and reads stay on ``conn``.
    - PostgreSQL, when ``conn``'s transaction is REPEATABLE READ and the ADBC PostgreSQL
      driver is installed: a connection of the driver (binary ``COPY`` into Arrow, in C:
      about half the CPU of ``COPY ... CSV`` parsed by Polars) in a REPEATABLE READ READ
      ONLY transaction on ``conn``'s very snapshot (``pg_export_snapshot()`` /
      ``SET TRANSACTION SNAPSHOT``). Otherwise nothing is attached and ``COPY`` runs on
      ``conn`` itself.
    """
    snapshot: _SqliteSnapshot | _PgSnapshot | None
    if conn.dialect.name == "sqlite":
        snapshot = _open_sqlite_snapshot(conn)
    else:
        snapshot = _open_pg_snapshot(conn)
    if snapshot is None:
        yield False
        return
    conn.info[_SNAPSHOT] = snapshot
    try:
        yield True
    finally:
        conn.info.pop(_SNAPSHOT, None)
        # its reader holds a read transaction only (which blocks no writer): the caller
        # goes on while it ends
        snapshot.close(wait=False)


def _as_sqlite(value: Any) -> Any:
    """A parameter as the sqlite3 module's default adapters would bind it."""
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


class SnapshotReaderFailed(RuntimeError):
    """The snapshot's reader process failed (its message names the error class only)."""


class _SqliteSnapshot:
    def __init__(self, worker: subprocess.Popen[bytes], path: Path | None = None) -> None:
        self._worker = worker
        self._path = path  # the database file, to keep the worker as a spare when done

    def _call(
        self, request: dict[str, Any], payloads: list[bytes] | None = None
    ) -> tuple[bytes, bytes]:
        stdin, stdout = self._worker.stdin, self._worker.stdout
        assert stdin is not None and stdout is not None
        body = json.dumps(request).encode()
        try:
            stdin.write(struct.pack(">I", len(body)) + body)
            for payload in payloads or ():
                stdin.write(payload)
            stdin.flush()
            head = stdout.read(9)
        except OSError as exc:
            raise SnapshotReaderFailed(f"snapshot reader: {type(exc).__name__}") from None
        if len(head) < 9:
            raise SnapshotReaderFailed("snapshot reader ended unexpectedly")
        if head[:1] not in (b"K", b"A", b"E"):
            raise SnapshotReaderFailed("snapshot reader: an answer out of protocol")
        (size,) = struct.unpack(">Q", head[1:])
        payload = stdout.read(size)
        if head[:1] == b"E":
            raise SnapshotReaderFailed(f"snapshot reader: {payload.decode()}")
        return head[:1], payload

    def begin(self) -> None:
        self._call({"op": "begin"})

    def write(self, steps: list[dict[str, Any]]) -> None:
        self._call({"op": "write", "steps": steps})

    def read(self, sql: str, params: list[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
        import pyarrow as pa

        _, payload = self._call(
            {"op": "read", "sql": sql, "params": [_as_sqlite(v) for v in params]}
        )
        table = pa.ipc.open_stream(payload).read_all()
        raw = pl.from_arrow(table, rechunk=False)
        assert isinstance(raw, pl.DataFrame)
        if raw.height == 0:
            return contracts.empty(schema)
        return _typed(raw.rename(dict(zip(raw.columns, schema, strict=True))), schema)

    def close(self, *, wait: bool = True) -> None:
        """End the snapshot. Without ``wait`` the worker rolls back and stays, as the
        spare of its database file for the next snapshot (its start-up, about half a
        second of CPU, is paid once per run), unless a spare is there already; with
        ``wait``, or when that fails, the worker ends: end of input, on which it rolls
        back and exits (without ``wait`` it is waited for by a thread of its own, which
        :func:`close_spare_readers` joins)."""
        worker = self._worker
        if not wait and self._path is not None and self._keep(worker, self._path):
            return
        self._end(worker, wait=wait)

    def _end(self, worker: subprocess.Popen[bytes], *, wait: bool) -> None:
        try:
            if worker.stdin is not None:
                worker.stdin.close()  # end of input: the worker rolls back and ends
        except OSError:  # pragma: no cover - the worker is gone already
            pass
        if not wait:
            ending = threading.Thread(
                target=_reap_ending, args=(worker,), name="snapshot-reader-end", daemon=True
            )
            with _SPARES_LOCK:
                _ENDING.append(ending)
            ending.start()
            return
        _reap(worker)

    def _keep(self, worker: subprocess.Popen[bytes], path: Path) -> bool:
        """Roll the worker back and keep it as a spare of ``path``; False when
        :data:`MAX_SPARES` wait already or the worker does not answer."""
        if _spare_count() >= MAX_SPARES:
            return False
        try:
            self._call({"op": "end"})
        except SnapshotReaderFailed:
            return False
        return _add_spare(path, worker)


def _spare_count() -> int:
    with _SPARES_LOCK:
        return sum(1 for spares in _SPARES.values() for w in spares if w.poll() is None)


def _add_spare(path: Path, worker: subprocess.Popen[bytes]) -> bool:
    with _SPARES_LOCK:
        live = [w for spares in _SPARES.values() for w in spares if w.poll() is None]
        if len(live) >= MAX_SPARES:
            return False
        _SPARES.setdefault(path, []).append(worker)
    return True


class _PgSnapshot:
    """Reads through the ADBC PostgreSQL driver on an imported snapshot."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def read(self, sql: str, params: list[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, tuple(params) if params else None)
            table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
        raw = pl.from_arrow(table, rechunk=False)
        assert isinstance(raw, pl.DataFrame)
        if raw.height == 0:
            return contracts.empty(schema)
        raw = raw.rename(dict(zip(raw.columns, schema, strict=True)))
        columns = []
        for name, dtype in schema.items():
            column = pl.col(name)
            source = raw.schema[name]
            if isinstance(dtype, pl.Datetime) and isinstance(source, pl.Datetime):
                if dtype.time_zone is not None and source.time_zone is not None:
                    column = column.dt.convert_time_zone(dtype.time_zone)
                elif dtype.time_zone is not None:  # a naive column read as UTC
                    column = column.dt.replace_time_zone("UTC").dt.convert_time_zone(
                        dtype.time_zone
                    )
            columns.append(column.cast(dtype, strict=True))
        return raw.select(columns)

    def close(self, *, wait: bool = True) -> None:
        # its read-only transaction is rolled back with it; a server gone has nothing to end
        with contextlib.suppress(Exception):
            self._conn.close()


def _open_pg_snapshot(conn: Connection) -> _PgSnapshot | None:
    """The ADBC reader on ``conn``'s snapshot, or None (no driver; ``conn`` not in a
    REPEATABLE READ transaction; the server refuses the import)."""
    if importlib.util.find_spec("adbc_driver_postgresql") is None:
        return None
    if not conn.in_transaction():
        return None
    level = str(conn.get_isolation_level()).upper()
    if level not in ("REPEATABLE READ", "SERIALIZABLE"):
        return None
    import adbc_driver_postgresql.dbapi as adbc_pg

    snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    url = conn.engine.url.set(drivername="postgresql")
    try:  # a reader that cannot connect leaves the reads to COPY on conn (its error, which
        # may quote the address, is not passed on)
        reader = adbc_pg.connect(url.render_as_string(hide_password=False), autocommit=True)
    except Exception:
        return None
    try:
        cursor = reader.cursor()
        try:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{_snapshot_name(snapshot_id)}'")
        finally:
            cursor.close()
    except Exception:
        reader.close()
        return None
    return _PgSnapshot(reader)


def _snapshot_name(value: object) -> str:
    """A snapshot id as the server gives it (hex digits and dashes), checked before it is
    put into ``SET TRANSACTION SNAPSHOT``, which takes no parameter."""
    text = str(value)
    if not text or any(c not in "0123456789ABCDEFabcdef-" for c in text):
        raise ValueError("unexpected snapshot id")
    return text


def _reap_ending(worker: subprocess.Popen[bytes]) -> None:
    try:
        _reap(worker)
    finally:
        with _SPARES_LOCK:
            if threading.current_thread() in _ENDING:
                _ENDING.remove(threading.current_thread())


def _reap(worker: subprocess.Popen[bytes]) -> None:
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
        worker.kill()
        worker.wait()
    finally:
        if worker.stdout is not None:
            worker.stdout.close()


def _sqlite_file(conn: Connection | Engine) -> Path | None:
    engine = conn if isinstance(conn, Engine) else conn.engine
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    path = Path(database)
    return path if path.is_file() else None


# Worker processes started ahead of the snapshot (or the write) that will use them, by
# database file: a fresh Python takes about a third of a second to import the ADBC driver
# and pyarrow, and a started worker holds no snapshot (nor any lock) until its first read.
# A worker whose snapshot ended is kept here too (rolled back), up to MAX_SPARES in all.
_SPARES: dict[Path, list[subprocess.Popen[bytes]]] = {}
_SPARES_LOCK = threading.Lock()
MAX_SPARES = 2  # the daily run's reader and its writer
# Threads waiting for the worker of a closed snapshot to end.
_ENDING: list[threading.Thread] = []
_WORKER_FILE = Path(__file__).with_name("arrow_worker.py")


def _spawn(path: Path) -> subprocess.Popen[bytes]:
    # the worker's file run as a script (-P: its folder is not put on sys.path, where
    # store/copy.py would hide the standard library's copy), so that it imports the
    # driver and pyarrow only, not the forbear.store package and its models
    # (pyarrow imports NumPy: one BLAS thread, not one per core spinning at its start)
    worker = subprocess.Popen(
        [sys.executable, "-P", str(_WORKER_FILE), str(path), str(SQLITE_BUSY_TIMEOUT_MS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    _widen(worker)
    return worker


PIPE_BYTES = 1 << 20
"""The worker's pipes are widened to this (Linux's default ``pipe-max-size``) from 64 KiB:
a range's 20 MB of instalments then crosses in 20 writes instead of 320, and the thread
reading them, which waits for the interpreter lock after each read while the ranges
before are computed, waits 20 times (the 100,000 book: the worker's waits for its answers
to be read fell from about 1.1 s in all)."""


def _widen(worker: subprocess.Popen[bytes]) -> None:
    """Widen the worker's pipes where the system allows (:data:`PIPE_BYTES`)."""
    try:
        import fcntl

        setsize = fcntl.F_SETPIPE_SZ  # Linux only
    except (ImportError, AttributeError):
        return
    for pipe in (worker.stdin, worker.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):  # above the system's limit: left as it is
                fcntl.fcntl(pipe.fileno(), setsize, PIPE_BYTES)


def prewarm_snapshot_reader(db: Engine, workers: int = 1) -> None:
    """Start workers now, up to ``workers`` waiting for ``db`` (the next
    :func:`arrow_snapshot`, or a :class:`StagingWriter`), so that they have loaded the
    driver by the time they are used (nothing on PostgreSQL, in-memory SQLite, or without
    the driver). :func:`close_spare_readers` ends those left unused."""
    path = _sqlite_file(db)
    if path is None or importlib.util.find_spec("adbc_driver_sqlite") is None:
        return
    with _SPARES_LOCK:
        spares = [w for w in _SPARES.get(path, []) if w.poll() is None]
        while len(spares) < min(workers, MAX_SPARES):
            spares.append(_spawn(path))
        _SPARES[path] = spares


def close_spare_readers() -> None:
    """End the workers started by :func:`prewarm_snapshot_reader` or kept after use, and
    wait for those of closed snapshots still ending."""
    with _SPARES_LOCK:
        spares = [w for workers in _SPARES.values() for w in workers]
        _SPARES.clear()
        ending = list(_ENDING)
        _ENDING.clear()
    for worker in spares:
        _SqliteSnapshot(worker).close()
    for thread in ending:
        thread.join()


# workers kept as spares end with the process that started them (they would on their
# own, at end of input; this waits for them)
atexit.register(close_spare_readers)


def _worker_for(path: Path) -> subprocess.Popen[bytes]:
    with _SPARES_LOCK:
        spares = _SPARES.get(path, [])
        while spares:
            spare = spares.pop(0)
            if spare.poll() is None:
                return spare
    return _spawn(path)


def sqlite_worker_available(db: Engine) -> bool:
    """Whether a :class:`StagingWriter` can write to ``db`` (a SQLite file, the driver
    installed)."""
    return (
        _sqlite_file(db) is not None and importlib.util.find_spec("adbc_driver_sqlite") is not None
    )


class StagingWriter:
    """A worker process on ``db``'s SQLite file that stages rows (Arrow streams) in
    temporary tables of its own connection, which takes no lock on the database, and then
    writes them in ONE transaction (:mod:`forbear.store.arrow_worker`, ops ``stage`` and
    ``write``): the daily run's states and scores are staged while the book is computed
    and written after it. :meth:`write` commits (or raises, and nothing is written) and
    releases the worker; :meth:`discard` ends it with whatever it staged."""

    def __init__(self, db: Engine) -> None:
        path = _sqlite_file(db)
        if path is None:
            raise ValueError("a staging writer needs a SQLite database file")
        self._snapshot: _SqliteSnapshot | None = _SqliteSnapshot(_worker_for(path), path)

    def _worker(self) -> _SqliteSnapshot:
        if self._snapshot is None:
            raise SnapshotReaderFailed("staging writer: already written or discarded")
        return self._snapshot

    def stage(self, name: str, payload: bytes) -> None:
        """Append the rows of an Arrow IPC stream to the stage ``name``."""
        try:
            self._worker()._call({"op": "stage", "stage": name, "size": len(payload)}, [payload])
        except BaseException:
            self.discard()
            raise

    def write(self, steps: list[dict[str, Any]]) -> None:
        """Run ``steps`` (statements, and ``{"staged": name, "into": table, "columns":
        [...]}`` inserts of staged rows) in ONE transaction and commit."""
        snapshot = self._worker()
        try:
            snapshot.write(steps)
        except BaseException:
            self.discard()
            raise
        self._snapshot = None
        snapshot.close(wait=False)  # kept as a spare when there is room

    def discard(self) -> None:
        """End the worker: what it staged is gone with its connection."""
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot.close()


def _open_sqlite_snapshot(conn: Connection) -> _SqliteSnapshot | None:
    path = _sqlite_file(conn)
    deferred = conn.get_execution_options().get(SQLITE_BEGIN_OPTION) == "DEFERRED"
    if path is None or not deferred or not conn.in_transaction():
        return None  # a write transaction reads what it wrote, on its own connection
    if importlib.util.find_spec("adbc_driver_sqlite") is None:  # pragma: no cover
        return None
    snapshot = _SqliteSnapshot(_worker_for(path), path)
    lock = sqlite3.connect(path, timeout=SNAPSHOT_LOCK_TIMEOUT_S, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # no commit can happen until the rollback below
        conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
        snapshot.begin()
    except (sqlite3.OperationalError, SnapshotReaderFailed):
        snapshot.close()
        return None
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
    return snapshot
