"""``calibrate`` on a small demo book whose contact history carries a planted effect:
reminders placed on the days borrowers paid, firm letters on days they did not. The fit
must find the reminder's effect positive and the firm letter's negative, write calibrated
sources, and change nothing stored. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Connection, func, insert, select

from clocks import SETUP_AT, SETUP_DAY
from forbear.services import book
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.borrowers import load_parameters
from forbear.sim.borrowers.calibrate import calibrate
from forbear.sim.products import load_products
from forbear.store import bulk
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.models import AccountState, Payment

AS_OF = date(2026, 11, 27)
START = AS_OF - timedelta(days=60)
WINDOW = 3
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _book(connection: Connection, vault: PiiVault, directory: Path) -> None:
    products = load_products()
    loans, payments = write_files(generate_book(1000, AS_OF, 11, products), directory)
    import_products(connection, products, "demo products", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans, now=SETUP_AT)
    import_payments(connection, payments, zone="Asia/Shanghai", now=SETUP_AT)
    book.compute_states(connection, START)


def _plant(connection: Connection) -> tuple[int, int]:
    """Reminders (SMS) on the days loans behind on START paid; firm letters on a sample of
    days on which they paid nothing within the window. Returns how many of each."""
    states = bulk.read_states(connection, START, ("loan_id", "status", "dpd"))
    behind = (
        states.filter((pl.col("status") == "active") & (pl.col("dpd") > 0))
        .join(bulk.read_loan_borrowers(connection), on="loan_id")
        .select("loan_id", "borrower_id")
    )
    paid = bulk.read_frame(
        connection,
        select(Payment.loan_id, Payment.paid_on).where(Payment.paid_on >= START),
        {"loan_id": pl.Int64(), "paid_on": pl.Date()},
    ).join(behind, on="loan_id")
    days = pl.date_range(START, AS_OF - timedelta(days=WINDOW), eager=True)
    grid = behind.join(pl.DataFrame({"day": days}), how="cross")
    quiet = grid.join(
        paid.join(grid, on=["loan_id", "borrower_id"])
        .filter(
            (pl.col("paid_on") >= pl.col("day"))
            & (pl.col("paid_on") < pl.col("day") + pl.duration(days=WINDOW))
        )
        .select("loan_id", "day")
        .unique(),
        on=["loan_id", "day"],
        how="anti",
    )
    # noisy on purpose (a deterministic plan would separate the data): reminders on most
    # paying days and a few quiet ones, firm letters on some quiet days and a few paying ones
    rng = np.random.default_rng(3)
    paying = paid.rename({"paid_on": "day"}).select("loan_id", "borrower_id", "day")
    quiet = quiet.select("loan_id", "borrower_id", "day")

    def some(frame: pl.DataFrame, share: float) -> pl.DataFrame:
        return frame.filter(pl.Series(rng.random(frame.height) < share))

    reminders = pl.concat([some(paying, 0.8), some(quiet, 0.04)])
    firm = pl.concat([some(quiet, 0.15), some(paying, 0.03)])
    rows = []
    for frame, template, channel in (
        (reminders, "CN.M1.REMIND.SMS", "sms"),
        (firm, "CN.M3.LETTER", "letter"),
    ):
        for loan_id, borrower_id, day in frame.select("loan_id", "borrower_id", "day").iter_rows():
            rows.append(
                {
                    "loan_id": loan_id,
                    "borrower_id": borrower_id,
                    "channel": channel,
                    "party": "debtor",
                    "actor": "test:planted",
                    "at": datetime.combine(day, time(9, 30), SHANGHAI).astimezone(UTC),
                    "allowed": True,
                    "outcome": "delivered",
                    "template_code": template,
                    "created_at": SETUP_AT,
                }
            )
    connection.execute(insert(ContactAttempt), rows)
    return reminders.height, firm.height


def _counts(connection: Connection) -> tuple[int, ...]:
    return tuple(
        connection.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (ContactAttempt, Payment, AccountState)
    )


def test_calibration_finds_the_planted_effects_and_writes_nothing(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    _book(connection, vault, tmp_path)
    reminders, letters = _plant(connection)
    assert reminders >= 50 and letters >= 50
    before = _counts(connection)
    result = calibrate(
        connection, load_parameters(), START, AS_OF, db_label="test:book", window=WINDOW
    )
    assert _counts(connection) == before  # read only
    by_name = {e.name: e for e in result.estimates}
    reminder, firm = by_name["effect.tone.reminder"], by_name["effect.tone.firm_notice"]
    assert reminder.value > 2 * reminder.se > 0
    assert firm.value < -2 * firm.se < 0
    entry = result.params.entries["effect.tone.reminder"]
    assert entry.source.startswith(f"calibrated (test:book, {START}..{AS_OF}, n=")
    assert entry.low <= entry.value <= entry.high
    assert result.params.version.endswith(f"+calibrated.{AS_OF}")
    # every band the fit supports comes out a daily probability
    for e in result.estimates:
        if e.name.startswith("pay."):
            assert 0 < e.value < 1
