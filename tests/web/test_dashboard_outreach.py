"""The dashboard's "外呼与消息 / Outreach by channel": the outbox's messages per day and
channel over the range, checked against the stored outbox (API and page, Chinese and
English), read through the outbox's day index."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from forbear.store.runs import OutboxMessage

from .conftest import AS_OF

API = "/api/v1/dashboard"
RANGE = {"from": str(AS_OF - timedelta(days=3)), "to": str(AS_OF + timedelta(days=1))}


def add_messages(db, now, day, statuses: dict[str, int], channel: str) -> None:  # type: ignore[no-untyped-def]
    o = OutboxMessage
    first = db.conn.execute(select(o.__table__).where(o.as_of == AS_OF).limit(1)).mappings().one()
    for status, n in statuses.items():
        for i in range(n):
            row = {k: v for k, v in first.items() if k != "id"}
            row |= {
                "as_of": day,
                "channel": channel,
                "status": status,
                "dedupe_key": f"dash-{day}-{channel}-{status}-{i}",
                "created_at": now,
            }
            db.conn.execute(insert(o).values(**row))


def stored(db, start, end) -> dict[tuple[str, str, str], int]:  # type: ignore[no-untyped-def]
    o = OutboxMessage
    rows = db.conn.execute(
        select(o.as_of, o.channel, o.status, func.count())
        .where(o.as_of > start, o.as_of <= end)
        .group_by(o.as_of, o.channel, o.status)
    ).all()
    return {(str(d), c, s): n for d, c, s, n in rows}


def test_the_api_counts_each_day_and_channel_as_the_outbox_holds_them(
    client, sign_in, db, clock
) -> None:
    now = clock.now
    yesterday = AS_OF - timedelta(days=1)
    add_messages(
        db,
        now,
        yesterday,
        {"sent": 3, "delivered": 4, "failed": 1, "dead": 2, "cancelled": 5, "queued": 1},
        "email",
    )
    add_messages(db, now, AS_OF - timedelta(days=3), {"sent": 9}, "email")  # the from day
    add_messages(db, now, AS_OF + timedelta(days=2), {"sent": 9}, "email")  # after the range
    body = sign_in("super1").get(API, params=RANGE).json()
    rows = {(r["day"], r["channel"]): r for r in body["outreach_by_channel"]}
    email = rows[(str(yesterday), "email")]
    assert email == {
        "day": str(yesterday),
        "channel": "email",
        "pending": 1,
        "sent": 7,  # sent + delivered
        "delivered": 4,
        "failed": 3,  # failed + dead
        "cancelled": 5,
    }
    # every row against the stored outbox: the range's days after from, up to to
    held = stored(db, AS_OF - timedelta(days=3), AS_OF + timedelta(days=1))
    assert {(d, c) for d, c, _ in held} == set(rows)
    for (day, channel), row in rows.items():
        n = {
            s: held.get((day, channel, s), 0)
            for s in ("queued", "sending", "sent", "delivered", "failed", "dead", "cancelled")
        }
        assert row["pending"] == n["queued"] + n["sending"]
        assert row["sent"] == n["sent"] + n["delivered"]
        assert row["delivered"] == n["delivered"]
        assert row["failed"] == n["failed"] + n["dead"]
        assert row["cancelled"] == n["cancelled"]
    assert str(AS_OF - timedelta(days=3)) not in {d for d, _ in rows}
    # the run's own messages of AS_OF are there, by their channel
    run_day = {c for d, c in rows if d == str(AS_OF)}
    assert run_day == {c for d, c, _ in held if d == str(AS_OF)} and run_day


def test_the_page_shows_the_channels_totals_and_a_chart_in_both_languages(
    client, sign_in, db, clock
) -> None:
    add_messages(db, clock.now, AS_OF, {"delivered": 2, "cancelled": 1}, "email")
    db.conn.execute(
        update(OutboxMessage)
        .where(OutboxMessage.as_of == AS_OF, OutboxMessage.channel == "email")
        .values(status="delivered")
    )
    user = sign_in("super1")
    page = user.get("/dashboard", params=RANGE)
    assert page.status_code == 200
    assert "外呼与消息（按渠道）" in page.text
    table = re.search(r'<table id="outreach">(.*?)</table>', page.text, re.S)
    assert table is not None
    email = re.search(r"<tr><th scope=\"row\">[^<]*</th>(.*?)</tr>", table.group(1), re.S)
    assert email is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', table.group(1))
    assert cells  # one row per channel, five counts each
    assert len(cells) % 5 == 0
    chart = re.search(
        r'<script type="application/json" id="chart-outreach-data">(.*?)</script>', page.text, re.S
    )
    assert chart is not None
    data = json.loads(chart.group(1))
    assert [s["name"] for s in data["series"]] == ["已发送", "已送达", "失败", "已取消"]
    body = user.get(API, params=RANGE).json()
    days = sorted({r["day"] for r in body["outreach_by_channel"]})
    assert data["x"] == days
    sent = [sum(r["sent"] for r in body["outreach_by_channel"] if r["day"] == d) for d in days]
    assert data["series"][0]["y"] == sent
    english = user.get("/dashboard", params=RANGE | {"lang": "en"})
    assert "Outreach by channel" in english.text and "Delivered" in english.text


def test_a_range_without_messages_says_so(client, sign_in) -> None:
    page = sign_in("super1").get(
        "/dashboard", params={"from": str(AS_OF), "to": str(AS_OF + timedelta(days=5))}
    )
    # the range holds the run's day only as its from (not counted): no messages after it
    assert "期间没有待发或已发的消息。" in page.text
    assert 'id="outreach"' not in page.text


def test_the_days_are_read_through_the_outbox_day_index(db) -> None:
    if db.conn.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner may rightly scan a table this small")
    plan = db.conn.execute(
        text(
            "EXPLAIN QUERY PLAN SELECT as_of, channel, status, count(*) FROM outbox "
            "WHERE as_of >= :a AND as_of <= :b GROUP BY as_of, channel, status"
        ),
        {"a": AS_OF, "b": AS_OF},
    ).all()
    assert any("ix_outbox_as_of" in str(row) for row in plan), plan
