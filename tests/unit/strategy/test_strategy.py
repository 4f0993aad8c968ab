"""Strategy files, the condition language, segmentation, arms and the day's actions."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from forbear.domain.strategy import (
    StrategyRejected,
    compile_strategy,
    default_strategy,
    default_text,
    parse_strategy,
)
from forbear.domain.strategy.compile import arm_slot
from forbear.domain.strategy.schema import ACCOUNT, PLAN_TREATMENT

AS_OF = date(2026, 6, 1)


def make_account(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        loan_id=1, borrower_id=1, as_of=AS_OF, dpd=0, bucket="C", days_to_due=10,
        outstanding=100_000, overdue_total=0, status="active", behaviour_tier="B",
        ew_tier="B", ew_pd=0.05, propensity=0.6, hold_any=False, active_plan=False,
        active_promise=False, broken_promises_90d=0, limitation_expired=False,
        hardship=False, days_in_segment=None, last_payment_date=None,
    )  # fmt: skip
    row.update(over)
    return row


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ACCOUNT)


BASE = """\
name: t
segments:
  - id: late
    when: dpd >= 1
    treatment: remind
treatments:
  - id: remind
    actions:
      - {on_dpd: 1, channel: sms, template: T1, purpose: remind}
"""


def rejected(text: str, known: tuple[str, ...] = ()) -> StrategyRejected:
    with pytest.raises(StrategyRejected) as e:
        parse_strategy(text, "s.yaml", known)
    return e.value


def test_the_default_strategy_validates() -> None:
    s = default_strategy()
    assert s.name == "CN_default" and s.spec.experiments[0].segment == "m1"


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "reason"),
    [
        ("    when: dpd >= 1", "    when: dpd >= 1\n    colour: red", 5, "segments[0].colour",
         "unknown field"),
        ("channel: sms", "channel: pigeon", 9, "treatments[0].actions[0].channel", "pigeon"),
        ("{on_dpd: 1,", "{on_dpd: -1,", 9, "treatments[0].actions[0].on_dpd", "negative"),
        ("when: dpd >= 1", "when: dpd < 0", 4, "segments[0].when", "never hold"),
        ("when: dpd >= 1", "when: {all: [dpd > 30, dpd < 10]}", 4, "segments[0].when",
         "never hold"),
        ("when: dpd >= 1", "when: mood >= 1", 4, "segments[0].when", "unknown field 'mood'"),
        ("treatment: remind", "treatment: nope", 5, "segments[0].treatment", "unknown treatment"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_file_line_and_key(
    old: str, new: str, line: int, key: str, reason: str
) -> None:
    e = rejected(BASE.replace(old, new, 1))
    assert (e.source, e.line, e.key) == ("s.yaml", line, key)
    assert reason in e.reason


def test_unknown_template_and_bad_shares_are_refused() -> None:
    e = rejected(BASE, known=("OTHER", "CN.PLAN.REMIND"))
    assert (e.line, e.key) == (9, "treatments[0].actions[0].template")
    bad = (
        BASE
        + """\
experiments:
  - id: x
    segment: late
    arms:
      - {name: champion, treatment: remind, share: 0.5}
      - {name: control, treatment: remind, share: 0.4}
"""
    )
    e = rejected(bad)
    assert (e.line, e.key) == (13, "experiments[0].arms") and "add up to 0.9" in e.reason
    e = rejected(bad.replace("name: control", "name: other").replace("0.4", "0.5"))
    assert "control" in e.reason


def test_first_match_wins_and_the_plan_only_rule() -> None:
    c = compile_strategy(default_strategy())
    accounts = frame(
        make_account(loan_id=1, dpd=95, hold_any=True),
        make_account(loan_id=2, dpd=95),
        make_account(loan_id=3, dpd=5, hardship=True),
        make_account(loan_id=4, dpd=0, days_to_due=3, active_plan=True),
        make_account(loan_id=5, dpd=0, days_to_due=2, ew_tier="E"),
    )
    got = c.assign(accounts.lazy()).collect()
    assert got["segment"].to_list() == ["on_hold", "m3_legal", "m1_hardship",
                                        "builtin.on_plan", "predue_watch"]  # fmt: skip
    acts = c.actions_for(got.lazy(), AS_OF).collect()
    plan = acts.filter(loan_id=4)
    assert plan["treatment"].to_list() == [PLAN_TREATMENT]
    assert plan["template"].to_list() == ["CN.PLAN.REMIND"]
    assert acts.filter(loan_id=1).height == 0


def test_arms_are_stable_and_match_their_shares() -> None:
    c = compile_strategy(default_strategy())
    n = 100_000
    accounts = pl.DataFrame(
        {"loan_id": range(1, n + 1)}, schema={"loan_id": pl.Int64}
    ).with_columns(
        **{
            k: pl.lit(v, dtype=ACCOUNT[k])
            for k, v in make_account(dpd=10).items()
            if k != "loan_id"
        }
    )
    a = c.assign(accounts.lazy()).collect()
    b = c.assign(accounts.sample(fraction=1.0, shuffle=True, seed=7).lazy()).collect()
    assert a.sort("loan_id")["arm"].equals(b.sort("loan_id")["arm"])
    shares = a["arm"].value_counts(normalize=True)
    share = dict(zip(shares["arm"], shares["proportion"], strict=True))
    assert abs(share["champion"] - 0.45) < 0.01 and abs(share["control"] - 0.10) < 0.005
    # the vectorised arm equals the scalar reference (stable across processes/versions)
    for loan_id, arm in a.head(200).select("loan_id", "arm").iter_rows():
        slot = arm_slot(loan_id, "m1_callback_timing")
        want = "champion" if slot < 450_000 else "challenger" if slot < 900_000 else "control"
        assert arm == want
    assert arm_slot(1, "m1_callback_timing") == arm_slot(1, "m1_callback_timing")


def test_control_arm_gets_no_contacts() -> None:
    c = compile_strategy(default_strategy())
    ids = [i for i in range(1, 2000) if arm_slot(i, "m1_callback_timing") >= 900_000][:20]
    accounts = frame(*(make_account(loan_id=i, dpd=1) for i in ids))
    a = c.assign(accounts.lazy()).collect()
    assert set(a["arm"]) == {"control"}
    assert c.actions_for(a.lazy(), AS_OF).collect().height == 0


def test_one_row_equals_batch() -> None:
    c = compile_strategy(default_strategy())
    rows = [
        make_account(loan_id=i, borrower_id=i, dpd=d, days_to_due=t, ew_tier=e)
        for i, (d, t, e) in enumerate(
            [(1, None, "A"), (3, None, "B"), (7, None, "C"), (0, 3, "D"), (31, None, "E"),
             (61, None, "A"), (90, None, "A"), (4, None, "B")], start=1
        )
    ]  # fmt: skip
    batch = c.what_now(frame(*rows), AS_OF)
    one = pl.concat([c.what_now(frame(r), AS_OF) for r in rows])
    assert batch.equals(one.sort("loan_id", "action_index"))
    assert batch.height > 0


def test_legal_review_needs_the_criteria_whatever_the_yaml_says() -> None:
    text = default_text().replace("all: [dpd >= 90, not: limitation_expired]", "dpd >= 90")
    c = compile_strategy(parse_strategy(text))
    acts = c.what_now(frame(make_account(dpd=90, limitation_expired=True)), AS_OF)
    assert "legal_review" not in acts["channel"].to_list()
