"""The daily run plans location contacts (issue 17, item 3), on SQLite and PostgreSQL.

The book: L0001 and L0002 of C0001 (a debtor mobile and an emergency contact), L0003 of
C0002 (no emergency contact), all overdue on the run's date. The debtor of C0001 did not
answer three dials the day before, so under the CN pack it is unreachable
(CN.3P.LOST_CONTACT_GATE) from the run's day. A strategy with a location step then plans
location contacts to the emergency contact's point (never the debtor's), which the gate
judges like any other: a call with the location script and a text with the approved
third-party template pass; a text with a debtor template is blocked (CN.3P.NO_DISCLOSE).
The decisions, the agent's queue and the outbox carry purpose ``locate`` and the point;
the same contact asked online (``explain contact --purpose locate``) gets the same answer.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, select

from clocks import SETUP_AT
from factories import import_three_loans
from forbear.batch import daily
from forbear.domain.compliance.config import default_rules
from forbear.services import contacts as svc
from forbear.services import strategies, templates
from forbear.store import runs
from forbear.store.crypto import PiiVault
from forbear.store.models import ContactPoint

SHANGHAI = ZoneInfo("Asia/Shanghai")
RUN_DAY = date(2026, 4, 20)
PLANNED_AT = datetime(2026, 4, 20, 10, tzinfo=SHANGHAI).astimezone(UTC)  # CONTACT_HOUR
ACTOR = "agent:7"

STRATEGY = """
name: locate_test
segments:
  - id: lost
    when: {all: [dpd >= 1, debtor_unreachable, emergency_contact]}
    treatment: locate
  - {id: rest, when: always, treatment: nothing}
treatments:
  - id: locate
    actions:
      - {every: 1, channel: call, template: CN.LOCATE.CALL, purpose: locate}
      - {every: 1, channel: sms, template: CN.LOCATE.SMS, purpose: locate}
      - {every: 1, channel: sms, template: CN.M1.REMIND.SMS, purpose: locate}
  - {id: nothing, actions: []}
"""


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    templates.install_library(connection, now=SETUP_AT)
    for p in connection.execute(select(ContactPoint.id, ContactPoint.owner_type)).all():
        if p.owner_type == "emergency_contact":
            ids["emergency"] = int(p.id)
    rules = default_rules()
    for hour in (9, 10, 11):  # three unanswered dials on the debtor's own number
        made = svc.request_contact(
            connection,
            loan_id=ids["L0001"],
            channel="call",
            at=_local(f"2026-04-19 {hour:02}:00"),
            actor=ACTOR,
            rules=rules,
        )
        assert made.allowed and made.attempt_id is not None, made.blocked_by
        svc.record_outcome(connection, made.attempt_id, "no_answer", ACTOR)
    info = strategies.add_strategy_text(connection, STRATEGY, actor="system", now=SETUP_AT)
    strategies.activate(connection, info.id, "system", now=SETUP_AT)
    return ids


def test_the_run_plans_location_contacts_the_gate_allows_and_blocks(
    connection: Connection, book: dict[str, int], tmp_path: Path
) -> None:
    result = daily.run_day(connection, RUN_DAY, data_dir=tmp_path)
    decisions = runs.read_decisions(connection, RUN_DAY)
    first = decisions.filter(pl.col("loan_id") == book["L0001"]).sort("action_index")
    assert first["segment"].to_list() == ["lost"] * 3
    assert first["purpose"].to_list() == ["locate"] * 3
    assert first["contact_point_id"].to_list() == [book["emergency"]] * 3
    assert first["is_demand"].to_list() == [False] * 3
    call, text, debtor_text = first.iter_rows(named=True)
    assert call["channel"] == "call" and call["allowed"], call["blocked_by"]
    assert text["template"] == "CN.LOCATE.SMS" and text["allowed"], text["blocked_by"]
    assert not debtor_text["allowed"]
    assert json.loads(debtor_text["blocked_by"]) == ["CN.3P.NO_DISCLOSE"]
    # the debtor without an emergency contact is not located
    third = decisions.filter(pl.col("loan_id") == book["L0003"])
    assert third.height == 0
    assert {r["segment"] for r in result.summary["by_segment"]} >= {"lost", "rest"}
    assert {"rule": "CN.3P.NO_DISCLOSE", "count": 2} in result.summary["blocked_by_rule"]

    # the agent's queue: the location call to the emergency contact, its script's code
    queue = runs.read_work_queue(connection, RUN_DAY).filter(pl.col("loan_id") == book["L0001"])
    (item,) = queue.iter_rows(named=True)
    assert item["channel"] == "call" and item["template"] == "CN.LOCATE.CALL"
    assert item["contact_point_id"] == book["emergency"]
    # the outbox: the third-party text, to the emergency contact's point
    o = runs.OutboxMessage
    sent = connection.execute(
        select(o.template, o.contact_point_id).where(o.as_of == RUN_DAY, o.loan_id == book["L0001"])
    ).all()
    assert [tuple(r) for r in sent] == [("CN.LOCATE.SMS", book["emergency"])]


def test_the_dispatcher_sends_the_location_text_to_the_emergency_contact(
    connection: Connection, book: dict[str, int], tmp_path: Path, vault: PiiVault
) -> None:
    """At the moment of sending the gate is asked again: the text is the no-disclosure
    template, so it goes to the emergency contact's number, rendered without the debt."""
    from forbear.services.outreach import claims, dispatch

    daily.run_day(connection, RUN_DAY, data_dir=tmp_path)
    at = PLANNED_AT + timedelta(minutes=5)
    batch = claims.claim(connection, "test-worker", at, 100)
    prepared = dispatch.prepare(
        connection,
        vault,
        default_rules(),
        batch,
        worker_id="test-worker",
        now=at,
        today=RUN_DAY,
        public_url="http://test",
    )
    located = [r for r in prepared.ready if r.rendered.template == "CN.LOCATE.SMS"]
    assert len(located) == 2  # L0001's and L0002's: one debtor, one emergency contact
    for ready in located:
        assert ready.to == "13987654321"  # the emergency contact's mobile (factories)
        for word in ("元", "欠款", "逾期", "还款"):
            assert word not in ready.rendered.body


def test_online_and_batch_agree_on_the_same_planned_contact(
    connection: Connection, book: dict[str, int], tmp_path: Path
) -> None:
    daily.run_day(connection, RUN_DAY, data_dir=tmp_path)
    first = (
        runs.read_decisions(connection, RUN_DAY)
        .filter(pl.col("loan_id") == book["L0001"])
        .sort("action_index")
    )
    rules = default_rules()
    for row in first.iter_rows(named=True):
        online = svc.evaluate_contact(
            connection,
            loan_id=book["L0001"],
            channel=row["channel"],
            at=PLANNED_AT,
            rules=rules,
            contact_point_id=row["contact_point_id"],
            purpose="locate",
            template_code=None if row["channel"] == "call" else row["template"],
        )
        assert online.allowed == row["allowed"], (row["template"], online.blocked_by)
        assert list(online.blocked_by) == json.loads(row["blocked_by"]), row["template"]
        assert online.contact_point_id == row["contact_point_id"]


def test_a_debtor_not_yet_unreachable_is_not_located(
    connection: Connection, book: dict[str, int], tmp_path: Path
) -> None:
    # the day of the three failed dials: "from the next day", so not yet
    daily.run_day(connection, date(2026, 4, 19), data_dir=tmp_path)
    decisions = runs.read_decisions(connection, date(2026, 4, 19))
    assert decisions.height == 0 or "locate" not in decisions["purpose"].to_list()


def test_a_location_call_planned_the_day_of_the_failed_dials_waits_for_the_next_day(
    connection: Connection, book: dict[str, int], tmp_path: Path
) -> None:
    """A strategy that locates without asking whether the debtor is unreachable: the run
    of the day of the three failed dials (planned at 14:00, after them) plans the location
    call and the gate blocks it with CN.3P.LOST_CONTACT_GATE until the next morning."""
    text = STRATEGY.replace(
        "{all: [dpd >= 1, debtor_unreachable, emergency_contact]}", "dpd >= 1"
    ).replace("locate_test", "locate_anyway")
    info = strategies.add_strategy_text(connection, text, actor="system", now=SETUP_AT)
    strategies.activate(connection, info.id, "system", now=SETUP_AT)
    day = date(2026, 4, 19)
    daily.run_day(connection, day, data_dir=tmp_path, hour=time(14))
    calls = runs.read_decisions(connection, day).filter(
        (pl.col("loan_id") == book["L0001"]) & (pl.col("channel") == "call")
    )
    (call,) = calls.iter_rows(named=True)
    assert call["purpose"] == "locate" and call["contact_point_id"] == book["emergency"]
    assert not call["allowed"]
    assert json.loads(call["blocked_by"]) == ["CN.3P.LOST_CONTACT_GATE"]
    earliest = call["earliest_allowed_at"]
    earliest = earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)
    assert earliest.astimezone(SHANGHAI) == datetime(2026, 4, 20, 8, tzinfo=SHANGHAI)


def test_under_the_us_pack_the_run_blocks_every_location_contact(
    connection: Connection, book: dict[str, int], tmp_path: Path
) -> None:
    """The US pack has no third-party rule: nothing marks the debtor unreachable (the
    shipped-style condition does not hold) and a step that locates anyway is blocked by
    the engine's US.3P.UNDEFINED, whatever is said."""
    (tmp_path / "lender.yaml").write_text("pack: US\n", encoding="utf-8")
    text = STRATEGY.replace(
        "{all: [dpd >= 1, debtor_unreachable, emergency_contact]}", "dpd >= 1"
    ).replace("locate_test", "locate_us")
    info = strategies.add_strategy_text(connection, text, actor="system", now=SETUP_AT)
    strategies.activate(connection, info.id, "system", now=SETUP_AT)
    daily.run_day(connection, RUN_DAY, data_dir=tmp_path)
    located = runs.read_decisions(connection, RUN_DAY).filter(
        (pl.col("purpose") == "locate") & pl.col("contact_point_id").is_not_null()
    )
    assert located.height > 0
    for row in located.iter_rows(named=True):
        assert not row["allowed"]
        assert "US.3P.UNDEFINED" in json.loads(row["blocked_by"]), row
