"""The borrower situation (forbear.services.situation) on both backends: the same ledger
figures as the daily run's ledger (book.ledger_states) for every loan, one borrower the
same as the whole book, and a plan accepted or a dispute placed visible at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, select

from clocks import SETUP_AT, SETUP_DAY
from factories import csv_text, make_loan_row, make_product
from forbear.domain.ledger.schema import STATES
from forbear.services import book as book_service
from forbear.services import contacts, situation
from forbear.services import portal as portal_service
from forbear.services.imports import import_loans, import_products
from forbear.store.crypto import PiiVault
from forbear.store.models import Borrower

TODAY = date(2026, 4, 20)
AT = datetime.combine(TODAY, time(10), UTC)


@pytest.fixture
def loans(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    path = tmp_path / "loans.csv"
    rows = [make_loan_row(), make_loan_row(loan_ref="L0002", principal="3000", term_months="24")]
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    found = {ref: contacts.loan_id_for_ref(connection, ref) for ref in ("L0001", "L0002")}
    me = connection.execute(select(Borrower.id).where(Borrower.external_ref == "C0001"))
    return found | {"me": int(me.scalar_one())}


def ledger_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(list(STATES)).sort("loan_id")


def test_the_situation_has_the_ledgers_figures(
    connection: Connection, loans: dict[str, int]
) -> None:
    mine = situation.of_borrower(connection, loans["me"], TODAY, AT)
    book = book_service.ledger_states(connection, TODAY)
    assert mine.loans.height == 2
    assert ledger_columns(mine.loans).equals(ledger_columns(book))
    whole = situation.of_book(connection, TODAY, AT)
    assert whole.loans.filter(pl.col("borrower_id") == loans["me"]).equals(mine.loans)
    row = mine.loan(loans["L0001"])
    assert row is not None and row["overdue_total"] > 0
    assert (row["governed_by"], row["needs_work"], row["active_plan"]) == ("contract", True, False)


def test_a_plan_accepted_governs_at_once(connection: Connection, loans: dict[str, int]) -> None:
    chosen = portal_service.choose_plan(
        connection,
        borrower_id=loans["me"],
        loan_id=loans["L0001"],
        option="restructure-3",
        as_of=TODAY,
    )
    _, row = situation.of_loan(connection, loans["L0001"], TODAY, AT)
    assert row is not None
    assert (row["governed_by"], row["plan_id"], row["active_plan"]) == ("plan", chosen.id, True)
    assert (row["overdue_total"], row["dpd"], row["needs_work"]) == (0, 0, False)
    owed = portal_service.owed(connection, loans["me"], loans["L0001"], TODAY)
    assert (owed.overdue_total, owed.next_due_date, owed.next_due_amount) == (
        row["overdue_total"],
        row["next_due_date"],
        row["next_due_amount"],
    )
    # the daily run's ledger agrees (it applies the same plan)
    book = book_service.ledger_states(connection, TODAY)
    assert ledger_columns(situation.of_book(connection, TODAY, AT).loans).equals(
        ledger_columns(book)
    )


def test_a_dispute_stops_work_and_is_listed(connection: Connection, loans: dict[str, int]) -> None:
    hold_id = portal_service.dispute(
        connection, borrower_id=loans["me"], loan_id=loans["L0001"], reason="other", now=AT
    )
    found, row = situation.of_loan(connection, loans["L0001"], TODAY, AT)
    assert row is not None and (row["disputed"], row["hold_any"], row["needs_work"]) == (
        True,
        True,
        False,
    )
    holds = found.holds_of(loans["L0001"])
    assert [(h["hold_id"], h["kind"], h["all_loans"]) for h in holds] == [
        (hold_id, "dispute", False)
    ]
    assert holds[0]["reason"] == "portal dispute: other"
    other = found.loan(loans["L0002"])
    assert other is not None and other["disputed"] is False
    # before the hold began it was not open
    _, earlier = situation.of_loan(connection, loans["L0001"], TODAY, AT.replace(hour=9))
    assert earlier is not None and earlier["disputed"] is False


def test_the_sql_form_of_hold_open_agrees_with_the_domain(
    connection: Connection, loans: dict[str, int]
) -> None:
    from datetime import timedelta

    from sqlalchemy import insert

    from forbear.domain.holds import hold_open
    from forbear.services.holds import open_at
    from forbear.store.contacts import Hold

    hours = [-48, -1, 0, 1, 48]
    cases = [(s, u) for s in hours for u in [None, *hours]]
    ids = {}
    for since, until in cases:
        ids[(since, until)] = connection.execute(
            insert(Hold)
            .values(
                borrower_id=loans["me"],
                loan_id=None,
                kind="vulnerable",
                since=AT + timedelta(hours=since),
                until=None if until is None else AT + timedelta(hours=until),
                created_by="test",
            )
            .returning(Hold.id)
        ).scalar_one()
    found = set(connection.execute(select(Hold.id).where(open_at(AT))).scalars())
    for (since, until), hold_id in ids.items():
        expected = hold_open(
            AT + timedelta(hours=since), None if until is None else AT + timedelta(hours=until), AT
        )
        assert (hold_id in found) == expected, (since, until)
