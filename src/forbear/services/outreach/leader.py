"""One leader among the workers: who schedules the daily run (``forbear worker``).

Several workers may share a database (machines, or a restart overlapping the old process);
only one of them, the leader, starts the daily run, so no two start the same day twice.
(The run itself also refuses two runs of a date at once: ``forbear.store.locks`` and the
one-completed-run-per-date index. The leader lock is about scheduling: the followers
never even try.) The dispatcher is not led: every worker dispatches, sharing the outbox
through its own claims.

- **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
  connection in autocommit mode, held while leading. The server releases it when that
  connection ends, so a worker that dies or loses its connection loses the leadership, and
  :meth:`Leader.holds` notices (it asks the server on that connection).
- **SQLite**: an exclusive lock on a file beside the database file
  (``<database>.leader.lock``), taken without waiting (``flock`` on POSIX, ``msvcrt``
  on Windows). The operating system releases it when the process ends, however it ends.
  Two workers on the same database file always meet on the same lock file.

Never blocking: :meth:`Leader.try_acquire` answers at once, so a follower keeps
dispatching and asks again on its next turn.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("forbear.outreach.leader")

LEADER_NAME = "forbear.worker.daily-run"


def _lock_key(name: str) -> int:
    """A stable signed int8 for ``pg_try_advisory_lock(bigint)``."""
    digest = hashlib.sha256(b"forbear.leader\x00" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leader(Protocol):
    """The leadership of one worker."""

    def try_acquire(self) -> bool:
        """Lead now if no one else does (never waits). True while this worker leads."""
        ...

    def holds(self) -> bool:
        """Whether this worker still leads (a lost connection or file handle: no)."""
        ...

    def release(self) -> None:
        """Stop leading (idempotent)."""
        ...


class AdvisoryLeader:
    """PostgreSQL: ``pg_try_advisory_lock`` held on a connection of its own."""

    def __init__(self, engine: Engine, name: str = LEADER_NAME) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the advisory-lock leader needs PostgreSQL")
        self._engine = engine
        self._key = _lock_key(name)
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self.holds():
            return True
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            won = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
        except Exception:
            conn.close()
            raise
        if not won:
            conn.close()
            return False
        self._conn = conn
        log.info("leading the daily run (advisory lock)")
        return True

    def holds(self) -> bool:
        if self._conn is None:
            return False
        try:
            # the lock lives as long as this session; ask the server about it
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND granted "
                    "AND ((classid::bigint << 32) | objid::bigint) = :k"
                ),
                {"k": self._key},
            ).scalar()
        except Exception:  # the connection is gone, and the lock with it
            log.warning("the leader's connection was lost: no longer leading")
            self._drop()
            return False
        if not held:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):  # a lost connection took the lock with it
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back into the pool with a session lock on it
                conn.close()
            except Exception:  # already broken
                pass


class FileLeader:
    """An exclusive, non-blocking lock on ``path`` (the operating system's file locks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 (held open while leading)
        if not _lock_file(handle):
            handle.close()
            return False
        self._handle = handle
        log.info("leading the daily run (file lock)")
        return True

    def holds(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _unlock_file(handle)
            handle.close()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_file(handle: IO[bytes]) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(handle: IO[bytes]) -> bool:
        # flock: per open file, so two handles in one process exclude each other too
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sqlite_lock_path(engine: Engine, data_dir: Path) -> Path:
    """The lock file of a SQLite database: beside its file, or in ``data_dir`` for an
    in-memory database (which no other process can share anyway)."""
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file::memory:"):
        return Path(os.path.abspath(database)).with_name(Path(database).name + ".leader.lock")
    return data_dir / "forbear.leader.lock"


def leader_for(engine: Engine, data_dir: Path) -> Leader:
    """The leadership that fits ``engine``: advisory lock on PostgreSQL, file lock on
    SQLite (beside the database file)."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeader(engine)
    if engine.dialect.name == "sqlite":
        return FileLeader(sqlite_lock_path(engine, data_dir))
    raise ValueError(f"no leader lock for the {engine.dialect.name} database")
