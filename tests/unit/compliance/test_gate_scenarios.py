"""Scenario tables: one planned contact against a small history, expected allow/block."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from factories_compliance import (
    flags,
    history,
    holds,
    make_attempt,
    make_contact,
    make_flags,
    make_hold,
    planned,
    utc,
)

from forbear.domain.compliance.config import (
    DEFAULT_LENDER,
    LenderConfig,
    compile_config,
    default_rules,
    load_pack,
)
from forbear.domain.compliance.gate import explain, gate

CN = default_rules("CN")
US = default_rules("US")
AT = utc(2026, 3, 2, 2)  # Monday 10:00 in Shanghai


def decide(
    contacts: list[dict[str, Any]],
    attempts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    flag_rows: list[dict[str, Any]] | None = None,
    hold_rows: list[dict[str, Any]] = (),  # type: ignore[assignment]
    rules: Any = CN,
) -> list[dict[str, Any]]:
    out = gate(
        planned(contacts),
        history(list(attempts)),
        flags(flag_rows if flag_rows is not None else [make_flags()]),
        holds(list(hold_rows)),
        rules,
    ).collect()
    return out.to_dicts()


def dials(n: int, start: datetime, outcome: str = "no_answer", **o: Any) -> list[dict[str, Any]]:
    return [
        make_attempt(at=start + timedelta(minutes=5 * i), outcome=outcome, **o) for i in range(n)
    ]


THIRD = {
    "party": "emergency_contact",
    "contact_point_id": 2000,
    "is_demand": False,
    "discloses_debt": False,
}

CN_CASES: list[
    tuple[
        str,
        dict[str, Any],
        list[dict[str, Any]],
        dict[str, Any],
        list[dict[str, Any]],
        list[str],
        datetime | None,
    ]
] = [
    ("10:00 local call is allowed", {}, [], {}, [], [], None),
    (
        "21:30 local call under default lender -> quiet, next 08:00 local",
        {"at": utc(2026, 3, 2, 13, 30)},
        [],
        {},
        [],
        ["CN.HOURS.QUIET"],
        utc(2026, 3, 3, 0),
    ),
    (
        "07:59 local SMS -> quiet until 08:00",
        {"at": utc(2026, 3, 1, 23, 59), "channel": "sms"},
        [],
        {},
        [],
        ["CN.HOURS.QUIET"],
        utc(2026, 3, 2, 0),
    ),
    (
        "a visit at 23:00 local is quiet too",
        {"at": utc(2026, 3, 2, 15), "channel": "visit"},
        [],
        {},
        [],
        ["CN.HOURS.QUIET"],
        utc(2026, 3, 3, 0),
    ),
    (
        "a letter is not judged by the clock",
        {
            "at": utc(2026, 3, 2, 15),
            "channel": "letter",
            "contact_point_id": None,
            "provenance": None,
        },
        [],
        {},
        [],
        [],
        None,
    ),
    (
        "7th unanswered dial to one number same day -> blocked",
        {},
        dials(6, utc(2026, 3, 2, 0, 30)),
        {},
        [],
        ["CN.FREQ.UNANSWERED"],
        utc(2026, 3, 3, 0),
    ),
    ("6th unanswered dial is allowed", {}, dials(5, utc(2026, 3, 2, 0, 30)), {}, [], [], None),
    (
        "unanswered dials to another number do not count",
        {"contact_point_id": 1001},
        dials(6, utc(2026, 3, 2, 0, 30)),
        {},
        [],
        [],
        None,
    ),
    ("yesterday's (local) dials do not count", {}, dials(6, utc(2026, 3, 1, 1)), {}, [], [], None),
    (
        "AI dials count like calls",
        {"channel": "ai_call"},
        dials(6, utc(2026, 3, 2, 0, 30), channel="ai_call"),
        {},
        [],
        ["CN.FREQ.UNANSWERED"],
        utc(2026, 3, 3, 0),
    ),
    (
        "4th connected conversation -> blocked",
        {"contact_point_id": 1009},
        [
            *dials(2, utc(2026, 3, 2, 0, 30), "connected"),
            *dials(1, utc(2026, 3, 2, 1), "connected", channel="ai_call", contact_point_id=1005),
        ],
        {},
        [],
        ["CN.FREQ.CONNECTED"],
        utc(2026, 3, 3, 0),
    ),
    (
        "connected calls by an agency count for the debtor",
        {"contact_point_id": 1009},
        dials(3, utc(2026, 3, 2, 0, 30), "connected", agency_id=7),
        {},
        [],
        ["CN.FREQ.CONNECTED"],
        utc(2026, 3, 3, 0),
    ),
    (
        "blocked history rows never count",
        {},
        dials(6, utc(2026, 3, 2, 0, 30), "blocked"),
        {},
        [],
        [],
        None,
    ),
    (
        "third party while the debtor is reachable -> blocked",
        THIRD,
        [],
        {},
        [],
        ["CN.3P.LOST_CONTACT_GATE"],
        None,
    ),
    (
        "third party after 3 consecutive failed dials, from the next day -> allowed",
        THIRD,
        dials(3, utc(2026, 3, 1, 1)),
        {},
        [],
        [],
        None,
    ),
    (
        "third party the same day as the 3rd failed dial -> next day",
        THIRD,
        dials(3, utc(2026, 3, 2, 0, 30)),
        {},
        [],
        ["CN.3P.LOST_CONTACT_GATE"],
        utc(2026, 3, 3, 0),
    ),
    (
        "a connected call after the failures makes the debtor reachable again",
        THIRD,
        [*dials(3, utc(2026, 2, 27, 1)), make_attempt(at=utc(2026, 2, 28, 3), outcome="connected")],
        {},
        [],
        ["CN.3P.LOST_CONTACT_GATE"],
        None,
    ),
    (
        "third party when the number is invalid -> allowed",
        THIRD,
        dials(1, utc(2026, 3, 2, 0, 30), "invalid_number"),
        {},
        [],
        [],
        None,
    ),
    (
        "third party when a human marked the debtor unreachable -> allowed",
        THIRD,
        [],
        {"debtor_unreachable_since": utc(2026, 2, 1)},
        [],
        [],
        None,
    ),
    (
        "third party of a deceased debtor -> allowed",
        THIRD,
        [],
        {},
        [make_hold(kind="deceased")],
        [],
        None,
    ),
    (
        "demand to an emergency contact -> blocked",
        {**THIRD, "is_demand": True},
        dials(3, utc(2026, 3, 1, 1)),
        {},
        [],
        ["CN.3P.NO_UNRELATED"],
        None,
    ),
    (
        "debt details to a third party -> blocked",
        {**THIRD, "discloses_debt": True},
        dials(3, utc(2026, 3, 1, 1)),
        {},
        [],
        ["CN.3P.NO_DISCLOSE"],
        None,
    ),
    (
        "a guarantor may be asked to pay",
        {"party": "guarantor", "contact_point_id": 3000},
        [],
        {},
        [],
        [],
        None,
    ),
    (
        "a contact person who refused is never contacted again",
        {**THIRD},
        [
            *dials(3, utc(2026, 3, 1, 1)),
            make_attempt(
                contact_point_id=2000,
                party="emergency_contact",
                outcome="refused",
                at=utc(2025, 6, 1, 3),
            ),
        ],
        {},
        [],
        ["CN.3P.REFUSAL"],
        None,
    ),
    (
        "a refusal recorded as a hold on the contact point",
        {**THIRD},
        dials(3, utc(2026, 3, 1, 1)),
        {},
        [make_hold(kind="do_not_contact", contact_point_id=2000)],
        ["CN.3P.REFUSAL", "CN.HOLDS"],
        None,
    ),
    (
        "provenance 'address_book' -> blocked",
        {"provenance": "address_book"},
        [],
        {},
        [],
        ["CN.DATA.CONTACT_SOURCE"],
        None,
    ),
    (
        "unknown provenance -> blocked",
        {"provenance": None},
        [],
        {},
        [],
        ["CN.DATA.CONTACT_SOURCE"],
        None,
    ),
    (
        "agency before the debtor was notified -> blocked until the notice",
        {"agency_id": 7},
        [],
        {"agency_id": 7, "agency_notified_at": utc(2026, 3, 2, 6)},
        [],
        ["CN.AGENCY.NOTIFY_DEBTOR"],
        utc(2026, 3, 2, 6),
    ),
    (
        "agency never notified -> blocked, no time",
        {"agency_id": 7},
        [],
        {"agency_id": 7},
        [],
        ["CN.AGENCY.NOTIFY_DEBTOR"],
        None,
    ),
    (
        "loan assigned to another agency -> blocked",
        {"agency_id": 7},
        [],
        {"agency_id": 8, "agency_notified_at": utc(2026, 1, 1)},
        [],
        ["CN.AGENCY.SCOPE"],
        None,
    ),
    (
        "agency on its own notified loan -> allowed",
        {"agency_id": 7},
        [],
        {"agency_id": 7, "agency_notified_at": utc(2026, 1, 1)},
        [],
        [],
        None,
    ),
    (
        "assigned debt before the assignment notice -> blocked",
        {},
        [],
        {"assigned_at": utc(2026, 2, 1)},
        [],
        ["CN.ASSIGN.NOTICE"],
        None,
    ),
    (
        "limitation expired: demand blocked",
        {},
        [],
        {"last_due_date": date(2022, 3, 1)},
        [],
        ["CN.LIMITATION"],
        None,
    ),
    (
        "limitation expired: a non-demand reminder is allowed",
        {"is_demand": False},
        [],
        {"last_due_date": date(2022, 3, 1)},
        [],
        [],
        None,
    ),
    (
        "limitation restarted by a logged demand",
        {},
        [],
        {"last_due_date": date(2022, 3, 1), "last_demand_at": utc(2024, 5, 1)},
        [],
        [],
        None,
    ),
    (
        "open dispute holds every channel",
        {"channel": "sms"},
        [],
        {},
        [make_hold()],
        ["CN.HOLDS"],
        None,
    ),
    ("a closed dispute does not", {}, [], {}, [make_hold(until=utc(2026, 2, 1))], [], None),
    ("a dispute on another loan does not", {}, [], {}, [make_hold(loan_id=11)], [], None),
    (
        "opt-out of SMS blocks SMS",
        {"channel": "sms"},
        [],
        {},
        [make_hold(kind="opt_out", channel="sms")],
        ["CN.HOLDS"],
        None,
    ),
    (
        "opt-out of SMS does not block a call",
        {},
        [],
        {},
        [make_hold(kind="opt_out", channel="sms")],
        [],
        None,
    ),
    ("vulnerable: no calls", {}, [], {}, [make_hold(kind="vulnerable")], ["CN.HOLDS"], None),
    (
        "vulnerable: an SMS is allowed",
        {"channel": "sms"},
        [],
        {},
        [make_hold(kind="vulnerable")],
        [],
        None,
    ),
    (
        "open complaint holds contact by default",
        {},
        [],
        {},
        [make_hold(kind="complaint")],
        ["CN.HOLDS"],
        None,
    ),
    (
        "quiet hours and a hold: no earliest time",
        {"at": utc(2026, 3, 2, 14)},
        [],
        {},
        [make_hold(kind="cease")],
        ["CN.HOLDS", "CN.HOURS.QUIET"],
        None,
    ),
]


@pytest.mark.parametrize(
    ("contact", "attempts", "flag", "hold_rows", "blocked", "earliest"),
    [pytest.param(*c[1:], id=c[0]) for c in CN_CASES],
)
def test_cn_scenarios(contact, attempts, flag, hold_rows, blocked, earliest):
    [row] = decide([make_contact(**contact)], attempts, [make_flags(**flag)], hold_rows)
    assert row["blocked_by"] == blocked
    assert row["allowed"] is (not blocked)
    assert row["earliest_allowed_at"] == earliest


US_CASES = [
    ("20:30 New York call is allowed", {"at": utc(2026, 3, 3, 1, 30)}, [], [], [], None),
    (
        "21:00 New York call -> next 08:00",
        {"at": utc(2026, 3, 3, 2)},
        [],
        [],
        ["US.REGF.HOURS"],
        utc(2026, 3, 3, 13),
    ),
    (
        "8th call in 7 days -> blocked until the oldest leaves the window",
        {},
        [make_attempt(at=utc(2026, 2, 25 + i // 3, 15, i), outcome="no_answer") for i in range(7)],
        [],
        ["US.REGF.7IN7"],
        utc(2026, 3, 4, 15, 0),
    ),
    (
        "7th call in 7 days is allowed",
        {},
        [make_attempt(at=utc(2026, 2, 25 + i // 3, 15, i)) for i in range(6)],
        [],
        [],
        None,
    ),
    (
        "calls older than 7 days do not count",
        {},
        [make_attempt(at=utc(2026, 2, 20, 15, i)) for i in range(9)],
        [],
        [],
        None,
    ),
    (
        "a call 3 days after a conversation -> blocked until 7 days after it",
        {},
        [make_attempt(at=utc(2026, 2, 27, 15), outcome="connected")],
        [],
        ["US.REGF.7IN7"],
        utc(2026, 3, 6, 15),
    ),
    (
        "an SMS 3 days after a conversation is not a call",
        {"channel": "sms"},
        [make_attempt(at=utc(2026, 2, 27, 15), outcome="connected")],
        [],
        [],
        None,
    ),
    (
        "calls on another debt do not count",
        {},
        [make_attempt(loan_id=11, at=utc(2026, 2, 27, 15, i)) for i in range(8)],
        [],
        [],
        None,
    ),
    (
        "opt-out of SMS blocks SMS",
        {"channel": "sms"},
        [],
        [make_hold(kind="opt_out", channel="sms")],
        ["US.REGF.OPTOUT"],
        None,
    ),
    (
        "opt-out of SMS does not block a call",
        {},
        [],
        [make_hold(kind="opt_out", channel="sms")],
        [],
        None,
    ),
    ("cease request", {}, [], [make_hold(kind="cease")], ["US.REGF.CEASE"], None),
    ("written dispute", {}, [], [make_hold(kind="dispute")], ["US.REGF.DISPUTE"], None),
    ("represented by a lawyer", {}, [], [make_hold(kind="lawyer")], ["US.HOLDS"], None),
]


@pytest.mark.parametrize(
    ("contact", "attempts", "hold_rows", "blocked", "earliest"),
    [pytest.param(*c[1:], id=c[0]) for c in US_CASES],
)
def test_us_scenarios(contact, attempts, hold_rows, blocked, earliest):
    base = {"at": utc(2026, 3, 2, 15), "timezone": "America/New_York"}  # 10:00 EST
    [row] = decide([make_contact(**{**base, **contact})], attempts, None, hold_rows, US)
    assert row["blocked_by"] == blocked
    assert row["earliest_allowed_at"] == earliest


def test_plan_contacts_count_against_each_other_in_plan_order():
    plan = [make_contact(contact_id=i, at=utc(2026, 3, 2, 2, i)) for i in (5, 3, 9, 1, 7, 2, 4, 8)]
    rows = {r["contact_id"]: r for r in decide(plan, dials(4, utc(2026, 3, 2, 0, 30)))}
    # 4 dials in history: only the first 2 planned (by contact_id) fit under 6
    assert [i for i in sorted(rows) if rows[i]["allowed"]] == [1, 2]
    assert rows[3]["blocked_by"] == ["CN.FREQ.UNANSWERED"]  # 2 planned before it: 3rd call
    assert rows[4]["blocked_by"] == ["CN.FREQ.CONNECTED", "CN.FREQ.UNANSWERED"]
    assert [r["contact_id"] for r in decide(plan)] == [5, 3, 9, 1, 7, 2, 4, 8]  # plan order kept


def test_connected_cap_counts_planned_calls_across_numbers():
    plan = [make_contact(contact_id=i, contact_point_id=1000 + i) for i in range(1, 6)]
    rows = decide(plan)
    assert [r["allowed"] for r in rows] == [True, True, True, False, False]
    assert rows[3]["blocked_by"] == ["CN.FREQ.CONNECTED"]


def test_a_contact_blocked_by_another_rule_does_not_use_up_the_cap():
    plan = [
        make_contact(contact_id=1, contact_point_id=1001, provenance="address_book"),
        *(make_contact(contact_id=i, contact_point_id=1000 + i) for i in range(2, 5)),
    ]
    assert [r["allowed"] for r in decide(plan)] == [False, True, True, True]


@pytest.mark.parametrize(
    "flag_rows",
    [[], [make_flags(last_due_date=None, last_demand_at=None)]],
    ids=["no flags row", "no due date nor demand"],
)
def test_the_caps_hold_when_the_limitation_cannot_be_judged(
    flag_rows: list[dict[str, Any]],
) -> None:
    plan = [make_contact(contact_id=i, contact_point_id=1000 + i) for i in range(1, 6)]
    rows = decide(plan, flag_rows=flag_rows)
    assert [r["allowed"] for r in rows] == [True, True, True, False, False]
    assert rows[4]["blocked_by"] == ["CN.FREQ.CONNECTED"]


def test_pack_hours_are_looser_than_the_default_lender():
    pack_only = compile_config(load_pack("CN"), LenderConfig(pack="CN"))
    [row] = decide([make_contact(at=utc(2026, 3, 2, 13, 30))], rules=pack_only)
    assert row["allowed"]


def test_complaint_hold_can_be_switched_off():
    rules = compile_config(
        load_pack("CN"), DEFAULT_LENDER.model_copy(update={"complaint_hold": False})
    )
    [row] = decide([make_contact()], hold_rows=[make_hold(kind="complaint")], rules=rules)
    assert row["allowed"]


def test_massachusetts_overlay_is_off_by_default_and_can_be_enabled():
    texts = [
        make_attempt(channel="sms", outcome="delivered", at=utc(2026, 2, 27, 15, i))
        for i in range(2)
    ]
    contact = make_contact(channel="sms", at=utc(2026, 3, 2, 15), timezone="America/New_York")
    assert decide([contact], texts, rules=US)[0]["allowed"]
    ma = compile_config(load_pack("US"), LenderConfig(pack="US", enable=["US.MA.2IN7"]))
    assert decide([contact], texts, rules=ma)[0]["blocked_by"] == ["US.MA.2IN7"]


HOLIDAYS = compile_config(
    load_pack("CN"),
    LenderConfig(
        pack="CN", overrides={"CN.HOURS.QUIET": {"end": "21:00"}}, holidays={"country": "CN"}
    ),
)


def test_holidays_are_off_by_default():
    [row] = decide([make_contact(at=utc(2026, 10, 1, 2))])  # National Day
    assert row["allowed"]


def test_holidays_block_when_the_lender_turns_them_on_and_skip_to_the_next_working_day():
    [row] = decide([make_contact(at=utc(2026, 10, 1, 2))], rules=HOLIDAYS)
    assert row["blocked_by"] == ["CN.HOLIDAYS"]
    earliest = row["earliest_allowed_at"]
    assert earliest is not None and earliest.date() > date(2026, 10, 3)
    assert earliest.hour == 0  # 08:00 Shanghai
    [row] = decide([make_contact(at=utc(2026, 10, 12, 2))], rules=HOLIDAYS)
    assert row["allowed"]


def test_null_timezone_uses_the_default_zone():
    [row] = decide([make_contact(timezone=None, at=utc(2026, 3, 2, 13, 30))])
    assert row["blocked_by"] == ["CN.HOURS.QUIET"]


def test_empty_plan():
    assert decide([]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explain_names_each_rule_with_its_source(lang):
    [row] = decide([make_contact(at=utc(2026, 3, 2, 13, 30), provenance="address_book")])
    lines = explain(row, CN, lang)
    assert any("CN.DATA.CONTACT_SOURCE" in x and "PIPL" in x for x in lines)
    assert any("CN.HOURS.QUIET" in x and "CBA-2026" in x for x in lines)
    # one line per blocking rule (plus the lender's effective parameters), then the time
    assert sum(x.startswith(("被 CN.", "Blocked by CN.")) for x in lines) == 2
    [ok] = decide([make_contact()])
    assert len(explain(ok, CN, lang)) == 1


def test_a_debt_assigned_before_the_window_opens_waits_for_its_notice():
    """Found by the property test: blocked by quiet hours at 21:30, but the debt is
    assigned at 22:00 and its notice logged only the next day at 09:30."""
    late = utc(2026, 3, 2, 13, 30)  # 21:30 in Shanghai
    flag = make_flags(assigned_at=utc(2026, 3, 2, 14), assignment_notified_at=None)
    [never] = decide([make_contact(at=late)], flag_rows=[flag])
    assert never["blocked_by"] == ["CN.HOURS.QUIET"]
    assert never["earliest_allowed_at"] is None  # no notice logged: time alone will not do
    flag = make_flags(
        assigned_at=utc(2026, 3, 2, 14), assignment_notified_at=utc(2026, 3, 3, 1, 30)
    )
    [row] = decide([make_contact(at=late)], flag_rows=[flag])
    assert row["earliest_allowed_at"] == utc(2026, 3, 3, 1, 30)  # 09:30 local, the notice


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_frequency_block_says_that_pending_calls_count(lang):
    """An agent blocked by a daily cap learns that calls without a recorded outcome count."""
    rows = decide([make_contact(contact_id=i, at=utc(2026, 3, 2, 3, i)) for i in range(4)])
    assert rows[-1]["blocked_by"] == ["CN.FREQ.CONNECTED"]
    lines = explain(rows[-1], CN, lang)
    assert any(("尚未登记结果" in x) if lang == "zh" else ("not recorded yet" in x) for x in lines)
    quiet = decide([make_contact(at=utc(2026, 3, 2, 13, 30))])[0]
    assert not any("尚未登记结果" in x or "not recorded yet" in x for x in explain(quiet, CN, lang))
