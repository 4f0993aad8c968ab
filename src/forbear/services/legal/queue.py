"""Which accounts are eligible for legal review, and the review queue the daily run refreshes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, func, insert, select, update

from forbear.domain.errors import NotFound
from forbear.domain.legal import eligibility
from forbear.domain.legal.limitation import limitation_date_expr
from forbear.services.accounts import DayFacts, assemble_accounts, day_facts
from forbear.services.legal.common import _actor, stamp
from forbear.services.legal.configuration import config_in_force
from forbear.services.situation import limitation_years
from forbear.store import audit, bulk
from forbear.store.legal import (
    LegalCase,
    LegalQueueEntry,
    QueueStatus,
    read_last_debtor_contact,
)
from forbear.store.models import Loan

# ----------------------------------------------------------------------- eligibility


def _promise_and_plan_flags(facts: DayFacts) -> pl.DataFrame:
    """``loan_id, broken_promises_90d, active_plan`` from the promises and plans areas
    (what they stored for the date: the daily run updates promises first)."""
    promises = facts.promises.lazy().select("loan_id", "broken_promises_90d")
    plans = facts.plans.lazy().select("loan_id", "active_plan")
    return (
        promises.join(plans, on="loan_id", how="full", coalesce=True)
        .select(
            pl.col("loan_id").cast(pl.Int64),
            pl.col("broken_promises_90d").fill_null(0).cast(pl.Int32),
            pl.col("active_plan").fill_null(False).cast(pl.Boolean),
        )
        .collect()
    )


def legal_accounts(
    conn: Connection, as_of: date, *, loan_id: int | None = None, facts: DayFacts | None = None
) -> pl.DataFrame:
    """``LEGAL_ACCOUNTS`` plus ``limitation_date``, for the whole book or one loan, built
    from the same readers and the same ACCOUNT assembly as the daily run (which hands
    over the day's ``facts`` it read once for both)."""
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    if loan_id is not None:
        return _one_legal_account(conn, as_of, at, loan_id)
    if facts is None:
        facts = day_facts(conn, as_of)
    states, borrowers, holds, flags = facts.states, facts.borrowers, facts.holds, facts.flags
    years = limitation_years()
    accounts = assemble_accounts(
        states.lazy(),
        borrowers.lazy(),
        pl.DataFrame(schema=bulk.SCORES).lazy(),
        holds.lazy(),
        flags.lazy(),
        as_of,
        years,
    ).drop("active_plan", "broken_promises_90d")
    components = states.lazy().select(
        "loan_id",
        "outstanding_principal",
        "overdue_principal",
        "overdue_interest",
        "overdue_penalty",
        "overdue_fee",
    )
    contact = _days_since_contact(conn, as_of, at)
    limits = flags.lazy().select("loan_id", limitation_date_expr(years))
    return (
        accounts.join(components, on="loan_id", how="left")
        .join(_promise_and_plan_flags(facts).lazy(), on="loan_id", how="left")
        .join(contact, on="loan_id", how="left")
        .join(limits, on="loan_id", how="left")
        .select(*eligibility.LEGAL_ACCOUNTS, "limitation_date")
        .with_columns(
            pl.col("broken_promises_90d").fill_null(0).cast(pl.Int32),
            pl.col("active_plan").fill_null(False),
        )
        .sort("loan_id")
        .collect()
    )


def _days_since_contact(conn: Connection, as_of: date, at: datetime) -> pl.LazyFrame:
    return (
        read_last_debtor_contact(conn, before=at)
        .lazy()
        .group_by("loan_id")
        .agg(pl.col("last_contact_at").max())
        .select(
            "loan_id",
            (pl.lit(as_of) - pl.col("last_contact_at").dt.date())
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_since_last_contact"),
        )
    )


def _one_legal_account(conn: Connection, as_of: date, at: datetime, loan_id: int) -> pl.DataFrame:
    """``legal_accounts`` of one loan from the borrower situation
    (:mod:`forbear.services.situation`): the amounts, holds, plan, promises and limitation
    as they are now, not as of the last daily run (opening a case the day a plan was
    accepted must see the plan)."""
    from forbear.services import situation

    found, _ = situation.of_loan(conn, loan_id, as_of, at)
    mine = found.loans.filter(pl.col("loan_id") == loan_id)
    if mine.is_empty():
        raise NotFound("account state", f"loan {loan_id} on {as_of}")
    contact = _days_since_contact(conn, as_of, at).filter(pl.col("loan_id") == loan_id)
    return (
        mine.lazy()
        .join(contact, on="loan_id", how="left")
        .select(*eligibility.LEGAL_ACCOUNTS, "limitation_date")
        .collect()
    )


def assess(conn: Connection, as_of: date, *, loan_id: int | None = None) -> pl.DataFrame:
    """Every account (or one) assessed against the configuration in force."""
    rules = config_in_force(conn).eligibility
    frame = legal_accounts(conn, as_of, loan_id=loan_id)
    return eligibility.assess(frame.lazy(), rules).collect().with_columns(frame["limitation_date"])


# ----------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueItem:
    entry_id: int
    loan_id: int
    loan_ref: str
    queued_on: date
    status: str
    reasons: list[dict[str, Any]]
    case_id: int | None
    stage: str | None


def refresh_queue(
    conn: Connection,
    as_of: date,
    actor: str = "system:daily-run",
    *,
    accounts: pl.DataFrame | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Put newly eligible accounts in the legal review queue (never straight to
    litigation) and remove queued entries that are no longer eligible and have no case
    yet. Idempotent per date: a second run for the same date changes nothing. The daily
    run passes the :func:`legal_accounts` it computed on its read snapshot.

    Returns ``eligible`` (accounts eligible today), ``added``, ``removed`` and ``queued``
    (entries waiting for review after the refresh)."""
    _actor(actor)
    rules = config_in_force(conn).eligibility
    if accounts is None:
        accounts = legal_accounts(conn, as_of)
    assessed = eligibility.assess(accounts.lazy(), rules).collect()
    q = LegalQueueEntry
    open_rows = conn.execute(
        select(q.id, q.loan_id, q.status).where(q.status.in_(["queued", "case_opened"]))
    ).all()
    open_loans = {int(r.loan_id) for r in open_rows}
    eligible = assessed.filter(pl.col("eligible"))
    eligible_ids = set(eligible["loan_id"].to_list())

    new_rows = [row for row in eligible.iter_rows(named=True) if row["loan_id"] not in open_loans]
    entries: list[audit.Entry] = []
    if new_rows:
        values = []
        for row in new_rows:
            reasons = eligibility.reasons(row, rules)
            values.append(
                {
                    "loan_id": row["loan_id"],
                    "queued_on": as_of,
                    "status": QueueStatus.QUEUED.value,
                    "reasons": json.dumps(reasons, ensure_ascii=False),
                    "created_by": actor,
                    **stamp(now),
                }
            )
            entries.append(
                audit.Entry(
                    "legal.queue.add",
                    actor,
                    "loan",
                    row["loan_id"],
                    {"as_of": as_of.isoformat(), "reasons": reasons},
                    now,
                )
            )
        conn.execute(insert(q), values)

    gone = [
        r
        for r in open_rows
        if r.status == QueueStatus.QUEUED.value and r.loan_id not in eligible_ids
    ]
    # why each leaving entry failed: only theirs (the whole book's would be ~1 s a run)
    failed = {
        int(loan_id): list(why)
        for loan_id, why in assessed.filter(pl.col("loan_id").is_in([int(r.loan_id) for r in gone]))
        .select("loan_id", "failed")
        .iter_rows()
    }
    removals: list[dict[str, Any]] = []
    for r in gone:
        because = failed.get(int(r.loan_id), ["not_in_book"])
        removals.append({"entry_id": int(r.id), "because": json.dumps(because)})
        entries.append(
            audit.Entry(
                "legal.queue.remove",
                actor,
                "legal_queue",
                int(r.id),
                {"loan_id": int(r.loan_id), "as_of": as_of.isoformat(), "failed": because},
                now,
            )
        )
    if removals:  # one statement, executed for every leaving entry
        conn.execute(
            update(q)
            .where(q.id == bindparam("entry_id"))
            .values(
                status=QueueStatus.REMOVED.value,
                removed_on=as_of,
                removed_because=bindparam("because"),
            ),
            removals,
        )
    if entries:
        audit.record_many(conn, entries)
    queued = conn.execute(
        select(func.count()).select_from(q).where(q.status == QueueStatus.QUEUED.value)
    ).scalar_one()
    return {
        "eligible": eligible.height,
        "added": len(new_rows),
        "removed": len(gone),
        "queued": int(queued),
    }


def queue(conn: Connection, as_of: date, *, include_cases: bool = True) -> list[QueueItem]:
    """Open queue entries (waiting for review and, with ``include_cases``, those a case
    was opened from) queued on or before ``as_of``, oldest first."""
    q, c = LegalQueueEntry, LegalCase
    statuses = ["queued", "case_opened"] if include_cases else ["queued"]
    rows = conn.execute(
        select(q.id, q.loan_id, Loan.external_ref, q.queued_on, q.status, q.reasons, c.id, c.stage)
        .join(Loan, Loan.id == q.loan_id)
        .outerjoin(c, c.queue_entry_id == q.id)
        .where(q.status.in_(statuses), q.queued_on <= as_of)
        .order_by(q.queued_on, q.id)
    ).all()
    return [
        QueueItem(
            entry_id=int(r[0]),
            loan_id=int(r[1]),
            loan_ref=str(r[2]),
            queued_on=r[3],
            status=str(r[4]),
            reasons=list(json.loads(r[5])),
            case_id=None if r[6] is None else int(r[6]),
            stage=None if r[7] is None else str(r[7]),
        )
        for r in rows
    ]
