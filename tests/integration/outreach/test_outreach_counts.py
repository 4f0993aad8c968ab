"""The outbox in figures (``forbear.services.outreach.counts``) on SQLite and PostgreSQL:
each status folded into its column, the range's edges, channel totals, the oldest due
message, the latest completed run, and the metric series (no personal data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, insert

from forbear.services.outreach.counts import (
    DAY_COLUMNS,
    by_channel_per_day,
    channel_totals,
    outbox_figures,
    series,
)
from forbear.store.runs import Decision, OutboxMessage, Run, WorkQueueItem

DAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def _add(conn: Connection, day: date, channel: str, status: str, n: int, **values: object) -> None:
    for i in range(n):
        conn.execute(
            insert(OutboxMessage).values(
                as_of=day,
                loan_id=1,
                borrower_id=1,
                action_index=i,
                channel=channel,
                dedupe_key=f"counts-{day}-{channel}-{status}-{i}",
                status=status,
                created_at=NOW,
                due_at=NOW,
                next_attempt_at=values.get("next_attempt_at", NOW + timedelta(hours=1)),
                sent_at=values.get("sent_at"),
            )
        )


@pytest.fixture
def outbox(connection: Connection) -> Connection:
    # the test's own outbox and runs (all rolled back at its end)
    for table in (OutboxMessage, Decision, WorkQueueItem, Run):
        connection.execute(delete(table))
    return connection


def test_each_status_in_its_column_per_day_and_channel(outbox: Connection) -> None:
    for status, n in (
        ("queued", 2),
        ("sending", 1),
        ("sent", 3),
        ("delivered", 4),
        ("failed", 1),
        ("dead", 2),
        ("cancelled", 5),
    ):
        _add(outbox, DAY, "sms", status, n)
    _add(outbox, DAY, "email", "delivered", 1)
    _add(outbox, DAY - timedelta(days=1), "sms", "sent", 7)  # the day before the range
    _add(outbox, DAY + timedelta(days=1), "sms", "sent", 9)  # after it
    frame = by_channel_per_day(outbox, DAY, DAY)
    assert frame.to_dicts() == [
        {
            "day": DAY,
            "channel": "email",
            "pending": 0,
            "sent": 1,
            "delivered": 1,
            "failed": 0,
            "cancelled": 0,
        },
        {
            "day": DAY,
            "channel": "sms",
            "pending": 3,
            "sent": 7,
            "delivered": 4,
            "failed": 3,
            "cancelled": 5,
        },
    ]
    wider = by_channel_per_day(outbox, DAY - timedelta(days=1), DAY + timedelta(days=1))
    totals = channel_totals(wider).to_dicts()
    assert totals[1] == {
        "channel": "sms",
        "pending": 3,
        "sent": 23,
        "delivered": 4,
        "failed": 3,
        "cancelled": 5,
    }
    assert list(channel_totals(by_channel_per_day(outbox, DAY, DAY).clear()).columns) == [
        "channel",
        *DAY_COLUMNS,
    ]
    with pytest.raises(ValueError, match="before start"):
        by_channel_per_day(outbox, DAY, DAY - timedelta(days=1))


def test_an_empty_outbox_has_figures_of_nothing(outbox: Connection) -> None:
    found = outbox_figures(outbox, NOW, DAY)
    assert found.open_messages == {} and found.today_messages == {}
    assert found.oldest_due_seconds == 0.0 and found.last_sent_at is None
    assert found.last_run_as_of is None and found.last_run_seconds is None
    named = {s.name: s for s in series(found)}
    assert named["forbear_outbox_oldest_due_seconds"].samples == [((), 0.0)]
    assert named["forbear_run_last_completed_duration_seconds"].samples == []  # unknown, not 0
    with pytest.raises(ValueError, match="aware"):
        outbox_figures(outbox, NOW.replace(tzinfo=None), DAY)


def test_the_oldest_due_the_last_sent_and_the_latest_completed_run(outbox: Connection) -> None:
    _add(outbox, DAY, "sms", "queued", 1, next_attempt_at=NOW - timedelta(minutes=30))
    _add(outbox, DAY, "letter", "queued", 1, next_attempt_at=NOW - timedelta(minutes=90))
    _add(outbox, DAY, "sms", "sent", 1, sent_at=NOW - timedelta(minutes=2))
    _add(outbox, DAY, "email", "dead", 1)
    for as_of, status, minutes in (
        (DAY - timedelta(days=1), "completed", 40),
        (DAY, "completed", 25),
        (DAY, "superseded", 5),
        (DAY + timedelta(days=1), "running", 1),
    ):
        outbox.execute(
            insert(Run).values(
                as_of=as_of,
                engine="local",
                status=status,
                started_at=NOW - timedelta(minutes=minutes + 10),
                finished_at=NOW - timedelta(minutes=10),
            )
        )
    found = outbox_figures(outbox, NOW, DAY)
    assert found.oldest_due_seconds == 90 * 60.0
    assert found.last_sent_at == NOW - timedelta(minutes=2)
    assert found.last_run_as_of == DAY and found.last_run_seconds == 25 * 60.0
    assert found.open_messages == {
        ("sms", "queued"): 1,
        ("letter", "queued"): 1,
        ("email", "dead"): 1,
    }
    assert found.today_messages[("sms", "sent")] == 1
    for s in series(found):
        assert s.name.startswith("forbear_")
        for labels, _ in s.samples:
            assert len(labels) == len(s.labels)
