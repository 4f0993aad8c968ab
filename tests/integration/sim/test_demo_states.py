"""The demo's one read of the book (``forbear.sim.states.BookRead``) gives the ledger the
same inputs as ``forbear.services.book``: the states it stores are those
``compute_states`` stores, on a book with repayment plans (their own payments included)
and loans on an older contract version; the read the plans end with is a fresh read."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from polars.testing import assert_frame_equal
from sqlalchemy import Connection

from clocks import SETUP_AT, SETUP_DAY
from forbear.services import book
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.history import seed_plans_read
from forbear.sim.products import load_products
from forbear.sim.states import BookRead
from forbear.store import bulk
from forbear.store.crypto import PiiVault

AS_OF = date(2026, 11, 27)


def test_states_from_one_read_equal_compute_states(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    products = load_products()
    loans_file, payments_file = write_files(generate_book(400, AS_OF, 7, products), tmp_path)
    import_products(connection, products, "demo products", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans_file, now=SETUP_AT)
    import_payments(connection, payments_file, zone="Asia/Shanghai", now=SETUP_AT)
    changed = [
        p.model_copy(update={"grace_days": p.grace_days + 2}) if p.code == "CASH" else p
        for p in products
    ]
    import_products(connection, changed, "CASH v2", effective_from=SETUP_DAY)
    before = BookRead.of(connection, AS_OF)
    plans, ended_with = seed_plans_read(connection, AS_OF, seed=7, read=before)
    assert plans > 0

    read = BookRead.of(connection, AS_OF)
    # the read the plans end with (the demo stores its states from it) is the book as it
    # now stands: the plans' own payments included
    assert ended_with.payments.height > before.payments.height
    assert_frame_equal(ended_with.payments, read.payments)
    assert_frame_equal(ended_with.instalments, read.instalments)
    for day in (AS_OF - timedelta(days=100), AS_OF - timedelta(days=30), AS_OF):
        expected = book.ledger_states(connection, day)
        stored = read.store_states(connection, day)
        assert_frame_equal(stored.states, expected)
        assert bulk.read_states(connection, day).height == expected.height
