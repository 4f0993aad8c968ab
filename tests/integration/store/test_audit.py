"""The audit trail: append-only, hash-chained, and every kind of tampering is caught.

Tampering tests first switch the append-only triggers off inside the test's transaction,
as a database superuser could, and then show that ``verify`` still finds the change.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import DBAPIError

from forbear.store import audit
from forbear.store.audit import GENESIS_HASH, Entry, event_hash
from forbear.store.models import UTCDateTime

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def head(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM audit_events")).scalar_one())


def append(conn: Connection, n: int) -> list[int]:
    return [
        audit.record(
            conn,
            action="contact.attempt",
            actor="agent7",
            subject_type="loan",
            subject_id=f"L-{i}",
            payload={"attempt_id": i, "channel": "sms", "rule": "CN.HOURS"},
            at=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def disable_triggers(conn: Connection) -> None:
    """What a superuser could do; rolled back with the test's transaction on both backends."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")


def shift(conn: Connection, from_seq: int, by: int) -> None:
    """Renumber ``seq >= from_seq`` by ``by`` (in two steps: ``seq`` is unique)."""
    conn.execute(
        text("UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= :s"), {"s": from_seq}
    )
    conn.execute(
        text("UPDATE audit_events SET seq = seq - 1000000 + :by WHERE seq >= 1000000"),
        {"by": by},
    )


def row_hash(conn: Connection, seq: int) -> str:
    return str(
        conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one()
    )


def test_each_event_links_to_the_one_before_and_seq_has_no_gaps(connection: Connection) -> None:
    base = head(connection)
    seqs = append(connection, 3)
    seqs += audit.record_many(
        connection,
        [Entry("import.loans", "cli", "import_batch", 9, {"rows": 120}, T0) for _ in range(3)],
    )
    assert seqs == list(range(base + 1, base + 7))
    rows = connection.execute(
        text("SELECT seq, prev_hash, hash FROM audit_events WHERE seq > :b ORDER BY seq"),
        {"b": base},
    ).all()
    previous = row_hash(connection, base) if base else GENESIS_HASH
    for row in rows:
        assert row.prev_hash == previous
        previous = row.hash
    result = audit.verify(connection)
    assert result.ok and result.first_broken_seq is None
    assert result.checked == base + 6
    assert result.head_hash == previous


def test_payloads_are_stored_as_canonical_json(connection: Connection) -> None:
    seq = audit.record(
        connection,
        action="config.change",
        actor="admin",
        subject_type="setting",
        subject_id="quiet_hours",
        payload={"b": "晚上", "a": [1, 2]},
        at=T0,
    )
    stored = connection.execute(
        text("SELECT payload FROM audit_events WHERE seq = :s"), {"s": seq}
    ).scalar_one()
    assert stored == '{"a":[1,2],"b":"晚上"}'
    (event,) = audit.events(connection, action="config.change", subject_id="quiet_hours")
    assert (event.seq, event.actor, event.payload, event.at) == (
        seq,
        "admin",
        {"a": [1, 2], "b": "晚上"},
        T0,
    )


def test_events_filters_and_lists_newest_first(connection: Connection) -> None:
    append(connection, 3)
    audit.record(
        connection, action="pii.unmask", actor="sup1", subject_type="borrower", subject_id=5
    )
    listed = audit.events(connection, action="contact.attempt", limit=2)
    assert [e.subject_id for e in listed] == ["L-2", "L-1"]
    assert [e.action for e in audit.events(connection, subject_type="borrower", subject_id=5)] == [
        "pii.unmask"
    ]


def test_a_naive_timestamp_is_refused(connection: Connection) -> None:
    with pytest.raises(ValueError, match="naive"):
        audit.record(
            connection,
            action="x",
            actor="cli",
            subject_type="t",
            subject_id=1,
            at=datetime(2026, 1, 1),
        )


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET payload = '{}'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_updates_and_deletes(connection: Connection, statement: str) -> None:
    append(connection, 2)
    with pytest.raises(DBAPIError, match="append-only"), connection.begin_nested():
        connection.exec_driver_sql(statement)
    assert audit.verify(connection).ok


def test_an_edited_payload_is_found(connection: Connection) -> None:
    base = head(connection)
    append(connection, 5)
    disable_triggers(connection)
    connection.execute(
        text("UPDATE audit_events SET payload = :p WHERE seq = :s"),
        {"p": '{"attempt_id":2,"channel":"visit"}', "s": base + 3},
    )
    result = audit.verify(connection)
    assert not result.ok
    assert [(p.seq, p.kind) for p in result.problems] == [(base + 3, "edited")]
    assert result.first_broken_seq == base + 3


def test_a_deleted_middle_event_is_found(connection: Connection) -> None:
    base = head(connection)
    append(connection, 5)
    disable_triggers(connection)
    connection.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": base + 3})
    result = audit.verify(connection)
    assert [(p.seq, p.kind) for p in result.problems] == [(base + 3, "deleted")]
    assert f"seq {base + 3} missing" in str(result.problems[0])


def test_a_deletion_hidden_by_renumbering_is_still_found(connection: Connection) -> None:
    base = head(connection)
    append(connection, 5)
    disable_triggers(connection)
    connection.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": base + 3})
    shift(connection, base + 4, -1)
    result = audit.verify(connection)
    assert [(p.seq, p.kind) for p in result.problems] == [(base + 3, "deleted")]


def test_a_forged_event_inserted_in_the_middle_is_found(connection: Connection) -> None:
    base = head(connection)
    append(connection, 5)
    disable_triggers(connection)
    # The forger knows the algorithm: the forged row links correctly to its predecessor
    # and carries a correct hash of its own. Only the link of the next event betrays it.
    shift(connection, base + 3, +1)
    prev = row_hash(connection, base + 2)
    fields = {
        "at": T0 + timedelta(minutes=2, seconds=30),
        "actor": "agent7",
        "action": "contact.attempt",
        "subject_type": "loan",
        "subject_id": "L-99",
        "payload": '{"attempt_id":99}',
    }
    connection.execute(
        text(
            "INSERT INTO audit_events (seq, at, actor, action, subject_type, subject_id, "
            "payload, prev_hash, hash) VALUES (:seq, :at, :actor, :action, :subject_type, "
            ":subject_id, :payload, :prev_hash, :hash)"
        ).bindparams(bindparam("at", type_=UTCDateTime())),
        {
            "seq": base + 3,
            "prev_hash": prev,
            "hash": event_hash(prev, **fields),  # type: ignore[arg-type]
            **fields,
        },
    )
    result = audit.verify(connection)
    assert [(p.seq, p.kind) for p in result.problems] == [(base + 3, "inserted")]
    assert result.checked == base + 6


def _purge(engine: Engine, from_seq: int) -> None:
    """Remove committed test events, as an administrator would, and restore the guard."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": from_seq})
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")
        else:
            ddl = (
                conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'audit_events'"
                )
                .scalars()
                .all()
            )
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
            conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": from_seq})
            for statement in ddl:
                conn.exec_driver_sql(statement)


def test_concurrent_writers_keep_seq_unique_and_gapless(engine: Engine) -> None:
    with engine.connect() as conn:
        base = head(conn)
    writers, per_writer = 4, 10
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with engine.begin() as conn:
                    audit.record(
                        conn,
                        action="contact.attempt",
                        actor=f"writer{n}",
                        subject_type="loan",
                        subject_id=i,
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        with engine.connect() as conn:
            seqs = (
                conn.execute(
                    text("SELECT seq FROM audit_events WHERE seq > :b ORDER BY seq"), {"b": base}
                )
                .scalars()
                .all()
            )
            assert seqs == list(range(base + 1, base + 1 + writers * per_writer))
            assert audit.verify(conn).ok
    finally:
        _purge(engine, base)


def test_deferred_events_are_appended_in_order_at_the_end(connection: Connection) -> None:
    before = head(connection)
    with audit.deferred(connection):
        assert append(connection, 3) == [0, 0, 0]
        assert head(connection) == before  # nothing yet: the chain's lock is not taken
        with audit.deferred(connection):  # a nested block joins the outer one
            audit.record_many(connection, [Entry("run.complete", "system", "run", 1)])
        assert head(connection) == before
    assert head(connection) == before + 4
    rows = connection.execute(
        text("SELECT action, subject_id FROM audit_events WHERE seq > :b ORDER BY seq"),
        {"b": before},
    ).all()
    assert [tuple(r) for r in rows] == [
        ("contact.attempt", "L-0"),
        ("contact.attempt", "L-1"),
        ("contact.attempt", "L-2"),
        ("run.complete", "1"),
    ]
    assert audit.verify(connection).ok


def test_deferred_events_of_a_failed_block_are_not_appended(connection: Connection) -> None:
    before = head(connection)
    with pytest.raises(RuntimeError), audit.deferred(connection):
        append(connection, 2)
        raise RuntimeError("the job failed")
    assert head(connection) == before
    append(connection, 1)  # and recording works as usual afterwards
    assert head(connection) == before + 1


def test_a_long_job_with_deferred_audit_does_not_hold_up_other_audited_writes(
    engine: Engine,
) -> None:
    """A long job has audited early and is still working (its transaction open); another
    writer's audited write commits meanwhile. On PostgreSQL, without deferral the job
    would hold the chain's advisory lock and the other writer would wait for its end."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever the audit does")
    with engine.connect() as conn:
        base = head(conn)
    other_done = threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with engine.begin() as conn:
                audit.record(
                    conn, action="contact.attempt", actor="web", subject_type="loan", subject_id=1
                )
            other_done.set()
        except BaseException as exc:
            errors.append(exc)

    try:
        with engine.begin() as job, audit.deferred(job):
            audit.record(job, action="run.start", actor="system", subject_type="run", subject_id=1)
            thread = threading.Thread(target=other_writer)
            thread.start()
            # the job is still open; the other writer must get through before it ends
            assert other_done.wait(timeout=60), "the audited web write waited for the job"
        thread.join()
        assert not errors
        with engine.connect() as conn:
            actions = (
                conn.execute(
                    text("SELECT action FROM audit_events WHERE seq > :b ORDER BY seq"), {"b": base}
                )
                .scalars()
                .all()
            )
            assert actions == ["contact.attempt", "run.start"]
            assert audit.verify(conn).ok
    finally:
        _purge(engine, base)
