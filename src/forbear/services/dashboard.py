"""The supervisor dashboard's figures, computed from stored data over a date range.

Every figure is defined in ``docs/dashboard.md``; in short, for ``start < end`` (business
dates in the lender's zone):

- the *book at start* and *at end* are the account states of those dates: the stored
  snapshots (the daily run stores every day's; ``forbear demo`` also stores the one
  :data:`DEFAULT_RANGE_DAYS` before its date, where the page's default range starts), so
  a request reads figures and runs no ledger. Only for a date without a snapshot is the
  ledger run in memory (seconds on a big book; a read never writes);
- **recovery rate** = what accounts overdue at start paid towards that overdue amount
  (each account's payments on ``start < paid_on <= end``, counted up to its overdue
  amount at start) ÷ their overdue amount at start: at most 100%. **Collected** is all
  those accounts paid in the range, which also pays instalments falling due in the range
  and early repayments: it can exceed the overdue amount (the dashboard once showed
  "recovery 106.8%" on 27 accounts by dividing it by the overdue amount);
- **cure rate** = accounts overdue at start that are current (0 days past due) or paid
  off at end ÷ accounts overdue at start;
- **roll-forward rate** = accounts overdue at start in a worse bucket (or written off) at
  end ÷ accounts overdue at start; the whole book's roll-rate matrix is
  :func:`forbear.domain.portfolio.roll_rates`;
- **collected by day**: those payments per day (they add up to the collected amount);
- **promise-kept rate** = kept ÷ resolved promises dated in the range
  (:func:`forbear.domain.promises.kept_rates`);
- **contact rate** = attempts with a conversation (``connected``) ÷ attempts the gate
  allowed; **right-party-contact rate** = conversations with the debtor ÷ allowed
  attempts (blocked attempts were never made and count in neither);
- **complaints per 10,000 contacts** and **satisfaction**: the complaints area's
  :func:`forbear.services.complaints.complaint_rates` (its own arm and team: the loan's
  latest decision on or before the day) and
  :func:`~forbear.services.complaints.satisfaction_summary` (by subject, not by group);
- each figure by strategy **arm** and by **team**: an account's arm and team are those of
  its latest decision of the range (``decisions``; team: the latest one with a team).

A rate whose denominator is zero is null (no data), never 0. Every rate comes with its
``n`` (the denominator: accounts, attempts or promises) and a 95% confidence interval:
Wilson's score interval for the proportions (cure, roll-forward, contact, right-party
contact, promise kept; :func:`wilson`), and for the recovery rate, a ratio of amounts,
the ratio estimator's normal interval with its linearised (delta-method) variance over
accounts (:func:`ratio_interval`). A rate on fewer than :data:`SMALL_N` is flagged as a
small sample: it is shown, but with its interval and a warning, never alone.

The **per-agent view** (:func:`agents`) counts, for each staff member who made contact
attempts in the range: attempts (allowed, made), active hours (clock hours of the
lender's zone in which they made at least one attempt), attempts per active hour,
conversations, right-party contacts (with the RPC rate and its interval), promises taken
in the range, and the amount collected on those promises so far (``amount_paid``: the
payments the promise-keeping rule credited to them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, and_, select

from forbear.domain import portfolio
from forbear.domain import promises as promise_rules
from forbear.domain.access import Actor
from forbear.domain.compliance.schema import Outcome, Party
from forbear.domain.errors import PermissionDenied, ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS, BucketScheme
from forbear.services import complaints as complaint_service
from forbear.services.book import ledger_inputs, run_ledger_on
from forbear.services.outreach.counts import by_channel_per_day
from forbear.services.runs import RunDay, RunSummary, capacity_use, latest_run, run_summary
from forbear.store import bulk
from forbear.store import promises as promise_store
from forbear.store.contacts import ContactAttempt
from forbear.store.promises import Promise
from forbear.store.runs import Decision

GroupBy = Literal["arm", "team"]
GROUP_BYS: tuple[GroupBy, ...] = ("arm", "team")
MAX_DAYS = 366  # one year and a day: the longest range a request may ask for
DEFAULT_RANGE_DAYS = 30  # the page's default range: the 30 days up to today
ALL = "all"  # the group row of the whole book
NONE = "none"  # accounts without a decision (or without a team) in the range

METRICS: dict[str, pl.DataType] = {
    "group": pl.String(),
    "accounts": pl.Int64(),
    "overdue_accounts": pl.Int64(),
    "overdue_start": pl.Int64(),
    "collected": pl.Int64(),
    "recovered": pl.Int64(),
    "recovery_rate": pl.Float64(),
    "cured": pl.Int64(),
    "cure_rate": pl.Float64(),
    "rolled_forward": pl.Int64(),
    "roll_forward_rate": pl.Float64(),
    "attempts": pl.Int64(),
    "connected": pl.Int64(),
    "right_party": pl.Int64(),
    "contact_rate": pl.Float64(),
    "rpc_rate": pl.Float64(),
    "promises_resolved": pl.Int64(),
    "promises_kept": pl.Int64(),
    "kept_rate": pl.Float64(),
    "complaints": pl.Int64(),
    "complaint_contacts": pl.Int64(),
    "complaints_per_10k": pl.Float64(),
}


VIEWERS = ("plan.approve", "compliance.view", "model.manage", "config.change")
"""The permissions any one of which lets a staff member read the dashboard (management)."""
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


class RangeRefused(ValidationError):
    """A date range the dashboard refuses; ``key`` and ``values`` let a front end say why in
    its reader's language (``dashboard.error.*``), the message says it in English."""

    def __init__(self, field: str, reason: str, key: str, **values: Any) -> None:
        super().__init__(field, reason)
        self.key = key
        self.values = values


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The range asked for: by default the :data:`DEFAULT_RANGE_DAYS` days up to ``today``
    (the lender's business day, from the caller); :class:`RangeRefused` when a day is out
    of bounds, ``from`` is not before ``to``, or the range spans more than :data:`MAX_DAYS`."""
    for field, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise RangeRefused(
                field,
                f"must be between {EARLIEST} and {LATEST}",
                "dashboard.error.bounds",
                low=EARLIEST,
                high=LATEST,
            )
    end = end or today
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS)
    if end <= start:
        raise RangeRefused("to", "must be after from", "dashboard.error.order")
    if (end - start).days > MAX_DAYS:
        raise RangeRefused(
            "to",
            f"the range may span at most {MAX_DAYS} days",
            "dashboard.error.span",
            days=MAX_DAYS,
        )
    return start, end


def check_range(start: date, end: date) -> None:
    """``start < end``, at most :data:`MAX_DAYS` apart."""
    if end <= start:
        raise ValidationError("to", "must be after from")
    if (end - start).days > MAX_DAYS:
        raise ValidationError("to", f"the range may span at most {MAX_DAYS} days")


# what the figures and the roll-rate matrix read of a day's states
STATE_COLUMNS = ("loan_id", "status", "dpd", "bucket", "overdue_total", "outstanding_principal")


def _states(conn: Connection, as_of: date, buckets: BucketScheme) -> pl.DataFrame:
    stored = bulk.read_states(conn, as_of, STATE_COLUMNS)
    if stored.height:
        return stored
    return run_ledger_on(ledger_inputs(conn, as_of), as_of, buckets).select(STATE_COLUMNS)


def _utc_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of ``start`` 00:00 and the day after ``end`` 00:00 in ``zone``."""
    low = datetime.combine(start, time(0), zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    return low, high


def account_groups(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """``loan_id, arm, team`` of the accounts decided in ``start..end``: the arm of the
    latest decision, the team of the latest decision that has one."""
    rows = conn.execute(
        select(Decision.loan_id, Decision.as_of, Decision.action_index, Decision.arm)
        .add_columns(Decision.team_id)
        .where(and_(Decision.as_of >= start, Decision.as_of <= end))
    ).all()
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "loan_id": pl.Int64,
            "as_of": pl.Date,
            "action_index": pl.Int64,
            "arm": pl.String,
            "team": pl.String,
        },
        orient="row",
    ).sort("loan_id", "as_of", "action_index")
    return frame.group_by("loan_id").agg(
        pl.col("arm").drop_nulls().last(),
        pl.col("team").drop_nulls().last(),
    )


ATTEMPTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "allowed": pl.Boolean(),
    "outcome": pl.String(),
    "party": pl.String(),
    "blocked_by": pl.String(),
}


def _attempts(
    conn: Connection, start: date, end: date, zone: ZoneInfo, *, blocked_only: bool = False
) -> pl.DataFrame:
    """The contact attempts of ``start..end`` as :data:`ATTEMPTS` (only those the gate
    blocked, when ``blocked_only``), read straight into a frame (tens of thousands of rows
    on the demo book: no SQLAlchemy row objects)."""
    low, high = _utc_bounds(start, end, zone)
    query = select(
        ContactAttempt.loan_id,
        ContactAttempt.allowed,
        ContactAttempt.outcome,
        ContactAttempt.party,
        ContactAttempt.blocked_by,
    ).where(and_(ContactAttempt.at >= low, ContactAttempt.at < high))
    if blocked_only:
        query = query.where(ContactAttempt.allowed.is_(False))
    return bulk.read_frame(conn, query, ATTEMPTS)


def _rate(numerator: str, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


@dataclass(frozen=True)
class Figures:
    """One account per row, with what each metric needs (see the module docstring)."""

    accounts: pl.DataFrame  # loan_id, arm, team, overdue, overdue_start, collected, cured, ...
    attempts: pl.DataFrame  # loan_id, arm, team, allowed, connected, right_party
    promises: pl.DataFrame  # promise records with arm, team
    roll_matrix: pl.DataFrame
    complaints: pl.DataFrame  # complaint_service.RATES: level, key, contacts, complaints
    satisfaction: pl.DataFrame  # complaint_service.SATISFACTION
    collected_by_day: pl.DataFrame  # day, payments, amount: what "collected" adds up


def figures(
    conn: Connection,
    start: date,
    end: date,
    *,
    zone: ZoneInfo,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> Figures:
    """The per-account inputs of every metric of ``start..end``."""
    check_range(start, end)
    labels = list(buckets.labels)
    rank = {label: i for i, label in enumerate(labels)}
    first = _states(conn, start, buckets)
    last = _states(conn, end, buckets)
    groups = account_groups(conn, start, end)
    payments = bulk.read_payments(conn, up_to=end, after=start)
    paid = payments.group_by("loan_id").agg(pl.col("amount").sum().alias("collected"))
    at_end = last.select(
        "loan_id",
        pl.col("status").alias("status_end"),
        pl.col("dpd").alias("dpd_end"),
        pl.col("bucket").alias("bucket_end"),
    )
    accounts = (
        first.filter(pl.col("status") == "active")
        .select("loan_id", "dpd", "bucket", "overdue_total")
        .join(at_end, on="loan_id", how="left")
        .join(paid, on="loan_id", how="left")
        .join(groups, on="loan_id", how="left")
        .with_columns(
            overdue=pl.col("dpd") > 0,
            collected=pl.col("collected").fill_null(0),
            _from=pl.col("bucket").replace_strict(rank, default=None, return_dtype=pl.Int64),
            _to=pl.col("bucket_end").replace_strict(rank, default=None, return_dtype=pl.Int64),
        )
        .with_columns(
            overdue_start=pl.when("overdue").then(pl.col("overdue_total")).otherwise(0),
            collected=pl.when("overdue").then(pl.col("collected")).otherwise(0),
        )
        .with_columns(
            recovered=pl.min_horizontal("collected", "overdue_start"),
            cured=pl.col("overdue")
            & (
                (pl.col("status_end") == "paid_off")
                | ((pl.col("status_end") == "active") & (pl.col("dpd_end") == 0))
            ).fill_null(False),
            rolled_forward=pl.col("overdue")
            & (
                (pl.col("status_end") == "written_off")
                | ((pl.col("status_end") == "active") & (pl.col("_to") > pl.col("_from")))
            ).fill_null(False),
        )
        .drop("_from", "_to")
    )
    attempts = (
        _attempts(conn, start, end, zone)
        .join(groups, on="loan_id", how="left")
        .with_columns(
            connected=pl.col("allowed") & (pl.col("outcome") == Outcome.CONNECTED.value),
            right_party=pl.col("allowed")
            & (pl.col("outcome") == Outcome.CONNECTED.value)
            & (pl.col("party") == Party.DEBTOR.value),
        )
    )
    promises = promise_store.read_records(conn, promised_from=start, promised_to=end).join(
        groups, on="loan_id", how="left"
    )
    matrix = portfolio.roll_rates(first.lazy(), last.lazy(), labels)
    complaints = complaint_service.complaint_rates(conn, start, end).with_columns(
        pl.col("key").replace(complaint_service.NONE_KEY, NONE)
    )
    satisfaction = complaint_service.satisfaction_summary(conn, start, end)
    overdue_ids = accounts.filter(pl.col("overdue")).select("loan_id")
    by_day = (
        payments.join(overdue_ids, on="loan_id", how="semi")
        .group_by("paid_on")
        .agg(pl.len().cast(pl.Int64).alias("payments"), pl.col("amount").sum().alias("amount"))
        .rename({"paid_on": "day"})
        .sort("day")
    )
    return Figures(accounts, attempts, promises, matrix, complaints, satisfaction, by_day)


def _kept(promises: pl.DataFrame, start: date, end: date) -> tuple[int, int]:
    row = promise_rules.kept_rates(promises.lazy(), start, end).filter(pl.col("source") == ALL)
    resolved = row["kept"][0] + row["partly_kept"][0] + row["broken"][0]
    return int(resolved), int(row["kept"][0])


def metrics(
    conn: Connection,
    start: date,
    end: date,
    group_by: GroupBy,
    *,
    zone: ZoneInfo,
    buckets: BucketScheme = DEFAULT_BUCKETS,
) -> pl.DataFrame:
    """The dashboard's figures of ``start..end`` by ``group_by`` (``arm`` or ``team``):
    one row per group (``none`` for accounts without one) and a first row ``all``
    (:data:`METRICS`)."""
    if group_by not in GROUP_BYS:
        raise ValidationError("group_by", "must be arm or team")
    return metrics_of(figures(conn, start, end, zone=zone, buckets=buckets), start, end, group_by)


def metrics_of(found: Figures, start: date, end: date, group_by: GroupBy) -> pl.DataFrame:
    """:func:`metrics` from :func:`figures` already read (both groupings from one read)."""
    key = pl.col(group_by).fill_null(NONE).alias("group")
    names = set(found.accounts.select(key)["group"]) | set(found.attempts.select(key)["group"])
    names |= set(found.promises.select(key)["group"])
    complaints = {
        ("all" if level == "overall" else key_): (contacts, count)
        for level, key_, contacts, count in found.complaints.select(
            "level", "key", "contacts", "complaints"
        ).iter_rows()
        if level in ("overall", group_by)
    }
    names |= set(complaints) - {ALL}
    rows: list[dict[str, Any]] = []
    for name in [ALL, *sorted(names)]:
        pick = pl.lit(True) if name == ALL else key == name
        acc = found.accounts.filter(pick)
        att = found.attempts.filter(pick)
        resolved, kept = _kept(found.promises.filter(pick), start, end)
        complaint_contacts, complaint_count = complaints.get(name, (0, 0))
        overdue = acc.filter(pl.col("overdue"))
        allowed = att.filter(pl.col("allowed"))
        rows.append(
            {
                "group": name,
                "accounts": acc.height,
                "overdue_accounts": overdue.height,
                "overdue_start": int(overdue["overdue_start"].sum()),
                "collected": int(overdue["collected"].sum()),
                "recovered": int(overdue["recovered"].sum()),
                **_recovery_interval(overdue),
                "cured": int(overdue["cured"].sum()),
                "rolled_forward": int(overdue["rolled_forward"].sum()),
                "attempts": allowed.height,
                "connected": int(allowed["connected"].sum()),
                "right_party": int(allowed["right_party"].sum()),
                "promises_resolved": resolved,
                "promises_kept": kept,
                "complaints": complaint_count,
                "complaint_contacts": complaint_contacts,
            }
        )
    counts = {k: v for k, v in METRICS.items() if v != pl.Float64()}
    counts |= {"recovery_low": pl.Float64(), "recovery_high": pl.Float64()}
    return (
        pl.DataFrame(rows, schema=counts)
        .with_columns(
            recovery_rate=_rate("recovered", "overdue_start"),
            cure_rate=_rate("cured", "overdue_accounts"),
            roll_forward_rate=_rate("rolled_forward", "overdue_accounts"),
            contact_rate=_rate("connected", "attempts"),
            rpc_rate=_rate("right_party", "attempts"),
            kept_rate=_rate("promises_kept", "promises_resolved"),
            complaints_per_10k=_rate("complaints", "complaint_contacts") * 10_000,
        )
        .pipe(with_intervals)
        .select(*METRICS, *INTERVAL_COLUMNS)
    )


# ----------------------------------------------------------------------- statistics

Z95 = 1.959963984540054  # the 97.5th percentile of the normal distribution
SMALL_N = 30  # a rate on fewer cases than this is flagged as a small sample
# rate -> (its numerator, its n); recovery is a ratio of amounts (see ratio_interval)
PROPORTIONS: dict[str, tuple[str, str]] = {
    "cure_rate": ("cured", "overdue_accounts"),
    "roll_forward_rate": ("rolled_forward", "overdue_accounts"),
    "contact_rate": ("connected", "attempts"),
    "rpc_rate": ("right_party", "attempts"),
    "kept_rate": ("promises_kept", "promises_resolved"),
}
RATE_N = {"recovery_rate": "overdue_accounts"} | {r: n for r, (_, n) in PROPORTIONS.items()}
INTERVAL_COLUMNS = tuple(
    f"{rate}_{part}" for rate in RATE_N for part in ("n", "low", "high", "small")
)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion ``successes / n`` (None when ``n`` is 0).
    Unlike the normal ("Wald") interval it stays inside [0, 1] and is sound for small
    ``n`` and for proportions near 0 or 1 (Wilson 1927; Brown, Cai and DasGupta 2001)."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    # the one formula, the experiment readout's (imported here: it brings SciPy)
    from forbear.domain.experiments.stats import wilson as wilson_arrays

    lows, highs = wilson_arrays([successes], [n], z)
    # exactly 0 (or 1) at the ends, as the formula gives without rounding
    low = 0.0 if successes == 0 else float(lows[0])
    high = 1.0 if successes == n else float(highs[0])
    return low, high


def ratio_interval(paid: list[int], owed: list[int], z: float = Z95) -> tuple[float, float] | None:
    """A 95% interval for ``sum(paid) / sum(owed)`` over accounts (the ratio estimator,
    with the linearised variance ``sum((paid_i - R owed_i)^2) / (n (n - 1) mean(owed)^2)``),
    clipped to [0, 1]; None for fewer than 2 accounts or nothing owed."""
    n = len(owed)
    total = sum(owed)
    if n < 2 or total <= 0:
        return None
    ratio = sum(paid) / total
    mean = total / n
    spread = sum((y - ratio * x) ** 2 for y, x in zip(paid, owed, strict=True)) / (n - 1)
    half = z * math.sqrt(spread / n) / mean
    return max(0.0, ratio - half), min(1.0, ratio + half)


def _recovery_interval(overdue: pl.DataFrame) -> dict[str, float | None]:
    found = ratio_interval(overdue["recovered"].to_list(), overdue["overdue_start"].to_list())
    return {
        "recovery_low": None if found is None else found[0],
        "recovery_high": None if found is None else found[1],
    }


def with_intervals(frame: pl.DataFrame) -> pl.DataFrame:
    """Each rate's ``_n``, ``_low``, ``_high`` (95%) and ``_small`` (n < :data:`SMALL_N`)."""
    columns: dict[str, list[object]] = {}
    rows = frame.to_dicts()
    for rate, n_column in RATE_N.items():
        ns = [int(r[n_column]) for r in rows]
        if rate == "recovery_rate":
            bounds = [
                None if r["recovery_low"] is None else (r["recovery_low"], r["recovery_high"])
                for r in rows
            ]
        else:
            hits = PROPORTIONS[rate][0]
            bounds = [wilson(int(r[hits]), n) for r, n in zip(rows, ns, strict=True)]
        columns[f"{rate}_n"] = ns  # type: ignore[assignment]
        columns[f"{rate}_low"] = [None if b is None else b[0] for b in bounds]
        columns[f"{rate}_high"] = [None if b is None else b[1] for b in bounds]
        columns[f"{rate}_small"] = [0 < n < SMALL_N for n in ns]
    added = pl.DataFrame(
        columns,
        schema={
            name: pl.Int64
            if name.endswith("_n")
            else pl.Boolean
            if name.endswith("_small")
            else pl.Float64
            for name in columns
        },
    )
    return pl.concat([frame, added], how="horizontal")


# ----------------------------------------------------------------------- agents

AGENTS: dict[str, pl.DataType] = {
    "agent": pl.String(),
    "attempts": pl.Int64(),
    "active_hours": pl.Int64(),
    "attempts_per_hour": pl.Float64(),
    "connected": pl.Int64(),
    "right_party": pl.Int64(),
    "rpc_rate": pl.Float64(),
    "rpc_low": pl.Float64(),
    "rpc_high": pl.Float64(),
    "rpc_small": pl.Boolean(),
    "promises": pl.Int64(),
    "promises_kept": pl.Int64(),
    "collected": pl.Int64(),
}


def agents(conn: Connection, start: date, end: date, *, zone: ZoneInfo) -> pl.DataFrame:
    """The per-agent view of ``start..end`` (the module docstring), busiest first."""
    check_range(start, end)
    low, high = _utc_bounds(start, end, zone)
    made = bulk.read_frame(
        conn,
        select(
            ContactAttempt.actor.label("agent"),
            ContactAttempt.at,
            ContactAttempt.outcome,
            ContactAttempt.party,
        ).where(
            ContactAttempt.at >= low,
            ContactAttempt.at < high,
            ContactAttempt.allowed.is_(True),
            ContactAttempt.actor.not_like("system:%"),
        ),
        {
            "agent": pl.String(),
            "at": pl.Datetime("us", "UTC"),
            "outcome": pl.String(),
            "party": pl.String(),
        },
    )
    work = made.group_by("agent").agg(
        pl.len().cast(pl.Int64).alias("attempts"),
        pl.col("at")
        .dt.convert_time_zone(str(zone))
        .dt.truncate("1h")
        .n_unique()
        .cast(pl.Int64)
        .alias("active_hours"),
        (pl.col("outcome") == Outcome.CONNECTED.value).sum().cast(pl.Int64).alias("connected"),
        ((pl.col("outcome") == Outcome.CONNECTED.value) & (pl.col("party") == Party.DEBTOR.value))
        .sum()
        .cast(pl.Int64)
        .alias("right_party"),
    )
    taken = conn.execute(
        select(Promise.taken_by, Promise.status, Promise.amount_paid).where(
            Promise.taken_on > start, Promise.taken_on <= end
        )
    ).all()
    promised = (
        pl.DataFrame(
            [tuple(r) for r in taken],
            schema={"agent": pl.String, "status": pl.String, "amount_paid": pl.Int64},
            orient="row",
        )
        .group_by("agent")
        .agg(
            pl.len().cast(pl.Int64).alias("promises"),
            (pl.col("status") == "kept").sum().cast(pl.Int64).alias("promises_kept"),
            pl.col("amount_paid").sum().cast(pl.Int64).alias("collected"),
        )
    )
    joined = (
        work.join(promised, on="agent", how="left")
        .with_columns(
            pl.col("promises", "promises_kept", "collected").fill_null(0),
            attempts_per_hour=pl.col("attempts") / pl.col("active_hours"),
            rpc_rate=_rate("right_party", "attempts"),
        )
        .sort(["attempts", "agent"], descending=[True, False])
    )
    bounds = [
        wilson(int(r), int(n))
        for r, n in zip(joined["right_party"], joined["attempts"], strict=True)
    ]
    return joined.with_columns(
        rpc_low=pl.Series([None if b is None else b[0] for b in bounds], dtype=pl.Float64),
        rpc_high=pl.Series([None if b is None else b[1] for b in bounds], dtype=pl.Float64),
        rpc_small=pl.col("attempts") < SMALL_N,
    ).select(list(AGENTS))


def blocked_by_rule(conn: Connection, start: date, end: date, *, zone: ZoneInfo) -> pl.DataFrame:
    """``rule, planned, online``: contacts the compliance gate blocked in ``start..end`` per
    rule id, planned by the daily runs (``decisions``) and asked for online
    (``contact_attempts``). A contact blocked by two rules counts under each."""
    check_range(start, end)
    planned = conn.execute(
        select(Decision.blocked_by).where(
            and_(Decision.as_of >= start, Decision.as_of <= end, Decision.allowed.is_(False))
        )
    ).scalars()
    online = _attempts(conn, start, end, zone, blocked_only=True)["blocked_by"]

    def count(values: Any, name: str) -> pl.DataFrame:
        series = pl.Series("rule", list(values), dtype=pl.String)
        return (
            series.str.json_decode(pl.List(pl.String))
            .explode()
            .drop_nulls()
            .to_frame("rule")
            .group_by("rule")
            .agg(pl.len().cast(pl.Int64).alias(name))
        )

    table = count(planned, "planned").join(count(online, "online"), on="rule", how="full")
    return table.select(
        pl.coalesce("rule", "rule_right").alias("rule"),
        pl.col("planned").fill_null(0),
        pl.col("online").fill_null(0),
    ).sort(pl.col("planned") + pl.col("online"), "rule", descending=[True, False])


@dataclass(frozen=True)
class View:
    """Everything the dashboard shows for one range (the API and the page)."""

    start: date
    end: date
    by_arm: pl.DataFrame
    by_team: pl.DataFrame
    roll: pl.DataFrame
    blocked: pl.DataFrame
    run: RunSummary | None
    satisfaction: pl.DataFrame
    collected_by_day: pl.DataFrame
    outreach: pl.DataFrame  # the outbox by day and channel (services.outreach.counts)
    agents: pl.DataFrame  # the per-agent view (AGENTS)

    @property
    def satisfaction_all(self) -> dict[str, Any]:
        rows = self.satisfaction.filter(pl.col("subject_type") == ALL).to_dicts()
        return rows[0] if rows else {"responses": 0, "mean_score": None, "share_4_5": None}

    @property
    def has_data(self) -> bool:
        everyone = self.by_arm.row(0, named=True)
        return bool(
            everyone["accounts"]
            or everyone["attempts"]
            or everyone["promises_resolved"]
            or everyone["complaints"]
            or self.satisfaction_all["responses"]
            or self.blocked.height
            or self.run is not None
            or self.outreach.height
        )


def require_viewer(actor: Actor) -> None:
    """:class:`PermissionDenied` unless ``actor`` holds one of :data:`VIEWERS`."""
    if not any(actor.may(p) for p in VIEWERS):
        raise PermissionDenied(str(actor.role), VIEWERS[0])


def view(conn: Connection, actor: Actor, start: date, end: date, *, zone: ZoneInfo) -> View:
    """The dashboard of ``start..end`` (a range from :func:`date_range`), read on ``conn``
    (a read-only unit of work) for a management ``actor``."""
    require_viewer(actor)
    check_range(start, end)
    found = figures(conn, start, end, zone=zone)
    return View(
        start,
        end,
        metrics_of(found, start, end, "arm"),
        metrics_of(found, start, end, "team"),
        found.roll_matrix,
        blocked_by_rule(conn, start, end, zone=zone),
        run_summary(latest_run(conn, start, end)),
        found.satisfaction,
        found.collected_by_day,
        by_channel_per_day(conn, start + timedelta(days=1), end),  # the range's days
        agents(conn, start, end, zone=zone),
    )


__all__ = [
    "AGENTS",
    "ALL",
    "DEFAULT_RANGE_DAYS",
    "INTERVAL_COLUMNS",
    "MAX_DAYS",
    "NONE",
    "RATE_N",
    "SMALL_N",
    "VIEWERS",
    "Figures",
    "RangeRefused",
    "RunDay",
    "RunSummary",
    "View",
    "account_groups",
    "agents",
    "blocked_by_rule",
    "capacity_use",
    "check_range",
    "date_range",
    "figures",
    "latest_run",
    "metrics",
    "metrics_of",
    "ratio_interval",
    "require_viewer",
    "run_summary",
    "view",
    "wilson",
    "with_intervals",
]
