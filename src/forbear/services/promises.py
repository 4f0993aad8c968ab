"""Promises to pay: take one, cancel one, decide them every day, and the figures the
strategy and the dashboard read.

The rules live in :mod:`forbear.domain.promises`; this module reads, calls them and
writes, in the caller's transaction (``conn``), never committing. Every change is audited:
one event per promise taken, cancelled or resolved online, one event with counts for a
daily update. Validation happens before anything is written, so a refused promise leaves
no trace.

Who may promise what (docs/promises.md):

- amount > 0 and no more than the loan can owe by the promised date (its ledger state on
  that day); date from today to ``horizon_days`` ahead; not on a loan paid off or written
  off on the business date;
- one open promise per loan: a new one is refused while one is open, unless it replaces
  it explicitly (the old one is cancelled as superseded, both audited). The open one is
  first decided on today's payments, so a promise already kept does not stand in the way;
- not while a hold stops it (:data:`forbear.domain.promises.HOLDS_REFUSING`);
- a promise linked to a contact attempt comes from an allowed attempt on the same loan
  that reached the debtor or a guarantor (never a third party: CN.3P.NO_UNRELATED).

Errors: :class:`NotFound` (loan, promise, contact attempt), :class:`ValidationError`
(bad terms), :class:`Conflict` (an open promise already, a loan closed, a hold, a promise
not open any more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Connection, bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from forbear.domain import promises as rules
from forbear.domain.compliance.schema import Outcome, Party
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.ledger import account_states, products_frame
from forbear.domain.promises import (
    DEFAULT_POLICY,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)
from forbear.services.book import states_for
from forbear.store import audit, bulk
from forbear.store import promises as store
from forbear.store.contacts import ContactAttempt, read_holds
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import lock_loan
from forbear.store.models import Loan, LoanStatus
from forbear.store.promises import Promise

# Sources that come from a conversation, so may name the contact attempt.
CONVERSATIONAL = frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT})
# Outcomes of an attempt in which nobody could have promised anything.
NO_CONVERSATION = frozenset(
    {
        Outcome.NO_ANSWER,
        Outcome.BUSY,
        Outcome.INVALID_NUMBER,
        Outcome.REFUSED,
        Outcome.FAILED,
        Outcome.BLOCKED,
    }
)
PAYERS = frozenset({Party.DEBTOR, Party.GUARANTOR})
DEMO_PREFIX = "demo:"


# --- taking and cancelling ---------------------------------------------------------------


def add_promise(
    conn: Connection,
    *,
    loan_id: int,
    amount: int,
    promised_on: date,
    source: str,
    actor: str,
    as_of: date,
    contact_attempt_id: int | None = None,
    replace: bool = False,
    taken_at: datetime | None = None,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> int:
    """Record a promise to pay ``amount`` fen on loan ``loan_id`` by ``promised_on``, taken
    on business date ``as_of`` (at ``taken_at``, default now) by ``actor`` through
    ``source``. Returns the promise id; audited as ``promise.add`` (and ``promise.cancel``
    for a promise it replaces)."""
    _actor(actor)
    kind = rules.check_terms(
        amount=amount, promised_on=promised_on, as_of=as_of, source=source, policy=policy
    )
    moment = _utc(taken_at if taken_at is not None else datetime.now(UTC), "taken_at")
    borrower_id = conn.execute(
        select(Loan.borrower_id).where(Loan.id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise NotFound("loan", str(loan_id))
    lock_loan(conn, loan_id)  # one open promise per loan: the check and insert, serialised
    if contact_attempt_id is not None:
        _check_attempt(conn, contact_attempt_id, loan_id, kind)
    today = _loan_state(conn, loan_id, as_of)
    if today is None:
        raise ValidationError("as_of", "the loan had not started on this business date")
    if today["status"] == LoanStatus.PAID_OFF.value:
        raise Conflict("the loan is paid off: there is nothing left to promise")
    if today["status"] == LoanStatus.WRITTEN_OFF.value:
        raise Conflict("the loan is written off: promises are not taken on it")
    by_then = _loan_state(conn, loan_id, promised_on, payments_up_to=as_of) or today
    rules.check_amount_owed(amount, rules.most_owed(by_then))
    hold = rules.refusing_hold(
        read_holds(conn, borrower_id=int(borrower_id)), loan_id=loan_id, source=kind, at=moment
    )
    if hold is not None:
        raise Conflict(
            f"a {hold} hold is open on this loan: a promise cannot be taken from {kind.value}"
        )
    replaced = _clear_open(conn, loan_id, as_of=as_of, actor=actor, replace=replace, policy=policy)
    try:
        promise_id = int(
            conn.execute(
                insert(Promise)
                .values(
                    loan_id=loan_id,
                    borrower_id=int(borrower_id),
                    amount=amount,
                    promised_on=promised_on,
                    source=kind.value,
                    status=PromiseStatus.OPEN.value,
                    taken_by=actor,
                    taken_at=moment,
                    taken_on=as_of,
                    contact_attempt_id=contact_attempt_id,
                    replaces_id=replaced,
                    amount_paid=0,
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
                .returning(Promise.id)
            ).scalar_one()
        )
    except IntegrityError as exc:  # another promise was taken on this loan meanwhile
        if "uq_promises_open_loan_id" in str(exc) or "promises.loan_id" in str(exc):
            raise Conflict("another promise was just recorded on this loan") from None
        raise
    if replaced is not None:
        _audit_one(
            conn,
            "promise.cancel",
            actor,
            replaced,
            {"reason": "superseded", "replaced_by": promise_id, "resolved_on": as_of.isoformat()},
        )
    _audit_one(
        conn,
        "promise.add",
        actor,
        promise_id,
        {
            "loan_id": loan_id,
            "amount": amount,
            "promised_on": promised_on.isoformat(),
            "source": kind.value,
            "taken_on": as_of.isoformat(),
            "contact_attempt_id": contact_attempt_id,
            "replaces": replaced,
        },
    )
    return promise_id


def cancel_promise(
    conn: Connection,
    promise_id: int,
    *,
    actor: str,
    as_of: date,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> None:
    """Withdraw an open promise (the borrower takes it back, it was recorded by mistake).
    ``reason`` is short free text a person typed: stored encrypted with ``vault`` (required
    with a reason), the clear ``cancel_reason`` keeps the code ``cancelled``; audited as
    ``promise.cancel``."""
    _actor(actor)
    if reason is not None and reason.strip() and vault is None:
        raise TypeError("a typed reason is encrypted at rest: pass the vault")
    if reason is not None and len(reason) > 200:
        raise ValidationError("reason", "at most 200 characters")
    found = conn.execute(
        select(Promise.status, Promise.taken_on).where(Promise.id == promise_id)
    ).one_or_none()
    if found is None:
        raise NotFound("promise", str(promise_id))
    if found.status != PromiseStatus.OPEN.value:
        raise Conflict(f"promise {promise_id} is {found.status}: only an open promise is cancelled")
    if as_of < found.taken_on:
        raise ValidationError("as_of", "before the promise was taken")
    conn.execute(
        update(Promise)
        .where(Promise.id == promise_id)
        .values(
            status=PromiseStatus.CANCELLED.value,
            resolved_on=as_of,
            resolved_by=actor,
            cancel_reason="cancelled",
            cancel_reason_enc=vault.encrypt(reason.strip(), context=Contexts.PROMISE_CANCEL_REASON)
            if reason and reason.strip() and vault is not None
            else None,
            updated_at=datetime.now(UTC),
        )
    )
    # The typed reason stays in the table, encrypted: the trail holds ids and codes only.
    _audit_one(conn, "promise.cancel", actor, promise_id, {"resolved_on": as_of.isoformat()})


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
    checked, found = _decide(conn, where, as_of, policy)
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
    _apply(conn, found, actor)
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


# --- reading -------------------------------------------------------------------------------

LISTED: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_ref": pl.String(),
    "source": pl.String(),
    "amount": pl.Int64(),
    "amount_paid": pl.Int64(),
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
    "status": pl.String(),
    "resolved_on": pl.Date(),
    "taken_by": pl.String(),
    "replaces_id": pl.Int64(),
}


def list_promises(
    conn: Connection,
    *,
    loan_id: int | None = None,
    status: str | None = None,
    as_of: date | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Promises newest first (``LISTED``), optionally of one loan, in one status, or taken
    on or before ``as_of``. No personal data: the loan is named by the lender's reference."""
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    stmt = (
        select(
            Promise.id.label("promise_id"),
            Loan.external_ref.label("loan_ref"),
            Promise.source,
            Promise.amount,
            Promise.amount_paid,
            Promise.taken_on,
            Promise.promised_on,
            Promise.status,
            Promise.resolved_on,
            Promise.taken_by,
            Promise.replaces_id,
        )
        .join(Loan, Loan.id == Promise.loan_id)
        .order_by(Promise.id.desc())
        .limit(limit)
    )
    if loan_id is not None:
        stmt = stmt.where(Promise.loan_id == loan_id)
    if status is not None:
        stmt = stmt.where(Promise.status == rules.promise_status(status).value)
    if as_of is not None:
        stmt = stmt.where(Promise.taken_on <= as_of)
    return bulk.read_frame(conn, stmt, LISTED)


# --- the demo ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wave:
    frame: pl.DataFrame
    label: str


def seed_demo(
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


# --- helpers -------------------------------------------------------------------------------


def _decide(
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


def _apply(conn: Connection, found: pl.DataFrame, actor: str) -> None:
    """Store ``CHANGES`` (one executemany by primary key)."""
    if found.is_empty():
        return
    now = datetime.now(UTC)
    rows = [
        {
            "b_id": row["promise_id"],
            "b_status": row["status"],
            "b_paid": row["amount_paid"],
            "b_resolved_on": row["resolved_on"],
            "b_by": None if row["resolved_on"] is None else actor,
            "b_now": now,
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
            updated_at=bindparam("b_now"),
        )
        .execution_options(synchronize_session=False),
        rows,
    )


def _clear_open(
    conn: Connection,
    loan_id: int,
    *,
    as_of: date,
    actor: str,
    replace: bool,
    policy: PromisePolicy,
) -> int | None:
    """Make way for a new promise on ``loan_id``: decide its open promise on today's
    payments first (audited ``promise.resolve`` if that settles it); if it is still open,
    refuse, or cancel it when ``replace``. Returns the id of the promise replaced."""
    open_one = conn.execute(
        select(Promise.id, Promise.promised_on, Promise.taken_on).where(
            Promise.loan_id == loan_id, Promise.status == PromiseStatus.OPEN.value
        )
    ).one_or_none()
    if open_one is None:
        return None
    _, found = _decide(conn, Promise.id == open_one.id, as_of, policy)
    settled = found.filter(pl.col("change") == "resolved")
    if settled.height:
        _apply(conn, settled, actor)
        row = settled.row(0, named=True)
        _audit_one(
            conn,
            "promise.resolve",
            actor,
            int(open_one.id),
            {
                "status": row["status"],
                "amount_paid": row["amount_paid"],
                "resolved_on": row["resolved_on"].isoformat(),
            },
        )
        return None
    if not replace:
        raise Conflict(
            f"the loan already has open promise {open_one.id} "
            f"(promised for {open_one.promised_on.isoformat()}): cancel it, or replace it"
        )
    if as_of < open_one.taken_on:
        raise ValidationError("as_of", "before the open promise it would replace was taken")
    conn.execute(
        update(Promise)
        .where(Promise.id == open_one.id)
        .values(
            status=PromiseStatus.CANCELLED.value,
            resolved_on=as_of,
            resolved_by=actor,
            cancel_reason="superseded",
            updated_at=datetime.now(UTC),
        )
    )
    return int(open_one.id)


def _check_attempt(conn: Connection, attempt_id: int, loan_id: int, source: PromiseSource) -> None:
    if source not in CONVERSATIONAL:
        raise ValidationError(
            "contact_attempt_id", f"a promise from {source.value} comes from no contact attempt"
        )
    attempt = conn.execute(
        select(
            ContactAttempt.loan_id,
            ContactAttempt.allowed,
            ContactAttempt.outcome,
            ContactAttempt.party,
        ).where(ContactAttempt.id == attempt_id)
    ).one_or_none()
    if attempt is None:
        raise NotFound("contact attempt", str(attempt_id))
    if attempt.loan_id != loan_id:
        raise ValidationError("contact_attempt_id", "not a contact attempt on this loan")
    if not attempt.allowed:
        raise ValidationError(
            "contact_attempt_id", "the gate blocked that attempt: no contact took place"
        )
    if attempt.outcome is not None and Outcome(attempt.outcome) in NO_CONVERSATION:
        raise ValidationError(
            "contact_attempt_id", f"that attempt came to {attempt.outcome}: nobody promised"
        )
    if Party(attempt.party) not in PAYERS:
        raise ValidationError(
            "contact_attempt_id",
            "that attempt reached a third party: only the debtor or a guarantor promises to "
            "pay (CN.3P.NO_UNRELATED)",
        )


def _loan_state(
    conn: Connection, loan_id: int, day: date, *, payments_up_to: date | None = None
) -> dict[str, Any] | None:
    """The ledger state of one loan on ``day`` (``STATES`` row), computed for that loan
    alone by the same ledger the batch runs; None before the loan starts."""
    loans, payments = store.read_loan_book(conn, loan_id, payments_up_to or day)
    instalments = bulk.read_instalments(conn, [loan_id])
    products = products_frame(bulk.read_products_terms(conn))
    states = account_states(
        loans.lazy(), products.lazy(), instalments.lazy(), payments.lazy(), day
    ).states.collect()
    return states.row(0, named=True) if states.height else None


def _audit_one(
    conn: Connection, action: str, actor: str, promise_id: int, payload: dict[str, Any]
) -> None:
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type="promise",
        subject_id=str(promise_id),
        payload=payload,
    )


def _actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(field, "a time without a zone is ambiguous: give it in UTC")
    return moment.astimezone(UTC)


__all__ = [
    "LISTED",
    "add_promise",
    "cancel_promise",
    "daily_update",
    "kept_rate",
    "list_promises",
    "promise_flags",
    "seed_demo",
]
