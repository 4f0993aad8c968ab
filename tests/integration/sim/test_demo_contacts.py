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
