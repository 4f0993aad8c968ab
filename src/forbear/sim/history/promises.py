"""Promises to pay on the demo book (``forbear demo``): written in bulk, then decided by the
promises' own daily update from the book's real payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Connection, exists, select

from forbear.domain import promises as rules
from forbear.domain.promises import (
    DEFAULT_POLICY,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)
from forbear.services.book import states_for
from forbear.services.promises.common import check_actor as _actor
from forbear.services.promises.deciding import daily_update
from forbear.store import audit, bulk
from forbear.store import promises as store
from forbear.store.models import LoanStatus
from forbear.store.promises import Promise

DEMO_PREFIX = "demo:"


@dataclass(frozen=True)
class _Wave:
    frame: pl.DataFrame
    label: str


def seed_promises(
    conn: Connection,
    as_of: date,
    *,
    seed: int,
    actor: str = "system:demo",
    zone: str = "Asia/Shanghai",
    policy: PromisePolicy = DEFAULT_POLICY,
) -> int:
    """Promises on the demo book's overdue loans over the ~90 days before ``as_of``, then
    decided by :func:`daily_update` from the book's real payments: promises taken a few
    days before a late payment (kept; some for more than was paid: partly kept), promises
    on loans still delinquent (mostly broken, some twice), and open ones on delinquent
    loans. Agents are ``demo:agent-NN``, the portal ``demo:portal``. Returns how many were
    added; a rerun adds none. Same seed and book, same promises. Reads the day's account
    states (computed and stored first if the date has none)."""
    _actor(actor)
    already = conn.execute(
        select(exists().where(Promise.taken_by.like(f"{DEMO_PREFIX}%")))
    ).scalar()
    if already:
        return 0
    rng = np.random.default_rng(seed)
    start = as_of - timedelta(days=90)
    borrowers = bulk.read_loan_borrowers(conn)
    late = _late_payments(conn, start, as_of)
    kept_loans = _pick(late.unique("loan_id", keep="first", maintain_order=True), 0.45, rng)
    states = states_for(conn, as_of).states
    delinquent = states.filter(
        (pl.col("dpd") > 0)
        & (pl.col("status") == LoanStatus.ACTIVE.value)
        & ~pl.col("loan_id").is_in(kept_loans["loan_id"].implode())
    ).select("loan_id", "overdue_total")
    waves = [
        _Wave(_kept_promises(kept_loans, start, rng), "kept"),
        *_broken_promises(delinquent, as_of, policy, rng),
        _Wave(_open_promises(_pick(delinquent, 0.3, rng), as_of, rng), "open"),
    ]
    ZoneInfo(zone)  # an unknown zone fails here, before anything is written
    added = 0
    for wave in waves:
        frame = _finish(wave.frame, borrowers, zone, rng)
        added += bulk.write_frame(conn, Promise.__tablename__, frame)
        daily_update(conn, as_of, actor, policy=policy)
    audit.record(
        conn,
        action="promise.seed_demo",
        actor=actor,
        subject_type="promises",
        subject_id=as_of.isoformat(),
        payload={wave.label: wave.frame.height for wave in waves} | {"added": added},
    )
    return added


def _late_payments(conn: Connection, start: date, as_of: date) -> pl.DataFrame:
    """``loan_id, paid_on, amount, payment_id`` of payments in ``[start + 7, as_of)`` made
    while the loan was behind (less paid before than had fallen due four days before),
    ordered by day, loan and payment. The sums before the window come from the database."""
    since = start + timedelta(days=7)
    lag = timedelta(days=4)
    window = store.read_arrears_window(conn, since=since, until=as_of, dues_from=since - lag)
    dues = window.dues.join(window.due_before.rename({"total": "base"}), on="loan_id", how="left")
    due = dues.sort("loan_id", "due_date").select(  # joins do not keep the order
        "loan_id",
        "due_date",
        (pl.col("base").fill_null(0) + pl.col("due").cum_sum().over("loan_id")).alias("due_so_far"),
    )
    paid = window.payments.join(
        window.paid_before.rename({"total": "base"}), on="loan_id", how="left"
    )
    return (
        paid.sort("loan_id", "paid_on", "payment_id")
        .with_columns(
            paid_before=pl.col("base").fill_null(0)
            + (pl.col("amount").cum_sum() - pl.col("amount")).over("loan_id"),
            looked_at=pl.col("paid_on") - lag,
        )
        .sort("looked_at")
        .join_asof(
            due.sort("due_date"),
            left_on="looked_at",
            right_on="due_date",
            by="loan_id",
            strategy="backward",
            check_sortedness=False,  # sorted by the key above; polars cannot check with `by`
        )
        .join(window.due_before.rename({"total": "before"}), on="loan_id", how="left")
        .filter(
            pl.col("paid_before")
            < pl.coalesce(pl.col("due_so_far"), pl.col("before"), pl.lit(0, pl.Int64))
        )
        .select("loan_id", "paid_on", "amount", "payment_id")
        .sort("paid_on", "loan_id", "payment_id")
    )


def _pick(frame: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    if frame.is_empty():
        return frame
    chosen = rng.random(frame.height) < share
    return frame.filter(pl.Series(chosen))


def _days(rng: np.random.Generator, low: int, high: int, n: int) -> pl.Expr:
    return pl.lit(pl.Series(rng.integers(low, high + 1, n), dtype=pl.Int64))


def _kept_promises(late: pl.DataFrame, start: date, rng: np.random.Generator) -> pl.DataFrame:
    """A promise taken 1-6 days before a late payment, for about what was paid (85%) or
    for 1.6 times as much (partly kept)."""
    n = late.height
    whole = (pl.col("amount") // 100 * 100).clip(lower_bound=100)
    more = pl.col("amount") * 16 // 1000 * 100
    return late.with_columns(
        before=_days(rng, 1, 6, n), after=_days(rng, 0, 2, n), over=pl.Series(rng.random(n) < 0.15)
    ).select(
        "loan_id",
        pl.when(pl.col("over")).then(more).otherwise(whole).alias("amount"),
        pl.max_horizontal(
            pl.col("paid_on") - pl.duration(days=pl.col("before")), pl.lit(start)
        ).alias("taken_on"),
        (pl.col("paid_on") + pl.duration(days=pl.col("after"))).alias("promised_on"),
    )


def _share_of_overdue(n: int, rng: np.random.Generator) -> pl.Expr:
    share = pl.Series(rng.uniform(0.3, 1.0, n))
    return ((pl.col("overdue_total") * share) // 10_000 * 10_000).clip(lower_bound=10_000)


def _broken_promises(
    delinquent: pl.DataFrame,
    as_of: date,
    policy: PromisePolicy,
    rng: np.random.Generator,
) -> list[_Wave]:
    """Promises on loans still delinquent, 20-85 days ago (and, on a third of them, a
    second one after the first expired): the payments decide, mostly broken."""
    first = _pick(delinquent, 0.5, rng)
    n = first.height
    one = first.with_columns(
        taken_on=pl.lit(as_of) - pl.duration(days=_days(rng, 20, 85, n)),
    ).with_columns(
        promised_on=pl.col("taken_on") + pl.duration(days=_days(rng, 1, 7, n)),
        amount=_share_of_overdue(n, rng),
    )
    again = _pick(one, 0.35, rng)
    m = again.height
    latest = as_of - timedelta(days=6 + policy.grace_days)
    two = (
        again.with_columns(
            taken_on=pl.col("promised_on")
            + pl.duration(days=policy.grace_days + 1)
            + pl.duration(days=_days(rng, 2, 10, m)),
        )
        .with_columns(promised_on=pl.col("taken_on") + pl.duration(days=_days(rng, 1, 7, m)))
        .filter(pl.col("promised_on") <= latest)
    )
    columns = ["loan_id", "amount", "taken_on", "promised_on"]
    return [_Wave(one.select(columns), "broken_first"), _Wave(two.select(columns), "broken_again")]


def _open_promises(delinquent: pl.DataFrame, as_of: date, rng: np.random.Generator) -> pl.DataFrame:
    n = delinquent.height
    return delinquent.select(
        "loan_id",
        _share_of_overdue(n, rng).alias("amount"),
        (pl.lit(as_of) - pl.duration(days=_days(rng, 0, 4, n))).alias("taken_on"),
        (pl.lit(as_of) + pl.duration(days=_days(rng, 0, 10, n))).alias("promised_on"),
    )


def _finish(
    frame: pl.DataFrame, borrowers: pl.DataFrame, zone: str, rng: np.random.Generator
) -> pl.DataFrame:
    """The ``promises`` columns: borrower, source and taker, a time of day for ``taken_at``."""
    n = frame.height
    portal = pl.Series(rng.random(n) < 0.25)
    agent = pl.Series(rng.integers(1, 13, n))
    minutes = pl.lit(pl.Series(rng.integers(9 * 60, 20 * 60, n), dtype=pl.Int64))
    taken_at = (
        (pl.col("taken_on").cast(pl.Date).cast(pl.Datetime("us")) + pl.duration(minutes=minutes))
        .dt.replace_time_zone(zone)
        .dt.convert_time_zone("UTC")
    )
    return (
        frame.with_columns(
            pl.col("taken_on").cast(pl.Date),
            pl.col("promised_on").cast(pl.Date),
            pl.col("amount").cast(pl.Int64),
            pl.when(portal)
            .then(pl.lit(PromiseSource.PORTAL.value))
            .otherwise(pl.lit(PromiseSource.AGENT.value))
            .alias("source"),
            pl.when(portal)
            .then(pl.lit(f"{DEMO_PREFIX}portal"))
            .otherwise(pl.format(DEMO_PREFIX + "agent-{}", agent.cast(pl.String).str.zfill(2)))
            .alias("taken_by"),
            taken_at.cast(rules.UTC_MOMENT).alias("taken_at"),
            pl.lit(PromiseStatus.OPEN.value).alias("status"),
            pl.lit(0, dtype=pl.Int64).alias("amount_paid"),
        )
        .join(borrowers, on="loan_id", how="inner")
        .select(
            "loan_id",
            "borrower_id",
            "amount",
            "promised_on",
            "source",
            "status",
            "taken_by",
            "taken_at",
            "taken_on",
            "amount_paid",
        )
    )
