"""``GET /metrics`` of the web app on the demo book: the outbox's figures in Prometheus'
format, checked against the stored outbox and run; only for a direct request from this
machine (404 otherwise); no personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select, update

from forbear.settings import Environment, Settings
from forbear.store.runs import OutboxMessage, Run

from .conftest import AS_OF

LOCAL = ("127.0.0.1", 40000)


def scrape(app, client_address=LOCAL, **headers: str):  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://testserver", client=client_address) as c:
        return c.get("/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def by_channel_status(db, *where) -> dict[tuple[str, str], int]:  # type: ignore[no-untyped-def]
    o = OutboxMessage
    rows = db.conn.execute(
        select(o.channel, o.status, func.count()).where(*where).group_by(o.channel, o.status)
    ).all()
    return {(c, s): n for c, s, n in rows}


def add_messages(db, now, n: int, **values) -> list[int]:  # type: ignore[no-untyped-def]
    """``n`` more messages like the day's first one (another key; ``values`` over it)."""
    o = OutboxMessage
    first = db.conn.execute(select(o.__table__).where(o.as_of == AS_OF).limit(1)).mappings().one()
    made = []
    for i in range(n):
        row = {k: v for k, v in first.items() if k != "id"}
        row |= {"dedupe_key": f"metrics-test-{i}", "created_at": now, **values}
        made.append(db.conn.execute(insert(o).values(**row).returning(o.id)).scalar_one())
    return made


def test_the_outbox_and_the_run_in_prometheus_format(app, db, clock) -> None:
    o = OutboxMessage
    now = clock.now
    ids = add_messages(db, now, 6, channel="email", status="queued")
    # what became of some of the day's messages
    for status, picked in (
        ("sent", ids[0:2]),
        ("delivered", ids[2:3]),
        ("failed", ids[3:4]),
        ("cancelled", ids[4:5]),
    ):
        db.conn.execute(
            update(o)
            .where(o.id.in_(picked))
            .values(status=status, sent_at=now - timedelta(minutes=5))
        )
    # everything still queued is due later, except one message due an hour ago
    db.conn.execute(
        update(o).where(o.status == "queued").values(next_attempt_at=now + timedelta(hours=1))
    )
    db.conn.execute(
        update(o).where(o.id == ids[5]).values(next_attempt_at=now - timedelta(hours=1))
    )

    answer = scrape(app)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert found[("forbear_outbox_up", ())] == 1.0
    today = {
        (dict(labels)["channel"], dict(labels)["status"]): v
        for (name, labels), v in found.items()
        if name == "forbear_outbox_today_messages"
    }
    assert today == {k: float(v) for k, v in by_channel_status(db, o.as_of == AS_OF).items()}
    assert {k for k in today if k[0] == "email"} == {
        ("email", s) for s in ("sent", "delivered", "failed", "cancelled", "queued")
    }
    waiting = {
        (dict(labels)["channel"], dict(labels)["status"]): v
        for (name, labels), v in found.items()
        if name == "forbear_outbox_open_messages"
    }
    expected = by_channel_status(db, o.status.in_(("queued", "sending", "dead")))
    assert waiting == {k: float(v) for k, v in expected.items()}
    assert found[("forbear_outbox_oldest_due_seconds", ())] == 3600.0
    assert found[("forbear_outbox_last_sent_timestamp_seconds", ())] == pytest.approx(
        (now - timedelta(minutes=5)).timestamp()
    )
    run = db.conn.execute(
        select(Run.as_of, Run.started_at, Run.finished_at).where(Run.status == "completed")
    ).one()
    assert run.as_of == AS_OF
    assert found[("forbear_run_last_completed_duration_seconds", ())] == pytest.approx(
        (run.finished_at - run.started_at).total_seconds()
    )
    assert found[("forbear_run_last_completed_finished_timestamp_seconds", ())] == pytest.approx(
        run.finished_at.timestamp()
    )


def test_only_counts_and_times_no_personal_data(app) -> None:
    text = scrape(app).text
    channels = {"call", "ai_call", "sms", "im", "email", "app_push", "letter", "visit"}
    statuses = {"queued", "sending", "sent", "delivered", "failed", "dead", "cancelled"}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("forbear_")
        for s in family.samples:
            assert set(s.labels) <= {"channel", "status"}
            assert s.labels.get("channel", "sms") in channels
            assert s.labels.get("status", "sent") in statuses


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        (("testclient", 50000), {}),  # not an address
        (("10.0.0.5", 40000), {}),  # another machine
        (("203.0.113.9", 40000), {}),
        (LOCAL, {"X-Forwarded-For": "203.0.113.9"}),  # a proxy on this machine
        (LOCAL, {"Forwarded": "for=203.0.113.9"}),
        (LOCAL, {"X-Real-IP": "203.0.113.9"}),
    ],
)
def test_anything_but_a_direct_local_request_gets_404(app, peer, headers) -> None:
    answer = scrape(app, peer, **headers)
    assert answer.status_code == 404
    assert "forbear_" not in answer.text


def test_a_trusted_proxy_on_this_machine_is_not_a_local_client(app, db, tmp_path) -> None:
    db.settings = Settings(
        environment=Environment.TEST, data_dir=tmp_path, trusted_proxies="127.0.0.1"
    )
    assert scrape(app).status_code == 404
    assert scrape(app, ("::1", 40000)).status_code == 200  # IPv6 loopback, not the proxy


def test_metrics_are_not_in_the_api_description(app) -> None:
    with TestClient(app, base_url="https://testserver") as c:
        paths = c.get("/api/v1/openapi.json").json()["paths"]
    assert "/metrics" not in paths
