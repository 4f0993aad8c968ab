"""The dispatcher's set-wise statements, on SQLite and PostgreSQL: many outbox rows updated
in one statement (each row its own values), id lists as one array, many debtor locks at
once, and the choice of the ledger's path for a batch's situation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text

from forbear.domain.ledger import SMALL_BOOK, takes_scalar_path
from forbear.store.locks import LockSpace, lock_many
from forbear.store.outreach import in_ints, update_rows
from forbear.store.runs import OutboxMessage

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
_T = cast(Table, OutboxMessage.__table__)


def _queue(conn: Connection, n: int) -> list[int]:
    rows = [
        {
            "as_of": date(2026, 12, 7),
            "loan_id": 100 + i,
            "borrower_id": 200 + i,
            "action_index": i,
            "channel": "sms",
            "template": "CN.M1.REMIND.SMS",
            "dedupe_key": f"stmt-{i}",
            "status": "sending",
            "created_at": NOW,
            "origin": "run",
            "due_at": NOW,
            "next_attempt_at": NOW,
            "tries": 0,
            "reason_rules": "[]",
            "claimed_by": "w1",
        }
        for i in range(n)
    ]
    conn.execute(insert(OutboxMessage), rows)
    return [
        int(i)
        for i in conn.execute(
            select(_T.c.id).where(_T.c.dedupe_key.like("stmt-%")).order_by(_T.c.id)
        ).scalars()
    ]


def test_update_rows_gives_each_row_its_own_values_and_leaves_the_others(
    connection: Connection,
) -> None:
    ids = _queue(connection, 4)
    later = NOW + timedelta(minutes=5)
    rows = [
        {"oid": ids[0], "attempt": 7, "point": None, "body": b"\x00sealed\xff", "ref": "r0"},
        {"oid": ids[1], "attempt": None, "point": None, "body": None, "ref": None},
        {"oid": ids[2], "attempt": 9, "point": None, "body": b"", "ref": "r2"},
    ]
    update_rows(
        connection,
        _T,
        rows,
        {
            "contact_attempt_id": bindparam("attempt"),
            "contact_point_id": bindparam("point"),  # null in every row
            "body_enc": bindparam("body"),
            "provider_ref": bindparam("ref"),
            "status": "sent",
            "lease_until": later,
            "last_error": None,
        },
    )
    got = {
        r.id: r
        for r in connection.execute(
            select(
                _T.c.id,
                _T.c.contact_attempt_id,
                _T.c.contact_point_id,
                _T.c.body_enc,
                _T.c.provider_ref,
                _T.c.status,
                _T.c.lease_until,
            ).where(_T.c.id.in_(ids))
        )
    }
    assert [got[i].contact_attempt_id for i in ids] == [7, None, 9, None]
    assert [got[i].body_enc for i in ids] == [b"\x00sealed\xff", None, b"", None]
    assert [got[i].provider_ref for i in ids] == ["r0", None, "r2", None]
    assert [got[i].status for i in ids] == ["sent", "sent", "sent", "sending"]
    assert all(got[i].contact_point_id is None for i in ids)
    assert [got[i].lease_until for i in ids[:3]] == [later] * 3
    assert got[ids[3]].lease_until is None
    update_rows(connection, _T, [], {"status": "dead"})  # nothing: no statement
    assert connection.execute(select(_T.c.status).where(_T.c.id == ids[3])).scalar() == "sending"


def test_in_ints_selects_exactly_the_ids_given(connection: Connection) -> None:
    ids = _queue(connection, 5)
    wanted = [ids[4], ids[1], ids[1]]

    def chosen(values: list[int]) -> list[int]:
        stmt = select(_T.c.id).where(in_ints(connection, _T.c.id, values)).order_by(_T.c.id)
        return [int(i) for i in connection.execute(stmt).scalars()]

    assert chosen(wanted) == sorted({ids[1], ids[4]})
    assert chosen([]) == []
    assert chosen([max(ids) + 1000]) == []


def test_lock_many_takes_every_debtor_lock_in_one_go(connection: Connection) -> None:
    lock_many(connection, LockSpace.DEBTOR, [5, 3, 9, 3])
    lock_many(connection, LockSpace.DEBTOR, [])
    if connection.dialect.name == "postgresql":
        held = connection.execute(
            text(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() ORDER BY objid"
            )
        ).scalars()
        assert [int(k) for k in held] == [3, 5, 9]


def test_only_a_tiny_batch_takes_the_ledgers_scalar_path() -> None:
    assert takes_scalar_path(SMALL_BOOK)  # one borrower's few loans
    assert not takes_scalar_path(SMALL_BOOK + 1)  # a batch: the compiled walk
    assert not takes_scalar_path(SMALL_BOOK, small=0)  # small=0: always the compiled walk
