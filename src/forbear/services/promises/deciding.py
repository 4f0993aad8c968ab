"""The daily decision of promises from the payments table, and the flags and rates
read from them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, func, select, update

from forbear.domain import promises as rules
from forbear.domain.errors import ValidationError
from forbear.domain.promises import (
    DEFAULT_POLICY,
    PromisePolicy,
    PromiseStatus,
)
from forbear.services.promises.common import check_actor as _actor
from forbear.store import audit
from forbear.store import promises as store
from forbear.store.promises import Promise

# --- the daily decision ------------------------------------------------------------------


def daily_update(
    conn: Connection,
    as_of: date,
    actor: str = "system:daily-run",
    *,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> dict[str, int]:
    """Decide every promise due for it from the payments table, as of ``as_of``: open
    promises are kept, partly kept or broken (or progress), recently broken or partly
    kept ones are revised upwards when a late-posted payment shows up. Idempotent for a
    date (a rerun changes nothing) and never undoes a decision; one audit event
    (``promise.daily_update``) with the counts, only when something changed.

    Returns ``checked`` (promises looked at), ``kept``, ``partly_kept``, ``broken`` (newly
    resolved), ``progressed`` (open, more paid), ``revised``, ``open`` (still open)."""
    _actor(actor)
    recheck_from = as_of - timedelta(days=policy.recheck_days + policy.grace_days)
    where = store.candidates_filter(as_of, recheck_from)
    checked, found = decide(conn, where, as_of, policy)
    result = {
        "checked": checked,
        "kept": 0,
        "partly_kept": 0,
        "broken": 0,
        "progressed": 0,
        "revised": 0,
    }
    resolved = found.filter(pl.col("change") == "resolved")
    for status, n in resolved.group_by("status").len().iter_rows():
        result[str(status)] = int(n)
    result["progressed"] = found.filter(pl.col("change") == "progressed").height
    result["revised"] = found.filter(pl.col("change") == "revised").height
    apply_changes(conn, found, actor)
    result["open"] = int(
        conn.execute(
            select(func.count())
            .select_from(Promise)
            .where(Promise.status == PromiseStatus.OPEN.value, Promise.taken_on <= as_of)
        ).scalar_one()
    )
    if found.height:
        audit.record(
            conn,
            action="promise.daily_update",
            actor=actor,
            subject_type="promises",
            subject_id=as_of.isoformat(),
            payload=result,
        )
    return result


def promise_flags(
    conn: Connection, as_of: date, *, policy: PromisePolicy = DEFAULT_POLICY
) -> pl.DataFrame:
    """``loan_id: Int64, active_promise: Boolean, broken_promises_90d: Int32`` for every
    loan with a promise that matters on ``as_of`` (ordered by loan_id); loans absent have
    no active promise and no broken one: left-join and fill with false / 0.

    ``active_promise``: an open promise whose date plus grace has not passed;
    ``broken_promises_90d``: broken promises with a promised date in the last 90 days.
    Reads what is stored: run :func:`daily_update` for the date first."""
    earliest = as_of - timedelta(days=max(policy.broken_lookback_days, policy.grace_days))
    records = store.read_records(conn, promised_from=earliest, taken_by_day=as_of)
    return rules.promise_flags(records.lazy(), as_of, policy).collect()


def kept_rate(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Promise-kept rates of promises dated ``start``..``end``, by source and ``all``
    (``forbear.domain.promises.KEPT_RATES``)."""
    if end < start:
        raise ValidationError("end", "must not be before start")
    records = store.read_records(conn, promised_from=start, promised_to=end)
    return rules.kept_rates(records.lazy(), start, end)


# --- helpers -------------------------------------------------------------------------------


def decide(
    conn: Connection,
    where: Any,
    as_of: date,
    policy: PromisePolicy,
    *,
    loan_id: int | None = None,
) -> tuple[int, pl.DataFrame]:
    """(promises looked at, ``CHANGES``) for the promises matching ``where``."""
    found = store.read_candidates(conn, where, loan_id=loan_id)
    if found.is_empty():
        return 0, rules.empty(rules.CHANGES)
    since = found["taken_on"].min()
    assert isinstance(since, date)
    payments = store.read_promise_payments(conn, where, since=since, up_to=as_of, loan_id=loan_id)
    matched = rules.match_promises(found.lazy(), payments.lazy(), as_of, policy)
    return found.height, rules.changes(found.lazy(), matched).collect()


def apply_changes(conn: Connection, found: pl.DataFrame, actor: str) -> None:
    """Store ``CHANGES`` (one executemany by primary key)."""
    if found.is_empty():
        return
    rows = [
        {
            "b_id": row["promise_id"],
            "b_status": row["status"],
            "b_paid": row["amount_paid"],
            "b_resolved_on": row["resolved_on"],
            "b_by": None if row["resolved_on"] is None else actor,
        }
        for row in found.iter_rows(named=True)
    ]
    conn.execute(
        update(Promise)
        .where(Promise.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            amount_paid=bindparam("b_paid"),
            resolved_on=bindparam("b_resolved_on"),
            resolved_by=bindparam("b_by"),
        )
        .execution_options(synchronize_session=False),
        rows,
    )
