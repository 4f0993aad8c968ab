"""The pure borrower situation on frames: the ledger figures are the scalar ledger's
(run_ledger) loan by loan, holds open at ``at`` cover the loans they name (or all), and
``governed_by`` / ``needs_work`` follow from the flags."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from forbear.domain.ledger import products_frame, run_ledger
from forbear.domain.ledger.schema import INSTALMENTS, LOANS, PAYMENTS
from forbear.domain.promises import RECORDS
from forbear.domain.situation import OWNERS, SITUATION_HOLDS, empty_facts, situation
from unit.plans.helpers import loan, position, product

AS_OF = date(2026, 6, 20)
AT = datetime(2026, 6, 20, 10, tzinfo=UTC)


def facts_for(paid: dict[int, list[tuple[date, int]]]):  # type: ignore[no-untyped-def]
    rows, schedules, payments = [], [], []
    for loan_id, done in paid.items():
        terms = loan(loan_id=loan_id)
        _, schedule, pays = position(AS_OF, done, terms=terms)
        rows.append(asdict(terms) | {"written_off_on": None})
        schedules += [asdict(i) for i in schedule]
        payments += [asdict(p) | {"payment_id": loan_id * 100 + p.payment_id} for p in pays]
    base = empty_facts()
    return replace(
        base,
        loans=pl.DataFrame(rows, schema=LOANS),
        owners=pl.DataFrame({"loan_id": list(paid), "borrower_id": [7] * len(paid)}, schema=OWNERS),
        products=products_frame([product()]),
        instalments=pl.DataFrame(schedules, schema=INSTALMENTS),
        payments=pl.DataFrame(payments, schema=PAYMENTS),
    )


def test_the_ledger_figures_are_the_scalar_ledgers() -> None:
    paid = {1: [], 2: [(date(2026, 2, 15), 1_100_00), (date(2026, 3, 20), 500_00)]}
    facts = facts_for(paid)
    found = situation(facts, AS_OF, AT, limitation_years=3)
    for loan_id, done in paid.items():
        _, schedule, pays = position(AS_OF, done, terms=loan(loan_id=loan_id))
        pays = [replace(p, payment_id=loan_id * 100 + p.payment_id) for p in pays]
        state = run_ledger(loan(loan_id=loan_id), product(), schedule, pays, AS_OF).state
        row = found.loan(loan_id)
        assert row is not None
        for name in ("dpd", "bucket", "overdue_total", "next_due_date", "next_due_amount"):
            assert row[name] == getattr(state, name), name
        assert row["governed_by"] == "contract" and row["needs_work"] is True


def test_holds_and_promises_change_what_governs_and_the_work() -> None:
    facts = facts_for({1: [], 2: []})
    holds = pl.DataFrame(
        [
            (1, 7, None, "vulnerable", None, None, AT - timedelta(days=1), None, "x"),
            (2, 7, 2, "dispute", None, None, AT - timedelta(hours=1), None, "portal"),
            (3, 7, 1, "dispute", None, None, AT + timedelta(hours=1), None, "later"),
            (4, 7, 1, "cease", None, None, AT - timedelta(days=2), AT, "ended"),
        ],
        schema=SITUATION_HOLDS,
        orient="row",
    )
    promises = pl.DataFrame(
        [(9, 1, "agent", 500_00, AS_OF, AS_OF + timedelta(days=3), "open", 0, None)],
        schema=RECORDS,
        orient="row",
    )
    found = situation(replace(facts, holds=holds, promises=promises), AS_OF, AT, limitation_years=3)
    one, two = found.loan(1), found.loan(2)
    assert one is not None and two is not None
    assert (one["hardship"], one["disputed"], one["hold_any"]) == (True, False, False)
    assert (one["governed_by"], one["promise_amount"], one["needs_work"]) == (
        "promise",
        500_00,
        False,
    )
    assert (two["hardship"], two["disputed"], two["hold_any"], two["needs_work"]) == (
        True,
        True,
        True,
        False,
    )
    assert [h["hold_id"] for h in found.holds_of(1)] == [1]
    assert [h["hold_id"] for h in found.holds_of(2)] == [1, 2]
