"""Contact history on the demo book (``forbear demo``): the calls and reminders of the
30 days before ``as_of`` (not of ``as_of`` itself: the day's work has not begun) on the
loans overdue that day, so that the dashboard's contact,
right-party-contact and complaint rates and its per-agent view are not empty.

Written in bulk (tens of thousands of rows, one insert), shaped like a collection floor's
log and within the CN pack's limits: calls only 09:00-18:59 in the borrower's zone
(inside CN.HOURS.QUIET), at most two calls per loan and day (CN.FREQ.UNANSWERED and
CN.FREQ.CONNECTED allow more), reminders by SMS in the morning
(``system:demo-reminders``, not an agent); only the debtor is called (no third party,
CN.3P.*), each agent in one two-hour session a day. More attempts the longer a loan is
overdue; about 30% of calls connect. The agents are the promises' agents
(``demo:agent-NN``), each loan worked by one. Same seed and book, same history; a rerun
adds none.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Connection, exists, select

from forbear.domain.compliance.schema import Channel, Outcome, Party
from forbear.sim.history.promises import DEMO_PREFIX
from forbear.store import bulk
from forbear.store.contacts import ContactAttempt

DAYS = 30
MAX_CALLS_A_DAY = 2
# call outcomes and their shares on a collection floor (connected: a conversation)
OUTCOMES = (
    (Outcome.NO_ANSWER.value, 0.50),
    (Outcome.CONNECTED.value, 0.30),
    (Outcome.BUSY.value, 0.15),
    (Outcome.INVALID_NUMBER.value, 0.03),
    (Outcome.REFUSED.value, 0.02),
)


def seed_contacts(conn: Connection, as_of: date, *, seed: int, zone: str = "Asia/Shanghai") -> int:
    """Calls and SMS reminders of the :data:`DAYS` days up to ``as_of`` (module docstring);
    returns how many attempts were added (0 on a rerun)."""
    already = conn.execute(
        select(exists().where(ContactAttempt.actor.like(f"{DEMO_PREFIX}agent-%")))
    ).scalar()
    if already:
        return 0
    rng = np.random.default_rng(seed + 7)
    states = bulk.read_states(conn, as_of, ("loan_id", "status", "dpd"))
    overdue = (
        states.filter((pl.col("dpd") > 0) & (pl.col("status") == "active"))
        .join(bulk.read_loan_borrowers(conn), on="loan_id", how="inner")
        .select("loan_id", "borrower_id", "dpd")
    )
    if overdue.height == 0:
        return 0
    dpd = overdue["dpd"].to_numpy()
    window = np.minimum(dpd, DAYS)
    calls = np.minimum(rng.poisson(1 + window / 4), 2 * window)
    loans = np.repeat(np.arange(overdue.height), calls)
    n = loans.size
    # the days before ``as_of`` (1 .. window): the demo's day itself has no calls yet
    days_back = 1 + (rng.random(n) * window[loans]).astype(np.int64)
    kinds = rng.choice([o for o, _ in OUTCOMES], size=n, p=np.array([p for _, p in OUTCOMES]))
    agent = (overdue["loan_id"].to_numpy() * 2654435761 % 12 + 1)[loans]
    # an agent dials in one two-hour session a day (09:00, 11:00, ... 17:00 local), as a
    # floor works its queue in blocks: attempts per active hour look like a real floor's
    session = 9 * 60 + ((agent * 7 + days_back * 3) % 5) * 120
    minutes = session + rng.integers(0, 120, n)  # 09:00-18:59 local
    frame = pl.DataFrame(
        {
            "row": loans,
            "days_back": days_back,
            "minute": minutes,
            "outcome": kinds,
            "agent": agent,
        }
    )
    calls_frame = (
        frame.with_columns(pl.col("minute").rank("ordinal").over("row", "days_back").alias("nth"))
        .filter(pl.col("nth") <= MAX_CALLS_A_DAY)
        .with_columns(pl.lit(Channel.CALL.value).alias("channel"))
    )
    # one SMS reminder a week at 10:00 on loans overdue more than a few days
    reminder_rows = np.nonzero(dpd > 3)[0]
    weeks = np.minimum(window[reminder_rows] // 7 + 1, 5)
    sms_rows = np.repeat(reminder_rows, weeks)
    sms_back = (
        np.concatenate([1 + np.arange(w) * 7 for w in weeks])
        if weeks.size
        else np.zeros(0, dtype=np.int64)
    )
    sms = pl.DataFrame(
        {
            "row": sms_rows,
            "days_back": np.asarray(sms_back, dtype=np.int64),
            "minute": np.full(sms_rows.size, 10 * 60),
            "outcome": np.full(sms_rows.size, Outcome.DELIVERED.value),
            "agent": np.zeros(sms_rows.size, dtype=np.int64),
        },
        schema={
            "row": pl.Int64,
            "days_back": pl.Int64,
            "minute": pl.Int64,
            "outcome": pl.String,
            "agent": pl.Int64,
        },
    ).with_columns(pl.lit(Channel.SMS.value).alias("channel"))
    ids = overdue.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    local_day = pl.lit(as_of) - pl.duration(days=pl.col("days_back"))
    at = (
        (local_day.cast(pl.Datetime("us")) + pl.duration(minutes=pl.col("minute")))
        .dt.replace_time_zone(zone)
        .dt.convert_time_zone("UTC")
    )
    created = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    attempts = (
        pl.concat(
            [calls_frame.select(sms.columns), sms.cast(calls_frame.select(sms.columns).schema)]
        )
        .join(ids, on="row", how="inner")
        .select(
            pl.col("loan_id"),
            pl.col("borrower_id"),
            pl.col("channel"),
            pl.lit(Party.DEBTOR.value).alias("party"),
            pl.when(pl.col("channel") == Channel.SMS.value)
            .then(pl.lit("system:demo-reminders"))
            .otherwise(
                pl.format(DEMO_PREFIX + "agent-{}", pl.col("agent").cast(pl.String).str.zfill(2))
            )
            .alias("actor"),
            at.alias("at"),
            pl.lit(True).alias("allowed"),
            pl.lit("[]").alias("blocked_by"),
            pl.col("outcome"),
            (pl.col("channel") == Channel.SMS.value).alias("discloses_debt"),
            pl.lit(True).alias("is_demand"),
            pl.lit(created).dt.replace_time_zone("UTC").alias("created_at"),
        )
        .sort("at", "loan_id")
    )
    return bulk.write_frame(conn, ContactAttempt.__tablename__, attempts)
