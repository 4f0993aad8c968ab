"""Many rows inserted in one statement (``store.outreach.insert_rows``: one array per
column on PostgreSQL), as the dispatcher's contact attempts and audit events are, on
SQLite and PostgreSQL: every value as given (nulls, bytes, dates, Chinese text), the ids
in the order of the rows, and the audit chain a batch appends the same as one appended
event by event."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Connection, Table, func, select, text

from forbear.store import audit
from forbear.store.outreach import insert_rows
from forbear.store.runs import OutboxMessage

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


_T = cast(Table, OutboxMessage.__table__)


def _row(i: int, run: str) -> dict[str, object]:
    """An outbox row whose columns vary row by row: dates, texts, bytes, nulls, booleans'
    stand-ins, time stamps."""
    return {
        "as_of": date(2026, 12, 7) - timedelta(days=i % 3),
        "loan_id": 100 + i,
        "contact_point_id": None if i % 7 == 3 else 300 + i,
        "borrower_id": 200 + i // 2,
        "action_index": i,
        "channel": "sms" if i % 3 else "email",
        "template": None if i % 4 == 1 else f"CN.M{i % 3}.REMIND",
        "dedupe_key": f"ins-{run}-{i}",
        "status": "queued",
        "created_at": NOW,
        "origin": "run",
        "due_at": NOW + timedelta(seconds=i),
        "next_attempt_at": NOW + timedelta(microseconds=i),
        "tries": i % 5,
        "reason_rules": json.dumps(["中文", f"R{i}"], ensure_ascii=False),
        "body_enc": None if i % 2 else bytes([i % 256, 0, 255]) * (i + 1),
        "last_error": None,
    }


@pytest.mark.parametrize("n", [1, 2, 37])
def test_each_row_is_stored_as_given_and_the_ids_follow_the_rows(
    connection: Connection, n: int
) -> None:
    rows = [_row(i, f"a{n}") for i in range(n)]
    ids = insert_rows(connection, _T, rows, returning_ids=True)
    assert len(ids) == n == len(set(ids))
    stored = {int(r.id): r._mapping for r in connection.execute(select(_T).where(_T.c.id.in_(ids)))}
    for outbox_id, row in zip(ids, rows, strict=True):
        got = stored[outbox_id]
        for column, value in row.items():
            assert got[column] == value, (column, got[column], value)


def test_without_returning_nothing_is_returned_and_the_rows_are_there(
    connection: Connection,
) -> None:
    count = select(func.count()).select_from(_T).where(_T.c.dedupe_key.like("ins-b-%"))
    assert insert_rows(connection, _T, [_row(i, "b") for i in range(5)]) == []
    assert connection.execute(count).scalar_one() == 5
    assert insert_rows(connection, _T, []) == []


def _entries(n: int, offset: int = 0) -> list[audit.Entry]:
    return [
        audit.Entry(
            "outbox.sent",
            "system:dispatcher:w1",
            "outbox",
            str(offset + i),
            {"outbox_id": offset + i, "channel": "sms", "rules": ["CN.HOURS"], "中文": "提醒"},
            NOW + timedelta(microseconds=i),
        )
        for i in range(n)
    ]


def test_a_batch_of_audit_events_is_chained_as_one_by_one(connection: Connection) -> None:
    start = int(
        connection.execute(text("SELECT COALESCE(MAX(seq), 0) FROM audit_events")).scalar_one()
    )
    seqs = audit.record_many(connection, _entries(50))
    assert seqs == list(range(start + 1, start + 51))
    prev = (
        audit.GENESIS_HASH
        if start == 0
        else connection.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": start}
        ).scalar_one()
    )
    rows = connection.execute(
        text(
            "SELECT seq, at, actor, action, subject_type, subject_id, payload, prev_hash, hash "
            "FROM audit_events WHERE seq > :s ORDER BY seq"
        ),
        {"s": start},
    ).all()
    assert [int(r.seq) for r in rows] == seqs
    for entry, row in zip(_entries(50), rows, strict=True):
        payload = audit.canonical_json(entry.payload)
        assert row.payload == payload and row.subject_id == entry.subject_id
        assert row.prev_hash == prev
        assert row.hash == audit.event_hash(
            prev,
            at=entry.at or NOW,
            actor=entry.actor,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=str(entry.subject_id),
            payload=payload,
        )
        prev = row.hash
    # and the next single event links on to the batch
    audit.record(connection, action="x.y", actor="a", subject_type="t", subject_id="1", at=NOW)
    assert audit.verify(connection).ok
