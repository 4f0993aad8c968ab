"""The demo book's contact history (``forbear.sim.history.contacts``), on SQLite and
PostgreSQL: calls inside the allowed hours, at most two a loan and day, only the debtor;
the dashboard's contact rates and per-agent view are no longer empty; a rerun adds none."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, select

from clocks import SETUP_AT, SETUP_DAY
from forbear.services import book, dashboard
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.history import seed_contacts
from forbear.sim.products import load_products
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault

AS_OF = date(2026, 11, 27)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_demo_calls_are_lawful_and_fill_the_dashboard(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    products = load_products()
    loans_file, payments_file = write_files(generate_book(300, AS_OF, 5, products), tmp_path)
    import_products(connection, products, "demo products", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans_file, now=SETUP_AT)
    import_payments(connection, payments_file, zone="Asia/Shanghai", now=SETUP_AT)
    book.compute_states(connection, AS_OF)
    made = seed_contacts(connection, AS_OF, seed=5)
    assert made > 100
    assert seed_contacts(connection, AS_OF, seed=5) == 0  # a rerun adds none
    a = ContactAttempt
    rows = connection.execute(select(a.loan_id, a.channel, a.party, a.actor, a.at, a.outcome)).all()
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema=["loan_id", "channel", "party", "actor", "at", "outcome"],
        orient="row",
    ).with_columns(
        local=pl.col("at").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Shanghai")
    )
    assert frame.height == made and set(frame["party"]) == {"debtor"}
    calls = frame.filter(pl.col("channel") == "call")
    assert calls["local"].dt.hour().is_between(9, 20).all()  # inside CN.HOURS.QUIET
    per_day = calls.group_by("loan_id", pl.col("local").dt.date()).len()
    assert per_day["len"].max() <= 2
    assert frame["local"].dt.date().max() <= AS_OF
    assert frame["local"].dt.date().min() >= AS_OF - timedelta(days=30)
    connected = (calls["outcome"] == "connected").mean()
    assert 0.2 < connected < 0.4  # type: ignore[operator]
    start = AS_OF - timedelta(days=30)
    figures = dashboard.metrics(connection, start, AS_OF, "arm", zone=SHANGHAI).row(0, named=True)
    assert figures["attempts"] >= calls.height and figures["contact_rate"] is not None
    agents = dashboard.agents(connection, start, AS_OF, zone=SHANGHAI)
    assert agents.height >= 2 and agents["attempts"].sum() == calls.height
    assert all(name.startswith("demo:agent-") for name in agents["agent"])
    # agents dial in one two-hour session a day (on a big book, ~17 attempts an hour)
    days = calls.group_by("actor").agg(pl.col("local").dt.date().n_unique().alias("days"))
    sessions = agents.join(days, left_on="agent", right_on="actor")
    assert (sessions["active_hours"] <= 2 * sessions["days"]).all()


def test_the_demo_complaints_follow_conversations_and_keep_their_deadlines(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    """A few complaints a month, each about a conversation of the month's history, filed
    through the complaints use case; the older ones answered and closed within the 15-day
    deadline (their holds released), the recent ones open with their hold; the dashboard's
    complaint rate counts them; a rerun adds none."""
    from forbear.domain.complaints import ComplaintStatus
    from forbear.sim.history import seed_complaints
    from forbear.store.complaints import Complaint, ComplaintContact
    from forbear.store.contacts import Hold

    products = load_products()
    loans_file, payments_file = write_files(generate_book(2_000, AS_OF, 5, products), tmp_path)
    import_products(connection, products, "demo products", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans_file, now=SETUP_AT)
    import_payments(connection, payments_file, zone="Asia/Shanghai", now=SETUP_AT)
    book.compute_states(connection, AS_OF)
    contacts = seed_contacts(connection, AS_OF, seed=5)
    made = seed_complaints(connection, vault, AS_OF, seed=5)
    assert made >= 1 and made <= max(1, round(contacts * 6 / 10_000))
    assert seed_complaints(connection, vault, AS_OF, seed=5) == 0  # a rerun adds none
    c = Complaint
    rows = connection.execute(
        select(c.id, c.status, c.received_on, c.due_on, c.resolved_on, c.hold_id)
    ).all()
    assert len(rows) == made
    for row in rows:
        linked = connection.execute(
            select(ContactAttempt.outcome, ContactAttempt.at, ContactAttempt.borrower_id)
            .join(ComplaintContact, ComplaintContact.contact_attempt_id == ContactAttempt.id)
            .where(ComplaintContact.complaint_id == row.id)
        ).all()
        assert len(linked) == 1 and linked[0].outcome in ("connected", "refused")
        until = connection.execute(select(Hold.until).where(Hold.id == row.hold_id)).scalar()
        if row.status == ComplaintStatus.CLOSED.value:
            assert row.resolved_on is not None and row.resolved_on <= row.due_on
            assert until is not None  # the complaint hold was released when answered
        else:
            assert row.status == ComplaintStatus.OPEN.value and until is None
            assert row.received_on >= AS_OF - timedelta(days=10)
    start = AS_OF - timedelta(days=30)
    figures = dashboard.metrics(connection, start, AS_OF, "arm", zone=SHANGHAI).row(0, named=True)
    rate = [v for k, v in figures.items() if "complaint" in k and v is not None]
    assert rate and max(rate) > 0
