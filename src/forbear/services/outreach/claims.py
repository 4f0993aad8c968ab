"""Claiming due outbox rows under a lease, so several dispatchers share the work and a
killed one's messages are taken over.

:func:`claim` moves up to ``limit`` due rows (``queued`` with ``next_attempt_at`` passed,
or ``sending`` whose ``lease_until`` has passed: their dispatcher died) to ``sending``,
with ``claimed_by`` and ``lease_until``, in one statement. On PostgreSQL the rows are
picked ``FOR UPDATE SKIP LOCKED``: two workers claiming at once get disjoint rows, and a
row one of them is updating is skipped, not waited for. A row is only ever handed to the
provider by the worker that holds its lease (:mod:`forbear.services.outreach.dispatch`
updates rows ``WHERE claimed_by = me``), and the provider sees the row's stable
``dedupe_key`` as its idempotency key: a message taken over after a crash in the middle
of a send is accepted once.

SQLite has no row locks: there, only one dispatcher may run against a database file.
:func:`single_dispatcher` (given the engine's dialect and database path) holds an
exclusive lock on ``<database>.dispatcher.lock`` for the dispatcher's life; a second one
is refused with :class:`DispatcherBusy`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from forbear.domain.errors import ConfigurationError, ForbearError, ValidationError
from forbear.store.outreach import in_ints
from forbear.store.runs import OutboxMessage, OutboxStatus

DEFAULT_LEASE = timedelta(minutes=5)
MAX_WORKER_ID = 64


class DispatcherBusy(ForbearError):
    """Another dispatcher already runs against this SQLite database."""

    def __init__(self, lock_path: Path) -> None:
        super().__init__(
            f"another dispatcher is already running on this SQLite database (lock file "
            f"{lock_path.name} is held); on SQLite only one dispatcher may run at a time - "
            "use PostgreSQL to run several"
        )
        self.lock_path = lock_path


@dataclass(frozen=True)
class Claimed:
    """One claimed row (ids and codes only: no personal data)."""

    id: int
    as_of: date
    loan_id: int | None  # None: the assistant's answer to a sender on no file (to_enc)
    borrower_id: int | None
    action_index: int
    channel: str
    template: str | None
    article: str | None
    contact_point_id: int | None
    dedupe_key: str
    origin: str
    actor: str | None
    agency_id: int | None  # an agency agent's message: the gate applies the agency rules
    tries: int
    contact_attempt_id: int | None
    body_enc: bytes | None
    due_at: datetime
    to_enc: bytes | None = None  # a sender on no file: where the answer goes, encrypted

    @property
    def in_flight(self) -> bool:
        """Gated, recorded and rendered by a dispatcher that died before it finished:
        send the stored text again (same idempotency key), do not ask the gate twice."""
        recorded = self.contact_attempt_id is not None or self.origin == "system"
        return recorded and self.body_enc is not None


_O = OutboxMessage
_CLAIMED_COLUMNS = (
    _O.id,
    _O.as_of,
    _O.loan_id,
    _O.borrower_id,
    _O.action_index,
    _O.channel,
    _O.template,
    _O.article,
    _O.contact_point_id,
    _O.dedupe_key,
    _O.origin,
    _O.actor,
    _O.agency_id,
    _O.tries,
    _O.contact_attempt_id,
    _O.body_enc,
    _O.due_at,
    _O.to_enc,
)


def worker_id_ok(worker_id: str) -> str:
    text = worker_id.strip() if isinstance(worker_id, str) else ""
    if not text or len(text) > MAX_WORKER_ID or not text.isprintable():
        raise ValidationError("worker_id", f"1 to {MAX_WORKER_ID} printable characters")
    return text


def _due(now: datetime) -> Any:
    return or_(
        and_(_O.status == OutboxStatus.QUEUED.value, _O.next_attempt_at <= now),
        and_(_O.status == OutboxStatus.SENDING.value, _O.lease_until < now),
    )


def claim(
    conn: Connection,
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta = DEFAULT_LEASE,
    *,
    channels: Collection[str] | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due rows for ``worker_id`` until ``now + lease``, oldest due
    first, of ``channels`` only when given (those with a provider configured and not
    backed up). The caller commits at once (the claim is its own short transaction)."""
    worker = worker_id_ok(worker_id)
    if not 0 < limit <= 10_000:
        raise ValidationError("limit", "between 1 and 10000")
    if lease <= timedelta(0):
        raise ValidationError("lease", "a positive duration")
    if channels is not None and not channels:
        return []
    condition = _due(now)
    if channels is not None:
        condition = and_(condition, _O.channel.in_(sorted(channels)))
    pick = (
        select(_O.id)
        .where(condition)
        .order_by(_O.next_attempt_at, _O.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # SQLite renders no FOR UPDATE: one dispatcher per database (single_dispatcher)
    ids = [int(i) for i in conn.execute(pick).scalars().all()]
    if not ids:
        return []
    rows = conn.execute(
        update(_O)
        .where(in_ints(conn, _O.id, ids), _due(now))
        .values(
            status=OutboxStatus.SENDING.value,
            claimed_by=worker,
            lease_until=now + lease,
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS)
    ).all()
    found = [_claimed(row) for row in rows]
    found.sort(key=lambda c: (c.due_at, c.id))
    return found


def _claimed(row: Any) -> Claimed:
    return Claimed(
        id=int(row.id),
        as_of=row.as_of,
        loan_id=None if row.loan_id is None else int(row.loan_id),
        borrower_id=None if row.borrower_id is None else int(row.borrower_id),
        action_index=int(row.action_index),
        channel=str(row.channel),
        template=row.template,
        article=row.article,
        contact_point_id=None if row.contact_point_id is None else int(row.contact_point_id),
        dedupe_key=str(row.dedupe_key),
        origin=str(row.origin),
        actor=row.actor,
        agency_id=None if row.agency_id is None else int(row.agency_id),
        tries=int(row.tries or 0),
        contact_attempt_id=None if row.contact_attempt_id is None else int(row.contact_attempt_id),
        body_enc=row.body_enc,
        due_at=row.due_at,
        to_enc=row.to_enc,
    )


def release(conn: Connection, worker_id: str, ids: list[int], now: datetime) -> int:
    """Give rows this worker claimed but did not get to back to the queue at once (a
    graceful shutdown); returns how many. Rows already gated and recorded keep their
    attempt and text and are sent by whoever claims them next."""
    if not ids:
        return 0
    result = conn.execute(
        update(_O)
        .where(
            in_ints(conn, _O.id, ids),
            _O.status == OutboxStatus.SENDING.value,
            _O.claimed_by == worker_id,
        )
        .values(status=OutboxStatus.QUEUED.value, lease_until=None, claimed_by=None, updated_at=now)
    )
    return int(result.rowcount or 0)


def extend(conn: Connection, worker_id: str, ids: list[int], until: datetime) -> None:
    """Keep the lease of rows still being worked on."""
    if ids:
        conn.execute(
            update(_O)
            .where(
                in_ints(conn, _O.id, ids),
                _O.status == OutboxStatus.SENDING.value,
                _O.claimed_by == worker_id,
            )
            .values(lease_until=until)
        )


def _lock_path(database: str | None, data_dir: Path) -> Path:
    if database and database != ":memory:":
        return Path(database).resolve().with_name(Path(database).name + ".dispatcher.lock")
    return data_dir / "dispatcher.lock"


@contextmanager
def single_dispatcher(dialect: str, database: str | None, data_dir: Path) -> Iterator[None]:
    """On SQLite, hold the database's dispatcher lock while the block runs, or raise
    :class:`DispatcherBusy` at once. On PostgreSQL nothing is held (rows are claimed with
    ``SKIP LOCKED``; run as many as you like). The lock is the operating system's
    (``flock``): it goes with the process, so a killed dispatcher leaves none behind."""
    if dialect != "sqlite":
        yield
        return
    import fcntl

    path = _lock_path(database, data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot open the dispatcher lock file: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DispatcherBusy(path) from None
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
