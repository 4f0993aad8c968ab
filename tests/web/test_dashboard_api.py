"""The supervisor dashboard's API on the demo book (tests/web/conftest.py): who may read
it, what it answers (checked against the stored run and contact log), the no-data state,
and bad ranges refused in the caller's language without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from forbear.store.contacts import ContactAttempt
from forbear.store.models import AccountState
from forbear.store.runs import Run

from .conftest import AS_OF

URL = "/api/v1/dashboard"
EMPTY = {"from": "2020-01-01", "to": "2020-02-01"}
RATES = ("recovery_rate", "cure_rate", "roll_forward_rate", "kept_rate", "contact_rate", "rpc_rate")


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("super1", 200),
        ("compliance1", 200),
        ("admin1", 200),
        ("agent1", 403),
        ("legal1", 403),
        ("agency1", 403),
    ],
)
def test_the_dashboard_is_for_the_roles_that_steer_the_operation(
    client, sign_in, username, status
) -> None:
    # a range before the book: cheap to compute, and who may read it does not depend on it
    assert sign_in(username).get(URL, params=EMPTY).status_code == status


def test_the_dashboard_needs_a_sign_in(client) -> None:
    answer = client.get(URL)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"


def test_the_default_range_is_the_last_30_days_with_the_days_run(client, sign_in, db) -> None:
    body = sign_in("super1").get(URL).json()
    assert (body["from"], body["to"]) == (str(AS_OF - timedelta(days=30)), str(AS_OF))
    assert body["has_data"] is True and body["group_by"] == "arm"
    everyone = body["groups"][0]
    assert everyone["group"] == "all" and everyone["accounts"] > 0
    assert set(everyone["overdue_start"]) == {"fen", "yuan"}
    assert everyone["overdue_start"]["yuan"].startswith("¥")
    for rate in RATES:
        assert everyone[rate] is None or 0.0 <= everyone[rate] <= 1.0
    # the arms are those of the day's decisions; group rows add up to the whole book
    summary = db.conn.execute(select(Run.summary).where(Run.as_of == AS_OF)).scalar_one()
    arms = {row["arm"] for row in summary["by_arm"] if row["arm"]}
    groups = {g["group"] for g in body["groups"][1:]}
    assert groups - {"none"} <= arms and "none" in groups  # most accounts had no action
    for field in ("accounts", "attempts", "promises_resolved"):
        assert sum(g[field] for g in body["groups"][1:]) == everyone[field]
    assert sum(g["collected"]["fen"] for g in body["groups"][1:]) == everyone["collected"]["fen"]
    by_day = body["collected_by_day"]
    assert sum(d["amount"]["fen"] for d in by_day) == everyone["collected"]["fen"]
    assert all(body["from"] < d["day"] <= body["to"] for d in by_day)
    # attempts: the allowed attempts of the contact log in the range (lender's days)
    zone = db.settings.zone
    low = datetime.combine(AS_OF - timedelta(days=30), time(0), zone).astimezone(UTC)
    high = datetime.combine(AS_OF + timedelta(days=1), time(0), zone).astimezone(UTC)
    allowed = db.conn.execute(
        select(func.count())
        .select_from(ContactAttempt)
        .where(ContactAttempt.allowed, ContactAttempt.at >= low, ContactAttempt.at < high)
    ).scalar_one()
    assert everyone["attempts"] == allowed
    # complaints per 10,000 contacts (the complaints area's count of the same attempts)
    assert everyone["complaint_contacts"] == allowed
    assert [s["subject_type"] for s in body["satisfaction"]] == [
        "plan",
        "promise",
        "complaint",
        "all",
    ]
    # the day's run: its counts, blocked contacts by rule, capacity use
    run = body["run"]
    assert run["as_of"] == str(AS_OF)
    assert run["contacts_blocked"] == summary["contacts"]["blocked"]
    assert run["capacity"] and {c["channel"] for c in run["capacity"]} >= {"call"}
    planned = {row["rule"]: row["count"] for row in summary["blocked_by_rule"]}
    assert {r["rule"]: r["planned"] for r in body["blocked_by_rule"] if r["planned"]} == planned
    # the roll-rate matrix: each row's shares add up to 1
    for row in body["roll_rates"]:
        if row["accounts"]:
            assert sum(row["to"].values()) == pytest.approx(1.0)


def test_by_team_groups_by_the_decisions_team(client, sign_in) -> None:
    body = sign_in("compliance1").get(URL, params={"group_by": "team"}).json()
    assert body["group_by"] == "team"
    assert "phone-zh" in {g["group"] for g in body["groups"]}


def test_the_figures_are_aggregates_without_personal_data(client, sign_in) -> None:
    supervisor = sign_in("super1").get(URL).json()
    admin = sign_in("admin1").get(URL).json()
    assert admin == supervisor  # nothing in it is masked per role: there is nothing personal
    text = str(supervisor)
    assert "borrower" not in text and "mobile" not in text and "name" not in text


def test_a_range_without_data_says_so(client, sign_in) -> None:
    body = sign_in("super1").get(URL, params=EMPTY).json()
    assert body["has_data"] is False and body["run"] is None and body["blocked_by_rule"] == []
    everyone = body["groups"][0]
    assert everyone["accounts"] == 0
    assert all(everyone[rate] is None for rate in RATES)  # no data, not 0 %
    assert everyone["complaints_per_10k"] is None
    assert body["satisfaction"][-1] == {
        "subject_type": "all",
        "responses": 0,
        "mean_score": None,
        "share_4_5": None,
    }


@pytest.mark.parametrize(
    ("params", "field", "zh", "en"),
    [
        ({"from": "2026-11-20", "to": "2026-11-01"}, "to", "结束日期必须晚于开始日期", "after"),
        ({"from": "2026-11-20", "to": "2026-11-20"}, "to", "结束日期必须晚于开始日期", "after"),
        ({"from": "2024-01-01", "to": "2026-11-20"}, "to", "366", "366"),
        ({"from": "9999-12-01", "to": "9999-12-30"}, "from", "2099-12-31", "2099-12-31"),
    ],
)
def test_bad_ranges_are_refused_in_the_callers_language(
    client, sign_in, db, params, field, zh, en
) -> None:
    before = db.conn.execute(select(func.count()).select_from(AccountState)).scalar_one()
    c = sign_in("super1")
    answer = c.get(URL, params=params)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == field
    assert zh in error["message"]
    english = c.get(URL, params={**params, "lang": "en"}).json()["error"]["message"]
    assert en in english and "Invalid input" in english
    after = db.conn.execute(select(func.count()).select_from(AccountState)).scalar_one()
    assert after == before


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-13-01"}, {"to": "yesterday"}, {"group_by": "agent"}, {"from": ""}],
)
def test_malformed_parameters_are_422(client, sign_in, params) -> None:
    answer = sign_in("super1").get(URL, params=params)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request"


def test_reading_a_range_without_snapshots_stores_none(client, sign_in, db) -> None:
    before = db.conn.execute(select(func.count()).select_from(AccountState)).scalar_one()
    answer = sign_in("super1").get(URL, params={"from": "2026-10-02", "to": "2026-10-16"})
    assert answer.status_code == 200 and answer.json()["groups"][0]["accounts"] > 0
    after = db.conn.execute(select(func.count()).select_from(AccountState)).scalar_one()
    assert after == before
