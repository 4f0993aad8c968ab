"""Eligibility for the legal review queue: one Polars function, checked against the
criteria written out plainly on generated accounts."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from forbear.domain.legal.config import Eligibility, default_config
from forbear.domain.legal.eligibility import CRITERIA, LEGAL_ACCOUNTS, assess, reasons, summary

RULES = default_config().eligibility


def account(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "loan_id": 1,
        "borrower_id": 1,
        "status": "active",
        "dpd": 120,
        "outstanding_principal": 500_000,
        "overdue_principal": 200_000,
        "overdue_interest": 20_000,
        "overdue_penalty": 5_000,
        "overdue_fee": 0,
        "broken_promises_90d": 0,
        "days_since_last_contact": 45,
        "hold_any": False,
        "hardship": False,
        "active_plan": False,
        "limitation_expired": False,
    }
    row.update(overrides)
    return row


def run(rows: list[dict[str, Any]], rules: Eligibility = RULES) -> pl.DataFrame:
    return assess(pl.DataFrame(rows, schema=LEGAL_ACCOUNTS).lazy(), rules).collect()


def test_an_account_meeting_every_criterion_is_eligible_with_its_reasons() -> None:
    row = run([account()]).row(0, named=True)
    assert row["eligible"] and row["failed"] == []
    assert row["claimable"] == 525_000
    found = reasons(row, RULES)
    assert [r["criterion"] for r in found] == list(CRITERIA)
    assert all(r["held"] for r in found)
    assert found[0] == {"criterion": "dpd", "held": True, "value": 120, "min": 90}
    assert "dpd 120>=90" in summary(found) and "45d since contact" in summary(found)


def test_each_criterion_alone_makes_an_account_ineligible() -> None:
    cases = {
        "dpd": account(dpd=89),
        "engagement": account(days_since_last_contact=29, broken_promises_90d=1),
        "balance": account(outstanding_principal=200_000, overdue_interest=0, overdue_penalty=0),
        "status": account(status="paid_off"),
        "no_hold": account(hold_any=True),
        "no_plan": account(active_plan=True),
        "limitation": account(limitation_expired=True),
    }
    frame = run([row | {"loan_id": i} for i, row in enumerate(cases.values())])
    for (name, _), row in zip(cases.items(), frame.iter_rows(named=True), strict=True):
        assert not row["eligible"]
        assert row["failed"] == [name]


def test_engagement_is_broken_promises_or_silence_and_never_contacted_counts_as_silence() -> None:
    frame = run(
        [
            account(loan_id=1, days_since_last_contact=3, broken_promises_90d=2),
            account(loan_id=2, days_since_last_contact=None, broken_promises_90d=0),
            account(loan_id=3, days_since_last_contact=30, broken_promises_90d=0),
            account(loan_id=4, days_since_last_contact=3, broken_promises_90d=1),
        ]
    )
    assert frame["ok_engagement"].to_list() == [True, True, True, False]


def test_a_vulnerable_customer_is_not_escalated() -> None:
    row = run([account(hardship=True)]).row(0, named=True)
    assert row["failed"] == ["no_hold"]


def test_a_written_off_debt_is_still_owed() -> None:
    assert run([account(status="written_off")])["eligible"].to_list() == [True]


def test_a_lender_s_tighter_threshold_applies() -> None:
    tighter = RULES.model_copy(update={"min_dpd": 180, "min_balance": 600_000})
    row = run([account()], tighter).row(0, named=True)
    assert row["failed"] == ["dpd", "balance"]


def plain(row: dict[str, Any], rules: Eligibility) -> bool:
    """The criteria written out once more, the way docs/legal.md states them."""
    claimable = (
        row["outstanding_principal"]
        + row["overdue_interest"]
        + row["overdue_penalty"]
        + row["overdue_fee"]
    )
    silent = row["days_since_last_contact"]
    engaged = row["broken_promises_90d"] >= rules.min_broken_promises or (
        silent is None or silent >= rules.no_contact_days
    )
    return (
        row["dpd"] >= rules.min_dpd
        and engaged
        and claimable >= rules.min_balance
        and row["status"] != "paid_off"
        and not row["hold_any"]
        and not row["hardship"]
        and not row["active_plan"]
        and not row["limitation_expired"]
    )


accounts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "paid_off", "written_off"]),
        "dpd": st.integers(0, 400),
        "outstanding_principal": st.integers(0, 2_000_000),
        "overdue_interest": st.integers(0, 100_000),
        "overdue_penalty": st.integers(0, 100_000),
        "overdue_fee": st.integers(0, 10_000),
        "broken_promises_90d": st.integers(0, 4),
        "days_since_last_contact": st.none() | st.integers(0, 200),
        "hold_any": st.booleans(),
        "hardship": st.booleans(),
        "active_plan": st.booleans(),
        "limitation_expired": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(accounts, min_size=1, max_size=30))
def test_the_frame_function_agrees_with_the_criteria_row_by_row(rows: list[dict[str, Any]]) -> None:
    full = [account(loan_id=i, **row) for i, row in enumerate(rows)]
    frame = run(full)
    assert frame["eligible"].to_list() == [plain(row, RULES) for row in full]
