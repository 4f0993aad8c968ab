"""The supervisor dashboard's figures on a small constructed book, checked against values
worked out by hand, on SQLite and PostgreSQL.

Four loans are imported; their states on START and END are stored as snapshots (so the
figures read exactly these), with payments, decisions (arm, team), contact attempts and
promises placed around the range's edges:

=====  ===========================  ==================  ==========  =================
loan   START (dpd, bucket, overdue) END                 arm / team  paid in range
=====  ===========================  ==================  ==========  =================
L0001  15, M1, ¥1,000.00            current (cured)     champion/a  ¥600 (+ edges)
L0002  20, M1, ¥500.00              M2 (rolled forward) challenger  ¥100
L0003  0, C, 0                      current             champion/b  ¥300 (not overdue)
L0004  40, M2, ¥2,000.00            paid off (cured)    none        ¥2,000
=====  ===========================  ==================  ==========  =================
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, func, insert, select

from clocks import SETUP_AT, SETUP_DAY
from factories import VALID_IDS, csv_text, make_loan_row, make_product
from forbear.domain.errors import ValidationError
from forbear.domain.ledger import schema
from forbear.services import contacts
from forbear.services import dashboard as svc
from forbear.services.imports import import_loans, import_products
from forbear.store import bulk
from forbear.store.complaints import Complaint, SatisfactionResponse
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import AccountState, Loan, Payment
from forbear.store.promises import Promise
from forbear.store.runs import Decision, Run

START, END = date(2026, 4, 1), date(2026, 5, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
_refs = itertools.count(1)


def state(loan_id: int, day: date, status: str, dpd: int, bucket: str, overdue: int) -> dict:
    return {
        "loan_id": loan_id,
        "as_of": day,
        "status": status,
        "dpd": dpd,
        "bucket": bucket,
        "overdue_principal": overdue,
        "overdue_interest": 0,
        "overdue_fee": 0,
        "overdue_penalty": 0,
        "overdue_total": overdue,
        "outstanding_principal": 1_000_000,
        "oldest_unpaid_due_date": None,
        "next_due_date": None,
        "next_due_amount": None,
        "last_payment_date": None,
        "paid_total": 0,
        "credit": 0,
    }


def pay(conn: Connection, loan_id: int, day: date, amount: int) -> None:
    conn.execute(
        insert(Payment).values(
            external_ref=f"DP{next(_refs)}",
            loan_id=loan_id,
            paid_on=day,
            paid_at=datetime(day.year, day.month, day.day, 4, tzinfo=UTC),
            amount=amount,
            channel="app",
        )
    )


def decide(
    conn: Connection,
    run_id: int,
    loan_id: int,
    day: date,
    arm: str | None,
    team: str | None,
    blocked: list[str] | None = None,
) -> None:
    conn.execute(
        insert(Decision).values(
            as_of=day,
            loan_id=loan_id,
            action_index=0,
            run_id=run_id,
            borrower_id=1,
            arm=arm,
            team_id=team,
            channel="call",
            reason_codes="[]",
            allowed=not blocked,
            blocked_by=json.dumps(blocked or []),
            scheduled=not blocked,
            carried=False,
        )
    )


def attempt(
    conn: Connection,
    loan_id: int,
    borrower_id: int,
    at: datetime,
    outcome: str,
    *,
    party: str = "debtor",
    channel: str = "call",
    blocked: list[str] | None = None,
) -> None:
    conn.execute(
        insert(ContactAttempt).values(
            loan_id=loan_id,
            borrower_id=borrower_id,
            channel=channel,
            party=party,
            actor="agent:test",
            at=at,
            allowed=not blocked,
            blocked_by=json.dumps(blocked or []),
            outcome=outcome,
        )
    )


def promise(
    conn: Connection, loan_id: int, borrower_id: int, on: date, status: str, paid: int = 0
) -> None:
    conn.execute(
        insert(Promise).values(
            loan_id=loan_id,
            borrower_id=borrower_id,
            amount=50_000,
            promised_on=on,
            source="agent",
            status=status,
            taken_by="agent:test",
            taken_at=datetime(2026, 3, 30, 2, tzinfo=UTC),
            taken_on=date(2026, 3, 30),
            amount_paid=paid,
            resolved_on=None if status == "open" else on,
        )
    )


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    path = tmp_path / "loans.csv"
    rows = [
        make_loan_row(),
        make_loan_row(loan_ref="L0002"),
        make_loan_row(loan_ref="L0003", customer_ref="C0002", national_id=VALID_IDS[2]),
        make_loan_row(loan_ref="L0004"),
    ]
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    ids = {r: contacts.loan_id_for_ref(connection, r) for r in ("L0001", "L0002", "L0003", "L0004")}
    owner = {
        loan: connection.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
        for loan in ids.values()
    }
    l1, l2, l3, l4 = ids["L0001"], ids["L0002"], ids["L0003"], ids["L0004"]
    first = [
        state(l1, START, "active", 15, "M1", 100_000),
        state(l2, START, "active", 20, "M1", 50_000),
        state(l3, START, "active", 0, "C", 0),
        state(l4, START, "active", 40, "M2", 200_000),
    ]
    last = [
        state(l1, END, "active", 0, "C", 0),
        state(l2, END, "active", 50, "M2", 80_000),
        state(l3, END, "active", 0, "C", 0),
        state(l4, END, "paid_off", 0, "C", 0),
    ]
    bulk.replace_states(connection, START, pl.DataFrame(first, schema=schema.STATES))
    bulk.replace_states(connection, END, pl.DataFrame(last, schema=schema.STATES))
    # payments: on START itself and after END are outside the range
    pay(connection, l1, START, 5_000)
    pay(connection, l1, date(2026, 4, 10), 60_000)
    pay(connection, l1, date(2026, 5, 2), 7_000)
    pay(connection, l2, date(2026, 4, 20), 10_000)
    pay(connection, l3, date(2026, 4, 12), 30_000)
    pay(connection, l4, date(2026, 4, 30), 200_000)
    run_id = connection.execute(
        insert(Run)
        .values(
            as_of=date(2026, 4, 10),
            engine="local",
            status="completed",
            started_at=datetime(2026, 4, 10, 1, tzinfo=UTC),
            summary={
                "accounts": 4,
                "contacts": {"planned": 3, "allowed": 1, "blocked": 2},
                "capacity": [
                    {
                        "channel": "call",
                        "team_id": None,
                        "planned": 3,
                        "scheduled": 1,
                        "carried": 0,
                        "capacity": 4,
                        "used_pct": 25.0,
                    }
                ],
            },
        )
        .returning(Run.id)
    ).scalar_one()
    decide(connection, run_id, l1, date(2026, 4, 2), "champion", "phone-a")
    decide(connection, run_id, l1, date(2026, 4, 10), "champion", None)  # team kept: phone-a
    decide(connection, run_id, l2, date(2026, 4, 5), "challenger", "phone-a", ["CN.HOURS"])
    decide(connection, run_id, l3, date(2026, 4, 5), "champion", "phone-b", ["CN.HOURS", "CN.FREQ"])
    decide(connection, run_id, l4, date(2026, 3, 20), "challenger", "phone-b")  # before START
    # attempts: 00:30 on START in Shanghai is 16:30 UTC the day before (inside the range);
    # 00:00 the day after END in Shanghai is outside
    attempt(connection, l1, owner[l1], datetime(2026, 3, 31, 16, 30, tzinfo=UTC), "connected")
    attempt(connection, l1, owner[l1], datetime(2026, 4, 2, 2, tzinfo=UTC), "connected")
    attempt(
        connection,
        l1,
        owner[l1],
        datetime(2026, 4, 3, 2, tzinfo=UTC),
        "connected",
        party="emergency_contact",
    )
    attempt(connection, l2, owner[l2], datetime(2026, 4, 5, 2, tzinfo=UTC), "no_answer")
    attempt(
        connection,
        l2,
        owner[l2],
        datetime(2026, 4, 5, 3, tzinfo=UTC),
        "blocked",
        blocked=["CN.HOURS"],
    )
    attempt(
        connection, l3, owner[l3], datetime(2026, 4, 6, 2, tzinfo=UTC), "delivered", channel="sms"
    )
    attempt(connection, l1, owner[l1], datetime(2026, 5, 1, 16, tzinfo=UTC), "connected")
    promise(connection, l1, owner[l1], date(2026, 4, 15), "kept", 50_000)
    promise(connection, l1, owner[l1], date(2026, 4, 25), "broken")
    promise(connection, l2, owner[l2], date(2026, 4, 20), "kept", 50_000)
    promise(connection, l3, owner[l3], date(2026, 4, 22), "cancelled")
    promise(connection, l4, owner[l4], date(2026, 5, 10), "kept", 50_000)
    # one complaint (the complaints area tags it with L0001's decision of 04-10: champion,
    # no team) and three survey answers, one after END
    connection.execute(
        insert(Complaint).values(
            borrower_id=owner[l1],
            loan_id=l1,
            source="agent",
            category="harassment",
            status="open",
            description_enc=PiiVault(bytes(range(32))).encrypt(
                "-", context=Contexts.COMPLAINT_DESCRIPTION
            ),  # free text is sealed
            received_at=datetime(2026, 4, 12, 2, tzinfo=UTC),
            received_on=date(2026, 4, 12),
            due_on=date(2026, 4, 27),
            filed_by="agent:test",
        )
    )
    for subject, subject_id, score, day in (
        ("plan", 1, 5, date(2026, 4, 9)),
        ("promise", 2, 3, date(2026, 4, 16)),
        ("promise", 3, 1, date(2026, 5, 3)),
    ):
        connection.execute(
            insert(SatisfactionResponse).values(
                borrower_id=owner[l1],
                loan_id=l1,
                subject_type=subject,
                subject_id=subject_id,
                score=score,
                answered_at=datetime(day.year, day.month, day.day, 2, tzinfo=UTC),
                answered_on=day,
                recorded_by="agent:test",
            )
        )
    return ids


def rows(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["group"]: r for r in frame.to_dicts()}


def test_figures_by_arm_match_the_hand_computed_values(connection: Connection, book) -> None:
    by_arm = rows(svc.metrics(connection, START, END, "arm", zone=SHANGHAI))
    assert list(by_arm) == ["all", "challenger", "champion", "none"]
    everyone = by_arm["all"]
    assert everyone["accounts"] == 4
    assert everyone["overdue_accounts"] == 3
    assert everyone["overdue_start"] == 350_000
    assert everyone["collected"] == 270_000  # 60,000 + 10,000 + 200,000
    assert everyone["recovery_rate"] == pytest.approx(270_000 / 350_000)
    assert (everyone["cured"], everyone["cure_rate"]) == (2, pytest.approx(2 / 3))
    assert (everyone["rolled_forward"], everyone["roll_forward_rate"]) == (1, pytest.approx(1 / 3))
    assert (everyone["attempts"], everyone["connected"], everyone["right_party"]) == (5, 3, 2)
    assert everyone["contact_rate"] == pytest.approx(3 / 5)
    assert everyone["rpc_rate"] == pytest.approx(2 / 5)
    assert (everyone["promises_resolved"], everyone["promises_kept"]) == (3, 2)
    assert everyone["kept_rate"] == pytest.approx(2 / 3)
    assert (everyone["complaints"], everyone["complaint_contacts"]) == (1, 5)
    assert everyone["complaints_per_10k"] == pytest.approx(2_000.0)

    champion = by_arm["champion"]
    assert (champion["accounts"], champion["overdue_start"], champion["collected"]) == (
        2,
        100_000,
        60_000,
    )
    assert champion["recovery_rate"] == pytest.approx(0.6)
    assert (champion["cure_rate"], champion["roll_forward_rate"]) == (1.0, 0.0)
    assert (champion["attempts"], champion["connected"], champion["right_party"]) == (4, 3, 2)
    assert champion["kept_rate"] == pytest.approx(0.5)
    # the complaints area's attribution: the attempt of 04-01 had no decision yet
    assert (champion["complaints"], champion["complaint_contacts"]) == (1, 3)
    assert champion["complaints_per_10k"] == pytest.approx(10_000 / 3)

    challenger = by_arm["challenger"]
    assert challenger["recovery_rate"] == pytest.approx(0.2)
    assert (challenger["cure_rate"], challenger["roll_forward_rate"]) == (0.0, 1.0)
    assert (challenger["attempts"], challenger["contact_rate"], challenger["rpc_rate"]) == (
        1,
        0.0,
        0.0,
    )
    assert challenger["kept_rate"] == 1.0

    # L0004 was decided only before the range: no arm; no attempts, no promises in range
    unassigned = by_arm["none"]
    assert (unassigned["recovery_rate"], unassigned["cure_rate"]) == (1.0, 1.0)
    assert unassigned["attempts"] == 0
    assert unassigned["contact_rate"] is None  # no attempts: no data, not 0 %
    assert unassigned["kept_rate"] is None
    assert (unassigned["complaint_contacts"], unassigned["complaints_per_10k"]) == (1, 0.0)


def test_figures_by_team_keep_the_latest_team_of_the_range(connection: Connection, book) -> None:
    by_team = rows(svc.metrics(connection, START, END, "team", zone=SHANGHAI))
    assert list(by_team) == ["all", "none", "phone-a", "phone-b"]
    team_a = by_team["phone-a"]  # L0001 (its last decision has no team) and L0002
    assert (team_a["accounts"], team_a["overdue_start"], team_a["collected"]) == (
        2,
        150_000,
        70_000,
    )
    assert team_a["cure_rate"] == pytest.approx(0.5)
    assert (team_a["attempts"], team_a["connected"]) == (4, 3)
    team_b = by_team["phone-b"]  # L0003: current at start, so no overdue figures
    assert (team_b["overdue_accounts"], team_b["recovery_rate"], team_b["cure_rate"]) == (
        0,
        None,
        None,
    )
    assert team_b["contact_rate"] == 0.0  # one SMS delivered, no conversation
    # L0001's decision of 04-10 has no team: the complaint counts under none
    assert (by_team["none"]["complaints"], by_team["phone-a"]["complaints"]) == (1, 0)


def test_satisfaction_of_the_range(connection: Connection, book) -> None:
    found = svc.figures(connection, START, END, zone=SHANGHAI)
    overall = found.satisfaction.filter(pl.col("subject_type") == "all").to_dicts()[0]
    assert overall["responses"] == 2  # the answer of 05-03 is after END
    assert overall["mean_score"] == pytest.approx(4.0)
    assert overall["share_4_5"] == pytest.approx(0.5)


def test_blocked_contacts_by_rule_planned_and_online(connection: Connection, book) -> None:
    table = svc.blocked_by_rule(connection, START, END, zone=SHANGHAI)
    assert table.to_dicts() == [
        {"rule": "CN.HOURS", "planned": 2, "online": 1},
        {"rule": "CN.FREQ", "planned": 1, "online": 0},
    ]


def test_roll_matrix_run_summary_and_capacity(connection: Connection, book) -> None:
    found = svc.figures(connection, START, END, zone=SHANGHAI)
    m1 = found.roll_matrix.filter(pl.col("bucket") == "M1").to_dicts()[0]
    assert (m1["accounts"], m1["C"], m1["M2"]) == (2, 0.5, 0.5)
    m2 = found.roll_matrix.filter(pl.col("bucket") == "M2").to_dicts()[0]
    assert (m2["accounts"], m2["paid_off"]) == (1, 1.0)
    # payments of the accounts overdue at start, by day (L0003 was current: not counted)
    assert found.collected_by_day.rows() == [
        (date(2026, 4, 10), 1, 60_000),
        (date(2026, 4, 20), 1, 10_000),
        (date(2026, 4, 30), 1, 200_000),
    ]
    run = svc.latest_run(connection, START, END)
    assert run is not None and run.as_of == date(2026, 4, 10)
    assert run.summary["contacts"]["blocked"] == 2
    capacity = svc.capacity_use(run.summary)
    assert capacity.select("channel", "scheduled", "capacity", "used_pct").row(0) == (
        "call",
        1,
        4,
        25.0,
    )
    assert svc.latest_run(connection, date(2026, 4, 11), END) is None
    assert svc.capacity_use(None).height == 0


def test_a_range_without_data_gives_no_rates_and_writes_nothing(
    connection: Connection, book
) -> None:
    stored = connection.execute(select(func.count()).select_from(AccountState)).scalar_one()
    empty = rows(svc.metrics(connection, date(2025, 1, 1), date(2025, 2, 1), "arm", zone=SHANGHAI))
    assert list(empty) == ["all"]
    assert empty["all"]["accounts"] == 0
    for rate in (
        "recovery_rate",
        "cure_rate",
        "contact_rate",
        "rpc_rate",
        "kept_rate",
        "complaints_per_10k",
    ):
        assert empty["all"][rate] is None
    after = connection.execute(select(func.count()).select_from(AccountState)).scalar_one()
    assert after == stored  # the ledger ran in memory; no snapshot was stored


@pytest.mark.parametrize(
    ("start", "end", "group_by", "field"),
    [
        (END, START, "arm", "to"),
        (START, START, "arm", "to"),
        (date(2025, 1, 1), date(2026, 1, 3), "arm", "to"),
        (START, END, "agent", "group_by"),
    ],
)
def test_bad_ranges_and_groupings_are_refused(
    connection: Connection, start: date, end: date, group_by: str, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        svc.metrics(connection, start, end, group_by, zone=SHANGHAI)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_the_view_is_for_management_whatever_front_end_asks(
    connection: Connection, book: dict[str, int]
) -> None:
    """The use case checks the permission itself: an agent is refused, a supervisor and a
    role-free operator read the same figures the pieces give."""
    from forbear.domain.access import Actor, Role
    from forbear.domain.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        svc.view(connection, Actor("web:agent", Role.AGENT), START, END, zone=SHANGHAI)
    seen = svc.view(connection, Actor("web:boss", Role.SUPERVISOR), START, END, zone=SHANGHAI)
    operator = svc.view(connection, Actor("cli:root"), START, END, zone=SHANGHAI)
    assert seen.by_arm.equals(operator.by_arm)
    assert seen.by_arm.equals(svc.metrics(connection, START, END, "arm", zone=SHANGHAI))
    assert seen.has_data


@pytest.mark.parametrize(
    ("start", "end", "key"),
    [
        (date(1999, 1, 1), None, "dashboard.error.bounds"),
        (date(2026, 2, 1), date(2026, 1, 1), "dashboard.error.order"),
        (date(2025, 1, 1), date(2026, 1, 3), "dashboard.error.span"),
    ],
)
def test_the_range_default_and_refusals(start: date | None, end: date | None, key: str) -> None:
    today = date(2026, 6, 15)
    assert svc.date_range(None, None, today) == (date(2026, 5, 16), today)
    assert svc.date_range(None, date(2026, 1, 1), today) == (date(2025, 12, 2), date(2026, 1, 1))
    if start is None:
        return
    with pytest.raises(svc.RangeRefused) as refused:
        svc.date_range(start, end, today)
    assert refused.value.key == key


def test_every_rate_has_its_n_and_interval_and_small_samples_are_flagged(
    connection: Connection, book
) -> None:
    everyone = rows(svc.metrics(connection, START, END, "arm", zone=SHANGHAI))["all"]
    # n is each rate's denominator; 3 overdue accounts and 5 attempts are small samples
    assert (everyone["cure_rate_n"], everyone["rpc_rate_n"]) == (3, 5)
    assert everyone["cure_rate_small"] and everyone["recovery_rate_small"]
    low, high = svc.wilson(2, 3)  # type: ignore[misc]
    assert (everyone["cure_rate_low"], everyone["cure_rate_high"]) == (low, high)
    assert everyone["cure_rate_low"] < everyone["cure_rate"] < everyone["cure_rate_high"]
    assert 0 <= everyone["recovery_rate_low"] <= everyone["recovery_rate"] <= 1
    # recovery never passes 100%: each account counts up to its overdue amount at start
    assert everyone["recovered"] <= everyone["overdue_start"]
    assert everyone["recovery_rate"] == pytest.approx(
        everyone["recovered"] / everyone["overdue_start"]
    )


def test_the_per_agent_view_counts_attempts_hours_contacts_and_promises(
    connection: Connection, book
) -> None:
    agents = svc.agents(connection, START, END, zone=SHANGHAI)
    assert agents["agent"].to_list() == ["agent:test"]
    row = agents.row(0, named=True)
    everyone = rows(svc.metrics(connection, START, END, "arm", zone=SHANGHAI))["all"]
    assert (row["attempts"], row["right_party"]) == (everyone["attempts"], 2)
    assert 1 <= row["active_hours"] <= row["attempts"]
    assert row["attempts_per_hour"] == pytest.approx(row["attempts"] / row["active_hours"])
    assert row["rpc_small"] and row["rpc_low"] <= row["rpc_rate"] <= row["rpc_high"]
    assert row["promises"] >= row["promises_kept"] >= 0 and row["collected"] >= 0
    assert svc.agents(connection, date(2025, 1, 1), date(2025, 2, 1), zone=SHANGHAI).height == 0
