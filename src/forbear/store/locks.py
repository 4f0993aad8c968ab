"""Serialise a check-then-write on what the rule is about (DESIGN.md "Concurrency").

A use case that checks a rule and then writes (a contact attempt against the daily caps,
one open promise or plan per loan, sign-in counters, one-time codes) calls one of these
inside its transaction *before* it reads what the rule counts:

- on PostgreSQL, a transaction-scoped advisory lock on ``(namespace, key)``: a second
  transaction asking for the same key waits until the first commits or rolls back, and
  then reads the first one's rows (READ COMMITTED takes a new snapshot per statement);
  other keys never wait;
- on SQLite, the database-wide write lock (the engine begins write transactions with
  ``BEGIN IMMEDIATE``, :mod:`forbear.store.db`; a no-op write takes the lock on a
  connection that began deferred), so everything that follows is serialised.

Locks are released by the transaction's end: nothing here commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from sqlalchemy import Connection, text


class LockSpace(StrEnum):
    """What a lock is about; each has its own advisory-lock namespace."""

    DEBTOR = "debtor"  # contact caps: CN.FREQ.* count per debtor across parties
    LOAN = "loan"  # one open promise / plan per loan, outcomes on a loan's attempts
    ACCOUNT = "account"  # sign-in counters of one staff account
    PHONE = "phone"  # one-time codes of one phone
    USER = "user"  # per-user throttles (unmasking)
    KEY = "key"  # any other text key (hashed)


def _namespace(space: LockSpace) -> int:
    # int4 for pg_advisory_xact_lock(int4, int4): the first 4 bytes of a sha256, signed.
    digest = hashlib.sha256(b"forbear.lock\x00" + space.value.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _int4(key: int | str) -> int:
    """An int4 for any key: small non-negative ints as they are, the rest hashed."""
    if isinstance(key, int) and 0 <= key < 2**31:
        return key
    digest = hashlib.sha256(str(key).encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def lock(conn: Connection, space: LockSpace, key: int | str) -> None:
    """Hold ``space``/``key`` until the caller's transaction ends (see the module
    docstring). Two different keys may share an int4 after hashing: they then wait for
    each other, which is safe (only slower)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": _namespace(space), "key": _int4(key)},
        )
    elif dialect == "sqlite":
        take_write_lock(conn)


def lock_many(conn: Connection, space: LockSpace, keys: Iterable[int | str]) -> None:
    """:func:`lock` of every key of ``keys`` in one statement, taken in ascending order of
    their int4 (for ids: ascending ids, the order in which callers that take several
    locks one by one take them, so two never wait for each other in a circle)."""
    ints = sorted({_int4(k) for k in keys})
    if not ints:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(:space, k)) "
                "FROM unnest(CAST(:keys AS integer[])) AS t(k)"
            ),
            {"space": _namespace(space), "keys": ints},
        )
    elif dialect == "sqlite":
        take_write_lock(conn)


def take_write_lock(conn: Connection) -> None:
    """SQLite: make sure this transaction holds the write lock (a no-op write takes it;
    with ``BEGIN IMMEDIATE`` it already does). No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num WHERE 0")


def lock_states_of(conn: Connection, as_of: date) -> None:
    """Hold the stored account states of ``as_of`` until the transaction ends: whoever
    replaces them (the daily run's store, ``forbear states``, a page computing a missing
    snapshot) takes it first, so two writers of one date store one after the other, the
    second replacing what the first committed, instead of one failing on the primary key."""
    lock(conn, LockSpace.KEY, f"daily-run-states:{as_of.isoformat()}")


def lock_debtor(conn: Connection, borrower_id: int) -> None:
    lock(conn, LockSpace.DEBTOR, borrower_id)


def lock_loan(conn: Connection, loan_id: int) -> None:
    lock(conn, LockSpace.LOAN, loan_id)
