"""The checks on a new promise, the holds that refuse one, the updates a match asks for,
and what the strategy (flags) and the dashboard (kept rates) read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from forbear.domain import promises as rules
from forbear.domain.compliance import schema as compliance
from forbear.domain.errors import ValidationError
from forbear.domain.promises import DEFAULT_POLICY, PromisePolicy, PromiseSource

TODAY = date(2026, 4, 20)
NOW = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)


def terms(**overrides: object) -> PromiseSource:
    fields: dict[str, object] = {
        "amount": 50_000,
        "promised_on": TODAY + timedelta(days=3),
        "as_of": TODAY,
        "source": "agent",
    }
    fields.update(overrides)
    return rules.check_terms(**fields)  # type: ignore[arg-type]


def test_good_terms_give_the_source() -> None:
    assert terms() is PromiseSource.AGENT
    assert terms(promised_on=TODAY) is PromiseSource.AGENT  # "I'll pay today"
    assert terms(promised_on=TODAY + timedelta(days=30), source="portal") is PromiseSource.PORTAL


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"amount": 0}, "amount", "more than zero"),
        ({"amount": -100}, "amount", "more than zero"),
        ({"amount": 12.5}, "amount", "integer number of fen"),
        ({"amount": True}, "amount", "integer number of fen"),
        ({"promised_on": TODAY - timedelta(days=1)}, "promised_on", "in the past"),
        ({"promised_on": TODAY + timedelta(days=31)}, "promised_on", "more than 30 days"),
        ({"source": "web"}, "source", "unknown value 'web'"),
    ],
)
def test_bad_terms_are_refused_with_the_field_and_reason(
    overrides: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        terms(**overrides)
    assert caught.value.field == field
    assert fragment in caught.value.reason


def test_the_horizon_is_the_lenders_policy() -> None:
    week = PromisePolicy(horizon_days=7)
    with pytest.raises(ValidationError, match="more than 7 days"):
        terms(promised_on=TODAY + timedelta(days=8), policy=week)


def test_the_amount_may_not_exceed_what_the_loan_can_owe_and_no_figure_is_shown() -> None:
    state = {
        "outstanding_principal": 800_000,
        "overdue_interest": 12_000,
        "overdue_fee": 2_000,
        "overdue_penalty": 1_234,
        "next_due_amount": None,  # the last instalment is overdue
    }
    owed = rules.most_owed(state)
    assert owed == 815_234
    rules.check_amount_owed(owed, owed)
    with pytest.raises(ValidationError) as caught:
        rules.check_amount_owed(owed + 1, owed)
    assert caught.value.field == "amount"
    assert "815" not in str(caught.value) and "8,152" not in str(caught.value)


def holds(*rows: dict[str, object]) -> pl.DataFrame:
    base = {
        "borrower_id": 1,
        "loan_id": None,
        "kind": "dispute",
        "channel": None,
        "contact_point_id": None,
        "since": NOW - timedelta(days=1),
        "until": None,
    }
    return pl.DataFrame([base | row for row in rows], schema=compliance.HOLDS)


def test_a_dispute_refuses_an_agent_but_not_the_borrower_in_the_portal() -> None:
    dispute = holds({"kind": "dispute"})
    assert rules.refusing_hold(dispute, loan_id=5, source=PromiseSource.AGENT, at=NOW) == "dispute"
    assert rules.refusing_hold(dispute, loan_id=5, source=PromiseSource.ASSISTANT, at=NOW)
    assert rules.refusing_hold(dispute, loan_id=5, source=PromiseSource.PORTAL, at=NOW) is None


def test_a_deceased_borrower_cannot_promise_from_anywhere() -> None:
    deceased = holds({"kind": "deceased"}, {"kind": "complaint"})
    for source in PromiseSource:
        assert rules.refusing_hold(deceased, loan_id=5, source=source, at=NOW) == "deceased"


def test_holds_that_do_not_refuse_a_promise() -> None:
    cases = holds(
        {"kind": "complaint"},
        {"kind": "vulnerable"},
        {"kind": "opt_out", "channel": "sms"},
        {"kind": "cease", "contact_point_id": 9},  # one contact point only
        {"kind": "cease", "loan_id": 6},  # another loan of the borrower
        {"kind": "cease", "until": NOW - timedelta(hours=1)},  # released
        {"kind": "cease", "since": NOW + timedelta(hours=1)},  # not yet
    )
    assert rules.refusing_hold(cases, loan_id=5, source=PromiseSource.AGENT, at=NOW) is None


def stored(*rows: tuple[int, str, int]) -> pl.LazyFrame:
    return pl.DataFrame(
        [{"promise_id": i, "status": s, "amount_paid": p} for i, s, p in rows],
        schema={"promise_id": pl.Int64, "status": pl.String, "amount_paid": pl.Int64},
    ).lazy()


def matched(*rows: tuple[int, str, int, date | None]) -> pl.LazyFrame:
    return pl.DataFrame(
        [
            {"promise_id": i, "status": s, "amount_paid": p, "resolved_on": r, "deadline": TODAY}
            for i, s, p, r in rows
        ],
        schema=rules.MATCHED,
    ).lazy()


def test_updates_only_move_decisions_forward() -> None:
    day = TODAY
    got = rules.changes(
        stored(
            (1, "open", 0),  # now kept
            (2, "open", 0),  # some paid, still open
            (3, "open", 500),  # nothing new
            (4, "broken", 0),  # a late-posted payment: kept after all
            (5, "partly_kept", 100),  # more paid, still partly kept
            (6, "kept", 900),  # kept stays kept
            (7, "partly_kept", 300),  # a run for an earlier day sees less: no change
            (8, "broken", 0),  # a run for an earlier day sees it open: no change
        ),
        matched(
            (1, "kept", 1_000, day),
            (2, "open", 200, None),
            (3, "open", 500, None),
            (4, "kept", 1_000, day),
            (5, "partly_kept", 200, day),
            (6, "kept", 1_000, day),
            (7, "broken", 0, day),
            (8, "open", 0, None),
        ),
    ).collect()
    assert got.select("promise_id", "status", "amount_paid", "change").rows() == [
        (1, "kept", 1_000, "resolved"),
        (2, "open", 200, "progressed"),
        (4, "kept", 1_000, "revised"),
        (5, "partly_kept", 200, "revised"),
    ]


def records(*rows: dict[str, object]) -> pl.LazyFrame:
    base = {
        "promise_id": 1,
        "loan_id": 1,
        "source": "agent",
        "amount": 10_000,
        "taken_on": TODAY - timedelta(days=5),
        "promised_on": TODAY,
        "status": "open",
        "amount_paid": 0,
        "resolved_on": None,
    }
    return pl.DataFrame(
        [base | {"promise_id": i} | row for i, row in enumerate(rows, start=1)],
        schema=rules.RECORDS,
    ).lazy()


def test_flags_active_promise_and_broken_promises_in_ninety_days_as_known_that_day() -> None:
    broken = {"status": "broken", "resolved_on": TODAY - timedelta(days=1)}
    frame = records(
        {"loan_id": 1, "promised_on": TODAY - timedelta(days=2)},  # open, in grace: active
        {"loan_id": 2, "promised_on": TODAY - timedelta(days=3)},  # grace passed: not active
        {"loan_id": 3, "promised_on": TODAY - timedelta(days=10)} | broken,
        {"loan_id": 3, "promised_on": TODAY - timedelta(days=89)} | broken,
        {"loan_id": 3, "promised_on": TODAY - timedelta(days=90)} | broken,  # too old
        {
            "loan_id": 3,
            "promised_on": TODAY - timedelta(days=20),
            "status": "partly_kept",
            "resolved_on": TODAY - timedelta(days=17),
        },
        # kept tomorrow: still active today
        {"loan_id": 4, "status": "kept", "resolved_on": TODAY + timedelta(days=1)},
        {"loan_id": 5, "status": "kept", "resolved_on": TODAY},  # kept today: not active
        {
            "loan_id": 6,
            "taken_on": TODAY + timedelta(days=1),
            "promised_on": TODAY + timedelta(days=2),
        },  # not taken yet
    )
    got = rules.promise_flags(frame, TODAY, DEFAULT_POLICY).collect()
    assert got.schema == pl.Schema(rules.FLAGS)
    assert got.rows() == [
        (1, True, 0),
        (2, False, 0),
        (3, False, 2),
        (4, True, 0),
        (5, False, 0),
    ]


def test_kept_rates_by_source_and_overall_leave_cancelled_and_out_of_period_out() -> None:
    frame = records(
        {"source": "agent", "status": "kept", "amount_paid": 10_000, "resolved_on": TODAY},
        {"source": "agent", "status": "broken", "resolved_on": TODAY},
        {"source": "agent", "status": "partly_kept", "amount_paid": 4_000, "resolved_on": TODAY},
        {"source": "portal", "status": "kept", "amount_paid": 9_950, "resolved_on": TODAY},
        {"source": "portal", "status": "open"},
        {"source": "portal", "status": "cancelled", "resolved_on": TODAY},
        {
            "source": "agent",
            "status": "kept",
            "promised_on": TODAY + timedelta(days=40),
            "resolved_on": TODAY,
        },
    )
    got = rules.kept_rates(frame, TODAY - timedelta(days=30), TODAY)
    assert got.schema == pl.Schema(rules.KEPT_RATES)
    rows = {row["source"]: row for row in got.iter_rows(named=True)}
    assert list(rows) == ["agent", "portal", "assistant", "import", "all"]
    assert (rows["agent"]["promises"], rows["agent"]["kept"], rows["agent"]["broken"]) == (3, 1, 1)
    assert rows["agent"]["kept_rate"] == pytest.approx(1 / 3)
    assert rows["agent"]["amount_rate"] == pytest.approx(14_000 / 30_000)
    assert (rows["portal"]["promises"], rows["portal"]["open"]) == (2, 1)
    assert rows["portal"]["kept_rate"] == 1.0
    assert rows["assistant"]["promises"] == 0 and rows["assistant"]["kept_rate"] is None
    assert (rows["all"]["promises"], rows["all"]["kept"], rows["all"]["partly_kept"]) == (5, 2, 1)
    assert rows["all"]["kept_rate"] == pytest.approx(2 / 4)
    with pytest.raises(ValidationError, match="end"):
        rules.kept_rates(frame, TODAY, TODAY - timedelta(days=1))
