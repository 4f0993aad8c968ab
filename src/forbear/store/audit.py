"""The audit trail: an append-only, hash-chained log of who did what (DESIGN.md "Persistence").

Each :class:`AuditEvent` carries ``seq`` (1, 2, 3, ... without gaps), the hash of the event
before it (``prev_hash``; the first event links to :data:`GENESIS_HASH`) and its own
``hash``: the sha256 of ``prev_hash`` and its canonical fields (see :func:`event_hash`).
Editing, deleting or inserting a row therefore breaks the chain, and :func:`verify` says
where and how. The database refuses ``UPDATE`` and ``DELETE`` on ``audit_events`` with a
trigger (migration 0003); the chain catches whoever disables the trigger first.

**No personal data in the audit trail.** Subjects are named by type and id
(``subject_type="loan", subject_id="L-001"``) and payloads hold ids, codes, counts and
rule ids only: never a name, ID number, phone, e-mail, address or message text. The trail
is kept for years and read by auditors; it must not become a second copy of the PII that
the rest of the store keeps encrypted.

The chain has no secret key: someone with write access who recomputes every later hash
can rewrite history undetectably. Recording the head hash elsewhere (``forbear audit
verify`` prints it) turns that into a detectable event too.

API (every function works inside the caller's transaction; nothing commits here):

- :func:`record` appends one event and returns its ``seq``. Writers are serialised: on
  PostgreSQL by a transaction-scoped advisory lock taken before the head is read (under
  READ COMMITTED the head is then current; under REPEATABLE READ a racing writer makes
  the insert fail on the unique ``seq``, never fork the chain); on SQLite by taking the
  write lock first.
- :func:`record_many` appends a batch as one piece of the chain, with one bulk insert.
- :func:`deferred` holds a transaction's events back and appends them at its end: a long
  job (the daily run, an import, a purge) then holds the chain's lock only for that
  final insert and its commit, instead of from its first event on, so audited web writes
  never wait for a long job.
- :func:`verify` walks the chain and returns a :class:`VerifyResult`.
- :func:`events` lists recent events, newest first, optionally filtered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime, utcnow
from forbear.store.outreach import insert_rows

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event."""

# Key of the transaction-scoped PostgreSQL advisory lock that serialises appends
# (an arbitrary constant: the first 8 bytes of sha256("forbear.audit") as a signed int).
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"forbear.audit").digest()[:8], signed=True)

ProblemKind = Literal["edited", "deleted", "inserted"]


class AuditEvent(Base):
    """One audited action. Rows are never updated or deleted (database triggers refuse)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_action", "action"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


_T = cast(Table, AuditEvent.__table__)


@dataclass(frozen=True)
class Entry:
    """One event to append with :func:`record_many`."""

    action: str
    actor: str
    subject_type: str
    subject_id: str | int
    payload: Mapping[str, Any] | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Problem:
    """One break in the chain: ``seq`` is where it shows, ``kind`` what it looks like."""

    seq: int
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    head_hash: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken_seq(self) -> int | None:
        return self.problems[0].seq if self.problems else None


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]


def canonical_json(payload: Mapping[str, Any] | None) -> str:
    return json.dumps(
        dict(payload or {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def _stamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime given for an audit event")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    payload: str,
) -> str:
    """sha256 hex of the previous hash and the event's canonical fields.

    ``seq`` is deliberately not hashed: order is fixed by the ``prev_hash`` links, and
    leaving it out lets :func:`verify` tell an inserted or deleted row (a broken link)
    from an edited one (a hash that no longer matches its row).
    """
    fields = [prev_hash, _stamp(at), actor, action, subject_type, subject_id, payload]
    data = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _lock_and_head(conn: Connection) -> tuple[int, str]:
    """Serialise appenders and return the last ``(seq, hash)`` (``(0, GENESIS_HASH)``)."""
    if conn.dialect.name == "postgresql":
        # Held until the caller's transaction ends, so the next writer reads our row.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # Take SQLite's write lock before reading the head (a no-op write does), so a
        # second writer waits here (busy_timeout) instead of forking the chain.
        conn.exec_driver_sql("UPDATE audit_events SET seq = seq WHERE 0")
    row = conn.execute(select(_T.c.seq, _T.c.hash).order_by(_T.c.seq.desc()).limit(1)).one_or_none()
    return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))


def _rows(conn: Connection, entries: Iterable[Entry]) -> list[dict[str, Any]]:
    seq, prev = _lock_and_head(conn)
    rows: list[dict[str, Any]] = []
    default_at = utcnow()
    for entry in entries:
        at = entry.at or default_at
        if at.tzinfo is None:  # astimezone() would silently take it as local time
            raise ValueError("naive datetime given for an audit event")
        at = at.astimezone(UTC)
        subject_id = str(entry.subject_id)
        payload = canonical_json(entry.payload)
        digest = event_hash(
            prev,
            at=at,
            actor=entry.actor,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=subject_id,
            payload=payload,
        )
        seq += 1
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": entry.actor,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "subject_id": subject_id,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


_PENDING = "forbear.audit.pending"


@contextmanager
def deferred(conn: Connection) -> Iterator[None]:
    """Within the block, :func:`record` and :func:`record_many` on ``conn`` keep their
    events (with the time they were recorded) and return 0 for their ``seq``; leaving
    the block normally appends them all, in order, as one piece of the chain. On an
    error nothing is appended (the caller's transaction rolls back anyway). Nested blocks
    join the outer one."""
    if _PENDING in conn.info:
        yield
        return
    pending: list[Entry] = []
    conn.info[_PENDING] = pending
    try:
        yield
    finally:
        conn.info.pop(_PENDING, None)
    if pending:
        record_many(conn, pending)


def _held(conn: Connection, entries: Iterable[Entry]) -> bool:
    pending: list[Entry] | None = conn.info.get(_PENDING)
    if pending is None:
        return False
    now = utcnow()
    pending.extend(e if e.at is not None else replace(e, at=now) for e in entries)
    return True


def record(
    conn: Connection,
    *,
    action: str,
    actor: str,
    subject_type: str,
    subject_id: str | int,
    payload: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append one event in the caller's transaction and return its ``seq``.

    ``payload`` must hold no personal data (ids only; see the module docstring).
    """
    entry = Entry(action, actor, subject_type, subject_id, payload, at)
    if _held(conn, [entry]):
        return 0
    (row,) = _rows(conn, [entry])
    conn.execute(insert(_T), [row])
    return int(row["seq"])


def record_many(conn: Connection, entries: Iterable[Entry]) -> list[int]:
    """Append a batch as one consecutive piece of the chain; returns the new ``seq``s."""
    entries = list(entries)
    if _held(conn, entries):
        return [0] * len(entries)
    rows = _rows(conn, entries)
    if rows:
        # the rows as chained above, in one statement of one array per column on
        # PostgreSQL (the same text for every batch size); an executemany elsewhere
        insert_rows(conn, _T, rows)
    return [int(r["seq"]) for r in rows]


def verify(conn: Connection, *, batch_size: int = 5000) -> VerifyResult:
    """Walk the whole chain in ``seq`` order and report every break.

    - **edited**: a row's stored hash is not the hash of its fields.
    - **deleted**: ``seq`` skips numbers, or a row links to a hash that no row has (an
      event was removed and the later ones renumbered).
    - **inserted**: ``seq`` repeats, or a row links past the row before it (that row was
      slipped in between two events that were chained to each other).
    """
    problems: list[Problem] = []
    checked = 0
    expected_seq = 1
    prev_hash = GENESIS_HASH
    before_prev: tuple[int, str] | None = None  # (seq, prev_hash) of the previous row
    query = select(_T).order_by(_T.c.seq, _T.c.id)
    # statement-level: Connection.execution_options would change the connection in place,
    # turning every later statement of the transaction into a server-side cursor
    result = conn.execute(query.execution_options(yield_per=batch_size))
    for row in result:
        checked += 1
        seq = int(row.seq)
        linked = True
        if seq < expected_seq:
            problems.append(Problem(seq, "inserted", "seq repeats or is out of order"))
            linked = False
        elif seq > expected_seq:
            # Reported where the first missing event was, like a renumbered deletion.
            missing = (
                f"seq {expected_seq}"
                if seq == expected_seq + 1
                else f"seqs {expected_seq}..{seq - 1}"
            )
            problems.append(
                Problem(expected_seq, "deleted", f"{missing} missing (next is seq {seq})")
            )
            linked = False
        if linked and row.prev_hash != prev_hash:
            if before_prev is not None and row.prev_hash == before_prev[1]:
                problems.append(
                    Problem(
                        before_prev[0],
                        "inserted",
                        f"event {seq} links past it to the event before",
                    )
                )
            else:
                problems.append(
                    Problem(seq, "deleted", "does not link to the event before it: one is missing")
                )
        recomputed = event_hash(
            row.prev_hash,
            at=row.at,
            actor=row.actor,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            payload=row.payload,
        )
        if recomputed != row.hash:
            problems.append(Problem(seq, "edited", "hash does not match the stored fields"))
        before_prev = (seq, row.prev_hash)
        prev_hash = row.hash
        expected_seq = max(expected_seq, seq + 1)
    problems.sort(key=lambda p: p.seq)
    return VerifyResult(checked=checked, head_hash=prev_hash, problems=problems)


def events(
    conn: Connection,
    *,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    limit: int = 100,
) -> list[EventView]:
    """The newest ``limit`` events matching the filters, newest first."""
    query = select(_T).order_by(_T.c.seq.desc()).limit(limit)
    if action is not None:
        query = query.where(_T.c.action == action)
    if subject_type is not None:
        query = query.where(_T.c.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(_T.c.subject_id == str(subject_id))
    return [
        EventView(
            seq=int(r.seq),
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject_type=r.subject_type,
            subject_id=r.subject_id,
            payload=json.loads(r.payload),
        )
        for r in conn.execute(query)
    ]


__all__: Sequence[str] = (
    "GENESIS_HASH",
    "AuditEvent",
    "Entry",
    "EventView",
    "Problem",
    "VerifyResult",
    "canonical_json",
    "event_hash",
    "events",
    "record",
    "record_many",
    "verify",
)
