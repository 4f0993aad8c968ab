"""The daily run plans location contacts (issue 17, item 3), on the kernel's frames.

An overdue debtor the pack counts as unreachable (CN.3P.LOST_CONTACT_GATE: here three
failed dials on earlier days, an invalid number or a human's flag) with an emergency
contact point that no refusal and no hold stops gets ONE location contact from the
shipped strategy's ``lost_contact`` segment: to the emergency contact's point, party
``emergency_contact``, purpose ``locate``, no demand, and the gate lets it through. A
reachable debtor, a refused or held point, or no emergency contact gets none (the
account falls to its usual segment). A text uses a template only when it is the
no-disclosure script; otherwise CN.3P.NO_DISCLOSE blocks it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from forbear.batch import kernel
from forbear.batch.contacts import SCRIPTS
from forbear.batch.kernel import DayFrames
from forbear.domain.compliance.config import default_rules
from forbear.domain.compliance.locate import CANDIDATES
from forbear.domain.strategy import compile_strategy, default_strategy, parse_strategy
from forbear.domain.strategy.model import StrategyRejected

AS_OF = date(2026, 6, 10)
HOUR = time(10, 0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = default_rules("CN")
COMPILED = compile_strategy(default_strategy())
BORROWER, LOAN = 1, 11
DEBTOR_POINT, EMERGENCY_POINT = 101, 201
# dpd 8: the lost_contact segment's weekly call falls on days 0, 7, ... in the segment
# (dpd 1, 8, 15, ...); its text on days 3, 10, ... (dpd 4, 11, ...)
CALL_DPD, SMS_DPD = 8, 11


def _account(dpd: int, **o: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "loan_id": LOAN,
        "borrower_id": BORROWER,
        "as_of": AS_OF,
        "dpd": dpd,
        "bucket": "M1",
        "days_to_due": None,
        "outstanding": 500_000,
        "overdue_total": 120_000,
        "status": "active",
        "hold_any": False,
        "active_plan": False,
        "active_promise": False,
        "broken_promises_90d": 0,
        "limitation_expired": False,
        "hardship": False,
        "days_in_segment": None,
        "last_payment_date": None,
    }
    row.update(o)
    return row


def _dial(days_back: int, outcome: str, hour: int = 11) -> dict[str, Any]:
    at = datetime.combine(AS_OF - timedelta(days=days_back), time(hour), SHANGHAI)
    return {
        "borrower_id": BORROWER,
        "loan_id": LOAN,
        "contact_point_id": DEBTOR_POINT,
        "channel": "call",
        "party": "debtor",
        "at": at.astimezone(UTC),
        "outcome": outcome,
        "agency_id": None,
    }


FAILED_DIALS = [_dial(1, "no_answer", 9), _dial(1, "busy", 11), _dial(1, "no_answer", 15)]


def _emergency(point: int = EMERGENCY_POINT, primary: bool = True) -> dict[str, Any]:
    return {
        "borrower_id": BORROWER,
        "kind": "phone",
        "contact_point_id": point,
        "provenance": "supplied_by_debtor",
        "party": "emergency_contact",
        "is_primary": primary,
    }


def day(
    dpd: int = CALL_DPD,
    history: list[dict[str, Any]] | None = None,
    emergency: list[dict[str, Any]] | None = None,
    holds: list[dict[str, Any]] | None = None,
    unreachable_since: datetime | None = None,
    scripts: dict[str, bool] | None = None,
) -> DayFrames:
    return DayFrames(
        accounts=pl.DataFrame([_account(dpd)]),
        carried=pl.DataFrame(schema=kernel.ACTIONS),
        points=pl.DataFrame(
            [
                {
                    "borrower_id": BORROWER,
                    "kind": "phone",
                    "contact_point_id": DEBTOR_POINT,
                    "provenance": "contract",
                }
            ],
            schema=kernel.POINTS,
        ),
        zones=pl.DataFrame([{"borrower_id": BORROWER, "timezone": "Asia/Shanghai"}]),
        history=pl.DataFrame(
            FAILED_DIALS if history is None else history, schema=kernel.TABLES["history"]
        ),
        flags=pl.DataFrame(
            [
                {
                    "loan_id": LOAN,
                    "borrower_id": BORROWER,
                    "last_due_date": AS_OF + timedelta(days=200),
                    "debtor_unreachable_since": unreachable_since,
                }
            ],
            schema=kernel.TABLES["flags"],
        ),
        holds=pl.DataFrame(holds or [], schema=kernel.TABLES["holds"]),
        emergency=pl.DataFrame(
            [_emergency()] if emergency is None else emergency, schema=CANDIDATES
        ),
        scripts=pl.DataFrame(
            [{"template": t, "no_disclosure": ok} for t, ok in (scripts or {}).items()],
            schema=SCRIPTS,
        ),
    )


def decide(frames: DayFrames, compiled: Any = COMPILED) -> kernel.Decided:
    return kernel.decide(frames, compiled, RULES, AS_OF, HOUR)


def locates(decided: kernel.Decided) -> pl.DataFrame:
    return decided.gated.filter(pl.col("purpose") == "locate")


def test_an_unreachable_debtor_with_an_emergency_contact_gets_one_location_call() -> None:
    decided = decide(day())
    assert decided.assigned["segment"].to_list() == ["lost_contact"]
    (row,) = decided.gated.iter_rows(named=True)  # the only action of the day
    assert row["purpose"] == "locate" and row["channel"] == "call"
    assert row["template"] == "CN.LOCATE.CALL"
    assert row["contact_point_id"] == EMERGENCY_POINT  # not the debtor's dead number
    assert row["is_demand"] is False
    assert row["allowed"] is True, row["blocked_by"]


@pytest.mark.parametrize(
    "why",
    ["invalid_number", "human_flag"],
)
def test_the_other_lost_contact_facts_open_the_segment_too(why: str) -> None:
    if why == "invalid_number":
        frames = day(history=[_dial(2, "invalid_number")])
    else:
        frames = day(history=[], unreachable_since=datetime(2026, 6, 1, tzinfo=UTC))
    decided = decide(frames)
    assert decided.assigned["segment"].to_list() == ["lost_contact"]
    assert locates(decided)["contact_point_id"].to_list() == [EMERGENCY_POINT]
    assert locates(decided)["allowed"].to_list() == [True]


def test_a_reachable_debtor_gets_no_location_contact() -> None:
    # the last dial connected: reachable; two failures are not three
    for history in (
        [*FAILED_DIALS[:2], _dial(1, "connected", 16)],
        FAILED_DIALS[:2],
        [],
    ):
        decided = decide(day(history=history))
        assert decided.assigned["segment"].to_list() == ["m1"], history
        assert locates(decided).height == 0


def test_three_failed_dials_today_open_the_gate_only_from_tomorrow() -> None:
    # the pack's "from the next day": dials earlier on the run's own day do not count yet
    today = [
        {**_dial(0, "no_answer", h), "at": datetime.combine(AS_OF, time(h), SHANGHAI)}
        for h in (7, 8, 9)
    ]
    for row in today:
        row["at"] = row["at"].astimezone(UTC)
    assert decide(day(history=today)).assigned["segment"].to_list() == ["m1"]


def test_a_refused_or_held_emergency_contact_gets_none() -> None:
    refused = {
        **_dial(3, "refused"),
        "contact_point_id": EMERGENCY_POINT,
        "party": "emergency_contact",
    }
    decided = decide(day(history=[*FAILED_DIALS, refused]))
    assert decided.assigned["segment"].to_list() == ["m1"]  # emergency_contact is false
    assert locates(decided).height == 0
    held = {
        "borrower_id": BORROWER,
        "loan_id": None,
        "kind": "do_not_contact",
        "channel": None,
        "contact_point_id": EMERGENCY_POINT,  # e.g. the number marked invalid
        "since": datetime(2026, 6, 1, tzinfo=UTC),
        "until": None,
    }
    decided = decide(day(holds=[held]))
    assert locates(decided).height == 0
    assert decided.assigned["segment"].to_list() == ["m1"]


def test_a_second_emergency_contact_is_used_when_the_first_refused() -> None:
    refused = {
        **_dial(3, "refused"),
        "contact_point_id": EMERGENCY_POINT,
        "party": "emergency_contact",
    }
    frames = day(
        history=[*FAILED_DIALS, refused],
        emergency=[_emergency(), _emergency(EMERGENCY_POINT + 1, primary=False)],
    )
    assert locates(decide(frames))["contact_point_id"].to_list() == [EMERGENCY_POINT + 1]


def test_no_emergency_contact_gets_none() -> None:
    decided = decide(day(emergency=[]))
    assert decided.assigned["segment"].to_list() == ["m1"]
    assert locates(decided).height == 0


def test_a_location_text_passes_only_with_the_no_disclosure_template() -> None:
    ok = decide(day(dpd=SMS_DPD, scripts={"CN.LOCATE.SMS": True}))
    (row,) = locates(ok).iter_rows(named=True)
    assert row["channel"] == "sms" and row["contact_point_id"] == EMERGENCY_POINT
    assert row["allowed"] is True, row["blocked_by"]
    # not approved, not for third parties, or failing the check: unknown is unsafe
    for scripts in ({}, {"CN.LOCATE.SMS": False}):
        (row,) = locates(decide(day(dpd=SMS_DPD, scripts=scripts))).iter_rows(named=True)
        assert row["allowed"] is False and row["blocked_by"] == ["CN.3P.NO_DISCLOSE"]


def test_a_location_step_without_a_usable_point_is_blocked_as_having_none() -> None:
    # a strategy that plans a location call whatever the facts: the run has nowhere to
    # call and says so; the gate's lost-contact rule is not even asked
    text = """
name: locate_everyone
segments: [{id: all_, when: always, treatment: t}]
treatments:
  - id: t
    actions: [{every: 1, channel: call, template: CN.LOCATE.CALL, purpose: locate}]
"""
    compiled = compile_strategy(parse_strategy(text))
    (row,) = decide(day(emergency=[]), compiled).gated.iter_rows(named=True)
    assert row["blocked_by"] == ["RUN.NO_CONTACT_POINT"] and row["contact_point_id"] is None
    # with a point but a reachable debtor: the gate blocks it, with the pack's rule
    (row,) = decide(day(history=[]), compiled).gated.iter_rows(named=True)
    assert row["contact_point_id"] == EMERGENCY_POINT
    assert row["blocked_by"] == ["CN.3P.LOST_CONTACT_GATE"]


def test_under_the_us_pack_a_location_contact_is_blocked_by_the_engine() -> None:
    text = """
name: locate_everyone
segments: [{id: all_, when: always, treatment: t}]
treatments:
  - id: t
    actions: [{every: 1, channel: call, template: CN.LOCATE.CALL, purpose: locate}]
"""
    compiled = compile_strategy(parse_strategy(text))
    frames = day()
    decided = kernel.decide(frames, compiled, default_rules("US"), AS_OF, HOUR)
    (row,) = decided.gated.iter_rows(named=True)
    assert row["contact_point_id"] == EMERGENCY_POINT
    assert row["allowed"] is False and row["blocked_by"] == ["US.3P.UNDEFINED"]
    # the US pack has no lost-contact rule: the field is unknown, not false
    assigned = kernel._with_locate_facts(frames.conformed(), default_rules("US"), AS_OF, HOUR)[0]
    assert assigned["debtor_unreachable"].to_list() == [None]


@pytest.mark.parametrize(
    ("action", "key", "reason"),
    [
        ("{day: 0, channel: email, template: X, purpose: locate}", "channel", "emergency"),
        (
            "{day: 0, channel: call, template: X, purpose: locate, legally_required: true}",
            "legally_required",
            "not a notice",
        ),
        ("{every: 0, channel: sms, template: X, purpose: remind}", "every", "at least 1"),
        ("{on_dpd: 3, every: 7, channel: sms, template: X, purpose: remind}", "", "on_dpd"),
    ],
)
def test_strategy_files_refuse_bad_location_steps(action: str, key: str, reason: str) -> None:
    text = f"""
name: s
segments: [{{id: a, when: always, treatment: t}}]
treatments:
  - id: t
    actions: [{action}]
"""
    with pytest.raises(StrategyRejected) as err:
        parse_strategy(text)
    assert reason in str(err.value) and key in err.value.key


def test_every_repeats_from_its_day() -> None:
    text = """
name: s
segments: [{id: a, when: "dpd >= 1", treatment: t}]
treatments:
  - id: t
    actions: [{day: 3, every: 7, channel: sms, template: X, purpose: remind}]
"""
    compiled = compile_strategy(parse_strategy(text))
    fired = []
    for dpd in range(1, 30):
        acts = compiled.what_now(pl.DataFrame([_account(dpd)]), AS_OF)
        if acts.height:
            fired.append(dpd)
    # days in segment = dpd - 1 (estimated from the entry bound): days 3, 10, 17, 24
    assert fired == [4, 11, 18, 25]
