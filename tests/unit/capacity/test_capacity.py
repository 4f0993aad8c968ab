"""Capacity allocation: limits, value order, continuity, carry-over, one call per borrower."""

from __future__ import annotations

import polars as pl
import pytest
from factories_capacity import action, agent, config, frame

from forbear.domain.capacity import (
    CapacityConfig,
    allocate,
    default_capacity,
    load_capacity,
    summary,
)
from forbear.domain.errors import ConfigurationError, ValidationError

AGENT_NO_SKILLS = (
    "teams:\n  - id: T\n    agents:\n      - {id: a, calls_per_day: 5, skills: [], langs: [zh]}\n"
)


def by_id(out: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["action_id"]: row for row in out.iter_rows(named=True)}


# --------------------------------------------------------------------------- config


def test_default_capacity_loads_and_names_every_channel() -> None:
    cfg = default_capacity()
    assert cfg.limit("sms") == 50000
    assert cfg.limit("visit") == 50
    assert cfg.teams and all(team.agents for team in cfg.teams)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("channels:\n  sms: -1\n", "channels"),
        (
            AGENT_NO_SKILLS,
            "teams[0].agents[0].skills",
        ),
        (
            "teams:\n  - id: T\n    agents:\n"
            "      - {id: a, calls_per_day: -5, skills: [x], langs: [zh]}\n",
            "teams[0].agents[0].calls_per_day",
        ),
        (
            "teams:\n  - id: T\n    agents:\n"
            "      - {id: a, calls_per_day: 5, skills: [x], langs: [zh]}\n"
            "      - {id: a, calls_per_day: 5, skills: [x], langs: [zh]}\n",
            "duplicate agent id 'a'",
        ),
        ("teams:\n  - {id: T, agents: []}\n  - {id: T, agents: []}\n", "duplicate team id 'T'"),
        ("channels:\n  fax: 3\n", "channels"),
        ("chanels:\n  sms: 3\n", "chanels"),
        ("channels: [", "not valid YAML"),
    ],
)
def test_bad_config_is_refused_naming_file_and_key(text: str, needle: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_capacity(text, "lender/capacity.yaml")
    assert "lender/capacity.yaml" in str(err.value)
    assert needle in str(err.value)


def test_bad_config_names_the_line() -> None:
    text = AGENT_NO_SKILLS
    with pytest.raises(ConfigurationError, match=r"cap\.yaml:4: "):
        load_capacity(text, "cap.yaml")


def test_missing_columns_and_unknown_channel_are_refused() -> None:
    with pytest.raises(ValidationError, match="missing columns"):
        allocate(frame([action(1)]).drop("skill"), config())
    with pytest.raises(ValidationError, match="fax"):
        allocate(frame([action(1, channel="fax")]), config())


# --------------------------------------------------------------------------- automated channels


def test_automated_channel_takes_top_n_by_priority_then_value() -> None:
    rows = [
        action(1, channel="sms", priority=1, expected_recovery=900),
        action(2, channel="sms", priority=2, expected_recovery=10),
        action(3, channel="sms", priority=1, expected_recovery=500),
        action(4, channel="sms", priority=1, expected_recovery=100),
        action(5, channel="letter", priority=1, expected_recovery=1),
    ]
    out = by_id(allocate(frame(rows), config(channels={"sms": 2, "letter": 0})))
    assert [k for k, r in out.items() if r["scheduled"]] == ["A1", "A2"]
    assert out["A2"]["rank"] == 1 and out["A1"]["rank"] == 2 and out["A3"]["rank"] == 3
    assert out["A3"]["carried"] and out["A3"]["carry_reason"] == "channel_limit"
    assert out["A5"]["carried"]
    assert all(r["agent_id"] is None for r in out.values())


def test_channel_without_limit_takes_everything_and_rows_keep_their_order() -> None:
    rows = [action(i, channel="app_push") for i in range(10)]
    out = allocate(frame(rows), config())
    assert out.get_column("scheduled").all()
    assert out.get_column("action_id").to_list() == [f"A{i}" for i in range(10)]
    assert out.columns[:9] == frame(rows).columns


# --------------------------------------------------------------------------- agents


def test_agent_limits_and_skill_and_language() -> None:
    cfg = config(
        agents=[
            agent("a", 2),
            agent("b", 1, skills=("hardship",), langs=("zh", "en")),
        ]
    )
    rows = [action(i, expected_recovery=100 - i) for i in range(5)]
    rows += [action(10, skill="hardship", lang="en"), action(11, skill="legal")]
    out = by_id(allocate(frame(rows), cfg))
    assert {k for k, r in out.items() if r["agent_id"] == "a"} == {"A0", "A1"}
    assert out["A10"]["agent_id"] == "b" and out["A10"]["team_id"] == "T1"
    assert out["A2"]["carry_reason"] == "agent_capacity"
    assert out["A11"]["carry_reason"] == "no_eligible_agent"


def test_null_skill_or_language_finds_no_agent() -> None:
    cfg = config(agents=[agent("a", 5)])
    out = by_id(allocate(frame([action(1, skill=None), action(2, lang=None), action(3)]), cfg))
    assert out["A1"]["carry_reason"] == out["A2"]["carry_reason"] == "no_eligible_agent"
    assert out["A3"]["agent_id"] == "a"


def test_agent_channel_limit_applies_on_top_of_agents() -> None:
    cfg = config(channels={"visit": 1}, agents=[agent("a", 10)])
    rows = [action(i, channel="visit", expected_recovery=i) for i in range(3)]
    out = by_id(allocate(frame(rows), cfg))
    assert [k for k, r in out.items() if r["scheduled"]] == ["A2"]
    assert out["A1"]["carry_reason"] == "channel_limit"


def test_agent_channels_restrict_eligibility() -> None:
    cfg = config(
        agents=[agent("caller", 5, channels=("call",)), agent("field", 5, channels=("visit",))]
    )
    out = by_id(allocate(frame([action(1), action(2, channel="visit")]), cfg))
    assert out["A1"]["agent_id"] == "caller" and out["A2"]["agent_id"] == "field"


def test_higher_value_is_scheduled_first_and_ranks_follow_the_queue() -> None:
    cfg = config(agents=[agent("a", 3)])
    rows = [action(i, expected_recovery=v) for i, v in enumerate([5, 50, 20, 40, 10])]
    out = by_id(allocate(frame(rows), cfg))
    assert {k for k, r in out.items() if r["scheduled"]} == {"A1", "A3", "A2"}
    assert [out[k]["rank"] for k in ("A1", "A3", "A2")] == [1, 2, 3]


def test_priority_beats_value() -> None:
    cfg = config(agents=[agent("a", 1)])
    out = by_id(
        allocate(
            frame([action(1, expected_recovery=10**9), action(2, priority=5, expected_recovery=1)]),
            cfg,
        )
    )
    assert out["A2"]["scheduled"] and not out["A1"]["scheduled"]


def test_work_is_spread_to_the_agent_with_most_remaining_capacity() -> None:
    cfg = config(agents=[agent("a", 3), agent("b", 1)])
    rows = [action(i, expected_recovery=100 - i) for i in range(3)]
    out = by_id(allocate(frame(rows), cfg))
    # a (3) takes the first, then a (2) > b (1) takes the second, then a=b=1: tie by id -> a
    assert [out[f"A{i}"]["agent_id"] for i in range(3)] == ["a", "a", "a"]
    cfg = config(agents=[agent("a", 2), agent("b", 2)])
    out = by_id(allocate(frame(rows), cfg))
    assert [out[f"A{i}"]["agent_id"] for i in range(3)] == ["a", "b", "a"]


def test_specialist_is_kept_for_the_pool_that_needs_it() -> None:
    cfg = config(
        agents=[
            agent("gen", 1),
            agent("spec", 1, skills=("collections", "hardship")),
        ]
    )
    rows = [action(1, expected_recovery=10), action(2, skill="hardship", expected_recovery=5)]
    out = by_id(allocate(frame(rows), cfg))
    assert out["A1"]["agent_id"] == "gen" and out["A2"]["agent_id"] == "spec"


# --------------------------------------------------------------------------- continuity


def test_continuity_kept_when_possible() -> None:
    cfg = config(agents=[agent("a", 5), agent("b", 5), agent("c", 5)])
    rows = [action(i) for i in range(6)]
    prev = pl.DataFrame({"loan_id": ["L0", "L1", "L2", "L3"], "agent_id": ["c", "c", "b", "gone"]})
    out = by_id(allocate(frame(rows), cfg, prev))
    assert out["A0"]["agent_id"] == "c" and out["A1"]["agent_id"] == "c"
    assert out["A2"]["agent_id"] == "b"
    assert all(out[f"A{i}"]["scheduled"] for i in range(6))


def test_continuity_broken_only_when_previous_agent_full_or_ineligible() -> None:
    cfg = config(
        agents=[
            agent("full", 1),
            agent("en_only", 5, langs=("en",)),
            agent("other", 5),
        ]
    )
    rows = [
        action(1, expected_recovery=90),
        action(2, expected_recovery=80),  # previous agent 'full' already took A1
        action(3, expected_recovery=70),  # previous agent speaks no zh
    ]
    prev = pl.DataFrame({"loan_id": ["L1", "L2", "L3"], "agent_id": ["full", "full", "en_only"]})
    out = by_id(allocate(frame(rows), cfg, prev))
    assert out["A1"]["agent_id"] == "full"
    assert out["A2"]["agent_id"] == "other"
    assert out["A3"]["agent_id"] == "other"


def test_continuity_survives_another_pool_filled_first() -> None:
    # collections (a, b: supply 3) is served before hardship (a, c: supply 7); its greedy
    # fill must leave a's slot for the hardship borrower a called yesterday
    cfg = config(
        agents=[
            agent("a", 2, skills=("collections", "hardship")),
            agent("b", 1),
            agent("c", 5, skills=("hardship",)),
        ]
    )
    rows = [action(1), action(2), action(3, skill="hardship")]
    prev = pl.DataFrame({"loan_id": ["L3"], "agent_id": ["a"]})
    out = by_id(allocate(frame(rows), cfg, prev))
    assert out["A3"]["agent_id"] == "a"
    assert sorted(str(out[k]["agent_id"]) for k in ("A1", "A2")) == ["a", "b"]


def test_continuity_does_not_change_what_is_scheduled() -> None:
    cfg = config(agents=[agent("a", 1), agent("b", 1)])
    rows = [
        action(1, expected_recovery=90),
        action(2, expected_recovery=80),
        action(3, expected_recovery=1),
    ]
    prev = pl.DataFrame({"loan_id": ["L3"], "agent_id": ["a"]})
    out = by_id(allocate(frame(rows), cfg, prev))
    assert {k for k, r in out.items() if r["scheduled"]} == {"A1", "A2"}


# --------------------------------------------------------------------------- borrower, carry


def test_one_agent_task_per_borrower_per_day_keeps_highest_priority() -> None:
    cfg = config(agents=[agent("a", 10)])
    rows = [
        action(1, borrower_id="B", priority=1, expected_recovery=999),
        action(2, borrower_id="B", priority=3, channel="visit"),
        action(3, borrower_id="B", priority=2),
        action(4, borrower_id="B", channel="sms"),
    ]
    out = by_id(allocate(frame(rows), cfg))
    assert out["A2"]["scheduled"]
    assert out["A1"]["carry_reason"] == out["A3"]["carry_reason"] == "duplicate_borrower"
    assert out["A4"]["scheduled"]  # automated channels are not limited per borrower


def test_a_legal_review_does_not_compete_with_the_days_call() -> None:
    cfg = config(agents=[agent("a", 10, skills=("collections", "legal"))])
    rows = [
        action(1, borrower_id="B"),
        action(2, borrower_id="B", channel="legal_review", skill="legal"),
        action(3, borrower_id="B", channel="legal_review", skill="legal", priority=0),
    ]
    out = by_id(allocate(frame(rows), cfg))
    assert out["A1"]["scheduled"] and out["A2"]["scheduled"]
    assert out["A3"]["carry_reason"] == "duplicate_borrower"


def next_day(out: pl.DataFrame, new: list[dict[str, object]]) -> pl.DataFrame:
    carried = (
        out.filter(pl.col("carried"))
        .select(frame([]).columns)
        .with_columns(pl.col("carried_days") + 1)
    )
    return pl.concat([carried, frame(new)])


def test_carried_items_come_first_next_day_at_equal_priority() -> None:
    cfg = config(channels={"sms": 2}, agents=[agent("a", 2)])
    day1 = [action(i, expected_recovery=100 - i) for i in range(4)]
    day1 += [action(10 + i, channel="sms", expected_recovery=100 - i) for i in range(4)]
    out1 = allocate(frame(day1), cfg)
    assert set(out1.filter(pl.col("carried")).get_column("action_id")) == {"A2", "A3", "A12", "A13"}
    day2 = [action(20 + i, expected_recovery=1000) for i in range(2)]
    day2 += [action(30 + i, channel="sms", expected_recovery=1000) for i in range(2)]
    day2 += [action(40, priority=2, expected_recovery=1)]
    out2 = by_id(allocate(next_day(out1, day2), cfg))
    # the higher priority still comes first; then yesterday's leftovers before today's
    assert out2["A40"]["scheduled"]
    assert out2["A2"]["scheduled"] and not out2["A3"]["scheduled"]
    assert out2["A12"]["scheduled"] and out2["A13"]["scheduled"]
    assert not out2["A30"]["scheduled"] and not out2["A20"]["scheduled"]


def test_aging_off_is_pure_value_order() -> None:
    cfg = config(channels={"sms": 1}, aging=0)
    rows = [action(1, channel="sms", carried_days=3, expected_recovery=1), action(2, channel="sms")]
    out = by_id(allocate(frame(rows), cfg))
    assert out["A2"]["scheduled"] and out["A1"]["carried"]


# --------------------------------------------------------------------------- summary


def test_summary_counts_and_use() -> None:
    cfg = config(channels={"sms": 4}, agents=[agent("a", 2)])
    rows = [action(i, channel="sms") for i in range(6)] + [action(10 + i) for i in range(3)]
    out = allocate(frame(rows), cfg)
    s = summary(out, cfg)
    sms = s.filter(pl.col("channel") == "sms").row(0, named=True)
    assert (sms["planned"], sms["scheduled"], sms["carried"], sms["capacity"]) == (6, 4, 2, 4)
    assert sms["used_pct"] == 100.0
    team = s.filter(pl.col("team_id") == "T1").row(0, named=True)
    assert (team["scheduled"], team["capacity"], team["used_pct"]) == (2, 2, 100.0)
    assert summary(out).get_column("capacity").null_count() == s.height


def test_empty_input() -> None:
    out = allocate(frame([]), default_capacity())
    assert out.height == 0 and "scheduled" in out.columns
    assert isinstance(default_capacity(), CapacityConfig)
