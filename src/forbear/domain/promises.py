"""Promises to pay (承诺还款): the policy, the checks on a new promise, and the matching of
payments to promises, written once over Polars frames (DESIGN.md "The one idea").

The daily run applies :func:`match_promises` to every promise due for a decision; the
online path (taking a new promise while an older one may already be kept) applies the very
same function to a one-row frame. :func:`judge` is the scalar, readable specification the
vectorised function is tested against.

**Matching.** A promise counts the payments made on its loan from the moment it was taken
(a payment earlier on the same day, before the promise, does not count; where a payment
has no time, its day counts) through its promised date plus ``grace_days``. With
``tolerance = min(max(amount × tolerance_bp, tolerance_min), amount × tolerance_cap_bp)``:

- ``kept`` as soon as the payments reach ``amount - tolerance`` (resolved on the day of the
  payment that reached it, with what was paid by the end of that day);
- after the grace period (``as_of > promised_on + grace_days``): ``partly_kept`` when at
  least ``partial_floor_bp`` of the amount was paid, else ``broken`` (resolved on the first
  day after the grace period);
- ``open`` until then.

Decisions depend only on the promise, the payments and ``as_of``; they never go backwards:
:func:`changes` turns a fresh match into updates that only resolve an open promise, record
progress on it, or *revise* a broken or partly kept one upwards when a late-posted payment
shows up (``recheck_days``). So the daily run can be rerun or run for an earlier date
without undoing anything.

Frames (money ``Int64`` fen, business dates ``Date``, moments UTC ``Datetime``):
:data:`PROMISES` and :data:`PROMISE_PAYMENTS` in, :data:`MATCHED` out; :data:`RECORDS`
(stored promises) for :func:`promise_flags` and :func:`kept_rates`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import polars as pl

from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import ValidationError
from forbear.domain.holds import hold_open_expr
from forbear.domain.money import BP_PER_UNIT


class PromiseSource(StrEnum):
    """Who took the promise."""

    AGENT = "agent"  # a collector, in a call, a visit or a chat
    PORTAL = "portal"  # the borrower, in the self-service portal
    ASSISTANT = "assistant"  # the 24-hour borrower assistant
    IMPORT = "import"  # recorded in the lender's own system and imported


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"  # withdrawn or superseded by a newer promise


RESOLVED = frozenset({PromiseStatus.KEPT, PromiseStatus.PARTLY_KEPT, PromiseStatus.BROKEN})
# How good an outcome is: a decision may only move up this scale (see ``changes``).
RANK: dict[str, int] = {
    PromiseStatus.OPEN.value: 0,
    PromiseStatus.BROKEN.value: 1,
    PromiseStatus.PARTLY_KEPT.value: 2,
    PromiseStatus.KEPT.value: 3,
}

# Holds under which a promise may not be taken, and from which sources. A deceased
# borrower cannot promise at all. Dispute, cease-communication, lawyer and do-not-contact
# holds stop collection contact (REGULATIONS.md CN holds; US.REGF.CEASE, US.REGF.DISPUTE):
# an agent or the assistant taking a promise then would itself be the forbidden contact,
# so those are refused; a promise the borrower makes on their own initiative in the
# portal, or one the lender's system recorded, is kept on file. Complaints, opt-outs of
# one medium and vulnerability do not stop a promise (vulnerability asks for care).
HOLDS_REFUSING: dict[HoldKind, frozenset[PromiseSource]] = {
    HoldKind.DECEASED: frozenset(PromiseSource),
    HoldKind.DISPUTE: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.CEASE: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.LAWYER: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
    HoldKind.DO_NOT_CONTACT: frozenset({PromiseSource.AGENT, PromiseSource.ASSISTANT}),
}


@dataclass(frozen=True, slots=True)
class PromisePolicy:
    """The lender's promise policy. Defaults: a promise at most 30 days ahead, 2 days of
    grace, kept within 1% or ¥10 (whichever is larger, never more than 10% of the amount),
    partly kept from 10% paid, late-posted payments revise decisions for 30 days, broken
    promises counted over 90 days."""

    horizon_days: int = 30
    grace_days: int = 2
    tolerance_bp: int = 100
    tolerance_min: int = 1_000  # fen
    tolerance_cap_bp: int = 1_000
    partial_floor_bp: int = 1_000
    recheck_days: int = 30
    broken_lookback_days: int = 90

    def __post_init__(self) -> None:
        for name in ("horizon_days", "grace_days", "tolerance_min", "recheck_days"):
            if getattr(self, name) < 0:
                raise ValidationError(name, "must not be negative")
        for name in ("tolerance_bp", "tolerance_cap_bp", "partial_floor_bp"):
            if not 0 <= getattr(self, name) <= BP_PER_UNIT:
                raise ValidationError(name, "basis points between 0 and 10000")
        if self.broken_lookback_days < 1:
            raise ValidationError("broken_lookback_days", "must be at least 1")

    def tolerance(self, amount: int) -> int:
        """How much short of ``amount`` still keeps the promise (integer fen, rounded down)."""
        share = amount * self.tolerance_bp // BP_PER_UNIT
        cap = amount * self.tolerance_cap_bp // BP_PER_UNIT
        return min(max(share, self.tolerance_min), cap)

    def threshold(self, amount: int) -> int:
        """The least paid that keeps a promise of ``amount`` (always at least 1 fen)."""
        return max(amount - self.tolerance(amount), 1)

    def floor(self, amount: int) -> int:
        """The least paid that makes a promise partly kept rather than broken."""
        return max(-(-amount * self.partial_floor_bp // BP_PER_UNIT), 1)

    def deadline(self, promised_on: date) -> date:
        """The last day a payment counts."""
        return promised_on + timedelta(days=self.grace_days)


DEFAULT_POLICY = PromisePolicy()

# --- frame contracts ---------------------------------------------------------------------

UTC_MOMENT = pl.Datetime("us", "UTC")

# Promises to decide. ``taken_on`` is the business date of ``taken_at`` in the lender's zone.
PROMISES: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "amount": pl.Int64(),
    "taken_at": UTC_MOMENT,
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
}

# Payments on the loans of those promises; ``paid_at`` may be null (only the day is known).
PROMISE_PAYMENTS: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "paid_on": pl.Date(),
    "paid_at": UTC_MOMENT,
    "amount": pl.Int64(),
}

# One decision per promise, ordered by promise_id.
MATCHED: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "status": pl.String(),  # open | kept | partly_kept | broken
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),  # null while open
    "deadline": pl.Date(),
}

# Stored promises (the ``promises`` table's columns the reports need).
RECORDS: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "source": pl.String(),
    "amount": pl.Int64(),
    "taken_on": pl.Date(),
    "promised_on": pl.Date(),
    "status": pl.String(),
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),
}

FLAGS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "active_promise": pl.Boolean(),
    "broken_promises_90d": pl.Int32(),
}

# What :func:`changes` returns: the updates to store.
CHANGES: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "status": pl.String(),
    "amount_paid": pl.Int64(),
    "resolved_on": pl.Date(),
    "change": pl.String(),  # resolved | progressed | revised
}

KEPT_RATES: dict[str, pl.DataType] = {
    "source": pl.String(),  # a PromiseSource value, or "all"
    "promises": pl.Int64(),  # not cancelled, promised in the period
    "open": pl.Int64(),
    "kept": pl.Int64(),
    "partly_kept": pl.Int64(),
    "broken": pl.Int64(),
    "kept_rate": pl.Float64(),  # kept / resolved; null when none is resolved
    "amount_promised": pl.Int64(),  # of the resolved ones
    "amount_paid": pl.Int64(),  # of the resolved ones
    "amount_rate": pl.Float64(),  # amount_paid / amount_promised of the resolved ones
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# --- a new promise ------------------------------------------------------------------------


def check_terms(
    *,
    amount: int,
    promised_on: date,
    as_of: date,
    source: str,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> PromiseSource:
    """Refuse a promise whose terms cannot be right, with the reason
    (:class:`ValidationError`); returns the source."""
    kind = promise_source(source)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("amount", "an integer number of fen")
    if amount <= 0:
        raise ValidationError("amount", "must be more than zero")
    if promised_on < as_of:
        raise ValidationError(
            "promised_on",
            f"{promised_on.isoformat()} is in the past (business date {as_of.isoformat()}): "
            "a promise is for today or a later day",
        )
    latest = as_of + timedelta(days=policy.horizon_days)
    if promised_on > latest:
        raise ValidationError(
            "promised_on",
            f"more than {policy.horizon_days} days ahead (latest {latest.isoformat()}): "
            "a longer arrangement is a repayment plan",
        )
    return kind


def most_owed(state: dict[str, object]) -> int:
    """The most a loan can owe on a day, from its ledger state (``STATES`` row) on that
    day: outstanding principal, overdue interest, fees and penalty, and the next
    instalment. An upper bound (the next instalment's principal is in the outstanding
    principal too): it catches a mistyped amount (an extra digit), not a few yuan."""
    names = (
        "outstanding_principal",
        "overdue_interest",
        "overdue_fee",
        "overdue_penalty",
        "next_due_amount",
    )
    total = 0
    for name in names:
        value = state.get(name)
        total += value if isinstance(value, int) else 0
    return total


def check_amount_owed(amount: int, owed: int) -> None:
    """Refuse a promise of more than the loan can owe by its date (``most_owed``)."""
    if amount > owed:
        # No figures: a loan's balance is the borrower's financial information.
        raise ValidationError(
            "amount",
            "more than the loan can owe by the promised date "
            "(outstanding principal, arrears with penalty, and the next instalment)",
        )


def refusing_hold(
    holds: pl.DataFrame, *, loan_id: int, source: PromiseSource, at: datetime
) -> str | None:
    """The kind of the first hold (``HOLDS`` of the borrower) open at ``at`` on this loan
    (or on every loan of the borrower) that refuses a promise from ``source``
    (:data:`HOLDS_REFUSING`), else None. Holds on one contact point or one channel do not
    count: they stop a medium, not the debt."""
    refusing = [kind.value for kind, sources in HOLDS_REFUSING.items() if source in sources]
    hit = holds.filter(
        pl.col("kind").is_in(refusing)
        & (pl.col("loan_id").is_null() | (pl.col("loan_id") == loan_id))
        & pl.col("contact_point_id").is_null()
        & pl.col("channel").is_null()
        & hold_open_expr(at)
    )
    if hit.is_empty():
        return None
    order = {kind.value: i for i, kind in enumerate(HOLDS_REFUSING)}
    return min((str(kind) for kind in hit["kind"]), key=lambda kind: order[kind])


def promise_source(value: str) -> PromiseSource:
    try:
        return PromiseSource(value)
    except ValueError:
        known = ", ".join(member.value for member in PromiseSource)
        raise ValidationError("source", f"unknown value {value!r} (one of: {known})") from None


def promise_status(value: str) -> PromiseStatus:
    try:
        return PromiseStatus(value)
    except ValueError:
        known = ", ".join(member.value for member in PromiseStatus)
        raise ValidationError("status", f"unknown value {value!r} (one of: {known})") from None


# --- matching: the scalar specification ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    status: PromiseStatus
    amount_paid: int
    resolved_on: date | None
    deadline: date


def counts(
    paid_on: date, paid_at: datetime | None, taken_on: date, taken_at: datetime, deadline: date
) -> bool:
    """Does a payment count towards a promise? From the moment the promise was taken (by
    day when the payment has no time) through the deadline."""
    if paid_on > deadline or paid_on < taken_on:
        return False
    if paid_on > taken_on or paid_at is None:
        return True
    return paid_at >= taken_at


def judge(
    *,
    amount: int,
    taken_at: datetime,
    taken_on: date,
    promised_on: date,
    payments: Iterable[tuple[int, date, datetime | None, int]],
    as_of: date,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> Decision:
    """One promise's decision as of ``as_of``; ``payments`` are the loan's
    ``(payment_id, paid_on, paid_at, amount)``. The readable specification of
    :func:`match_promises`."""
    deadline = policy.deadline(promised_on)
    last_day = min(deadline, as_of)
    counted = sorted(
        (pay_day, payment_id, paid)
        for payment_id, pay_day, pay_at, paid in payments
        if pay_day <= last_day and counts(pay_day, pay_at, taken_on, taken_at, deadline)
    )
    threshold = policy.threshold(amount)
    total = 0
    kept_on: date | None = None
    for pay_day, _payment_id, paid in counted:
        total += paid
        if kept_on is None and total >= threshold:
            kept_on = pay_day
    if kept_on is not None:
        by_then = sum(paid for pay_day, _, paid in counted if pay_day <= kept_on)
        return Decision(PromiseStatus.KEPT, by_then, kept_on, deadline)
    if as_of > deadline:
        status = (
            PromiseStatus.PARTLY_KEPT if total >= policy.floor(amount) else PromiseStatus.BROKEN
        )
        return Decision(status, total, deadline + timedelta(days=1), deadline)
    return Decision(PromiseStatus.OPEN, total, None, deadline)


# --- matching: the vectorised rule --------------------------------------------------------


def _tolerance(amount: pl.Expr, policy: PromisePolicy) -> pl.Expr:
    share = amount * policy.tolerance_bp // BP_PER_UNIT
    cap = amount * policy.tolerance_cap_bp // BP_PER_UNIT
    return pl.min_horizontal(pl.max_horizontal(share, pl.lit(policy.tolerance_min)), cap)


def match_promises(
    promises: pl.LazyFrame,
    payments: pl.LazyFrame,
    as_of: date,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> pl.LazyFrame:
    """Every promise's decision as of ``as_of`` (``MATCHED``): :func:`judge` for a whole
    frame of promises at once, on the payments of their loans (``PROMISE_PAYMENTS``)."""
    amount = pl.col("amount")
    p = promises.select(list(PROMISES)).with_columns(
        deadline=pl.col("promised_on") + pl.duration(days=policy.grace_days),
        threshold=pl.max_horizontal(amount - _tolerance(amount, policy), pl.lit(1, pl.Int64)),
        floor=pl.max_horizontal(
            -((-amount * policy.partial_floor_bp) // BP_PER_UNIT), pl.lit(1, pl.Int64)
        ),
    )
    day = pl.col("paid_on")
    in_window = (
        (day <= pl.min_horizontal(pl.col("deadline"), pl.lit(as_of)))
        & (day >= pl.col("taken_on"))
        & (
            (day > pl.col("taken_on"))
            | pl.col("paid_at").is_null()
            | (pl.col("paid_at") >= pl.col("taken_at"))
        )
    )
    counted = (
        p.select("promise_id", "loan_id", "taken_at", "taken_on", "deadline", "threshold")
        .join(
            payments.select(
                "payment_id", "loan_id", "paid_on", "paid_at", pl.col("amount").alias("paid")
            ),
            on="loan_id",
            how="inner",
        )
        .filter(in_window)
        .sort("promise_id", "paid_on", "payment_id")
        .with_columns(running=pl.col("paid").cum_sum().over("promise_id"))
        .with_columns(
            kept_on=pl.when(pl.col("running") >= pl.col("threshold"))
            .then(pl.col("paid_on"))
            .min()
            .over("promise_id")
        )
        .group_by("promise_id")
        .agg(
            total=pl.col("paid").sum(),
            kept_on=pl.col("kept_on").first(),
            by_kept=pl.col("paid").filter(pl.col("paid_on") <= pl.col("kept_on")).sum(),
        )
    )
    kept = pl.col("kept_on").is_not_null()
    late = pl.lit(as_of) > pl.col("deadline")
    return (
        p.join(counted, on="promise_id", how="left")
        .with_columns(pl.col("total").fill_null(0), pl.col("by_kept").fill_null(0))
        .select(
            "promise_id",
            pl.when(kept)
            .then(pl.lit(PromiseStatus.KEPT.value))
            .when(late & (pl.col("total") >= pl.col("floor")))
            .then(pl.lit(PromiseStatus.PARTLY_KEPT.value))
            .when(late)
            .then(pl.lit(PromiseStatus.BROKEN.value))
            .otherwise(pl.lit(PromiseStatus.OPEN.value))
            .alias("status"),
            pl.when(kept).then(pl.col("by_kept")).otherwise(pl.col("total")).alias("amount_paid"),
            pl.when(kept)
            .then(pl.col("kept_on"))
            .when(late)
            .then(pl.col("deadline") + pl.duration(days=1))
            .alias("resolved_on"),
            "deadline",
        )
        .select(pl.col(name).cast(dtype) for name, dtype in MATCHED.items())
        .sort("promise_id")
    )


def changes(stored: pl.LazyFrame, matched: pl.LazyFrame) -> pl.LazyFrame:
    """The updates a fresh match asks for (``CHANGES``), given the stored ``promise_id,
    status, amount_paid``. Decisions only move forward:

    - ``resolved``: an open promise is now kept, partly kept or broken;
    - ``progressed``: an open promise has more paid towards it;
    - ``revised``: a broken or partly kept promise turns out better (a payment in its
      window was posted late), or has more paid towards it.

    A kept or cancelled promise never changes; a match that is worse than what is stored
    (a run for an earlier date) changes nothing.
    """
    rank = pl.col("status").replace_strict(RANK, default=-1)
    old_rank = pl.col("old_status").replace_strict(RANK, default=-1)
    was_open = pl.col("old_status") == PromiseStatus.OPEN.value
    was_resolved = pl.col("old_status").is_in(
        [PromiseStatus.BROKEN.value, PromiseStatus.PARTLY_KEPT.value]
    )
    more_paid = pl.col("amount_paid") > pl.col("old_paid")
    change = (
        pl.when(was_open & (pl.col("status") != PromiseStatus.OPEN.value))
        .then(pl.lit("resolved"))
        .when(was_open & more_paid)
        .then(pl.lit("progressed"))
        .when(
            was_resolved
            & ((rank > old_rank) | ((rank == old_rank) & more_paid))
            & (pl.col("status") != PromiseStatus.OPEN.value)
        )
        .then(pl.lit("revised"))
    )
    return (
        matched.join(
            stored.select(
                "promise_id",
                pl.col("status").alias("old_status"),
                pl.col("amount_paid").alias("old_paid"),
            ),
            on="promise_id",
            how="inner",
        )
        .with_columns(change=change)
        .filter(pl.col("change").is_not_null())
        .select(pl.col(name).cast(dtype) for name, dtype in CHANGES.items())
        .sort("promise_id")
    )


# --- what the strategy and the dashboard read ---------------------------------------------


def promise_flags(
    records: pl.LazyFrame, as_of: date, policy: PromisePolicy = DEFAULT_POLICY
) -> pl.LazyFrame:
    """Per loan with a promise (``FLAGS``, ordered by loan_id), as known on ``as_of``:

    - ``active_promise``: a promise taken by ``as_of``, not resolved or cancelled by then,
      whose promised date plus grace has not passed;
    - ``broken_promises_90d``: promises broken (known by ``as_of``) whose promised date is
      in the ``broken_lookback_days`` up to ``as_of``. Partly kept ones are not counted.
    """
    day = pl.lit(as_of)
    deadline = pl.col("promised_on") + pl.duration(days=policy.grace_days)
    unresolved = pl.col("resolved_on").is_null() | (pl.col("resolved_on") > day)
    since = as_of - timedelta(days=policy.broken_lookback_days)
    broken = (
        (pl.col("status") == PromiseStatus.BROKEN.value)
        & (pl.col("resolved_on") <= day)
        & (pl.col("promised_on") > pl.lit(since))
        & (pl.col("promised_on") <= day)
    )
    return (
        records.filter(pl.col("taken_on") <= day)
        .group_by("loan_id")
        .agg(
            active_promise=(unresolved & (deadline >= day)).any(),
            broken_promises_90d=broken.sum(),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in FLAGS.items())
        .sort("loan_id")
    )


def is_active_promise(
    taken_on: date, promised_on: date, resolved_on: date | None, as_of: date, policy: PromisePolicy
) -> bool:
    """The scalar form of ``active_promise`` for one promise (:func:`promise_flags`)."""
    if taken_on > as_of or (resolved_on is not None and resolved_on <= as_of):
        return False
    return promised_on + timedelta(days=policy.grace_days) >= as_of


def is_broken_recently(
    status: str,
    promised_on: date,
    resolved_on: date | None,
    as_of: date,
    policy: PromisePolicy,
) -> bool:
    """The scalar form of what ``broken_promises_90d`` counts (:func:`promise_flags`): a
    promise broken (known by ``as_of``) whose *promised date* is in the lookback window.
    The window is the promise's date, not the day it was found broken (docs/promises.md):
    a promise for a date 100 days ago found broken today is not a recent broken promise
    (the script panel used to count by resolution date; it now reads these flags)."""
    since = as_of - timedelta(days=policy.broken_lookback_days)
    return (
        status == PromiseStatus.BROKEN.value
        and resolved_on is not None
        and resolved_on <= as_of
        and since < promised_on <= as_of
    )


def kept_rates(records: pl.LazyFrame, start: date, end: date) -> pl.DataFrame:
    """Promise-kept rates for promises dated ``start``..``end`` (``KEPT_RATES``): one row
    per source (every source, zeros included) and an ``all`` row. Cancelled promises are
    left out; rates are over the resolved ones."""
    if end < start:
        raise ValidationError("end", "must not be before start")
    status = pl.col("status")
    resolved = status.is_in([s.value for s in RESOLVED])

    def tally() -> list[pl.Expr]:
        return [
            pl.len().alias("promises"),
            (status == PromiseStatus.OPEN.value).sum().alias("open"),
            (status == PromiseStatus.KEPT.value).sum().alias("kept"),
            (status == PromiseStatus.PARTLY_KEPT.value).sum().alias("partly_kept"),
            (status == PromiseStatus.BROKEN.value).sum().alias("broken"),
            resolved.sum().alias("resolved"),
            pl.col("amount").filter(resolved).sum().alias("amount_promised"),
            pl.col("amount_paid").filter(resolved).sum().alias("amount_paid"),
        ]

    chosen = records.filter(
        (pl.col("promised_on") >= pl.lit(start))
        & (pl.col("promised_on") <= pl.lit(end))
        & (status != PromiseStatus.CANCELLED.value)
    )
    by_source = chosen.group_by("source").agg(tally())
    overall = chosen.select(tally()).with_columns(source=pl.lit("all"))
    sources = pl.LazyFrame({"source": [s.value for s in PromiseSource]}).with_row_index("_order")
    table = pl.concat(
        [sources.join(by_source, on="source", how="left").sort("_order"), overall],
        how="diagonal_relaxed",
    )
    counts_ = ["promises", "open", "kept", "partly_kept", "broken", "resolved"]
    money = ["amount_promised", "amount_paid"]
    return (
        table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts_ + money)
        .with_columns(
            kept_rate=pl.when(pl.col("resolved") > 0).then(pl.col("kept") / pl.col("resolved")),
            amount_rate=pl.when(pl.col("amount_promised") > 0).then(
                pl.col("amount_paid") / pl.col("amount_promised")
            ),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in KEPT_RATES.items())
        .collect()
    )


__all__ = [
    "CHANGES",
    "DEFAULT_POLICY",
    "FLAGS",
    "HOLDS_REFUSING",
    "KEPT_RATES",
    "MATCHED",
    "PROMISES",
    "PROMISE_PAYMENTS",
    "RANK",
    "RECORDS",
    "RESOLVED",
    "Decision",
    "PromisePolicy",
    "PromiseSource",
    "PromiseStatus",
    "changes",
    "check_amount_owed",
    "check_terms",
    "counts",
    "empty",
    "judge",
    "kept_rates",
    "match_promises",
    "most_owed",
    "promise_flags",
    "promise_source",
    "promise_status",
    "refusing_hold",
]
