"""The compliance console's figures: complaints per 10,000 contacts (overall, by strategy
arm, by team) and the contacts the gate blocked, by rule."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from sqlalchemy import Connection, select

from forbear.services.complaints.common import (
    _check_window,
    lender_zone,
)
from forbear.store.complaints import Complaint
from forbear.store.contacts import ContactAttempt
from forbear.store.runs import Decision

# --- complaint rates ----------------------------------------------------------------------

RATES: dict[str, pl.DataType] = {
    "level": pl.String(),  # overall, arm, team
    "key": pl.String(),  # "all", the arm's or the team's name ("(none)" when unassigned)
    "contacts": pl.Int64(),  # allowed contact attempts made in the window
    "complaints": pl.Int64(),  # complaints received in the window
    "per_10k": pl.Float64(),  # complaints per 10,000 contacts (null without contacts)
}
NONE_KEY = "(none)"


def complaint_rates(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Complaints received on business days ``start``..``end`` per 10,000 allowed contact
    attempts made then, overall, by strategy arm and by team, as ``RATES``. A contact or
    a complaint takes the arm and team of the loan's latest decision on or before its day
    (``(none)`` without one; a complaint without a loan counts only overall)."""
    _check_window(start, end)
    zone = lender_zone(conn)
    lo = datetime.combine(start, time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    attempts = pl.DataFrame(
        [
            {"loan_id": r[0], "day": r[1].astimezone(zone).date()}
            for r in conn.execute(
                select(ContactAttempt.loan_id, ContactAttempt.at).where(
                    ContactAttempt.allowed.is_(True),
                    ContactAttempt.at >= lo,
                    ContactAttempt.at < hi,
                )
            )
        ],
        schema={"loan_id": pl.Int64(), "day": pl.Date()},
    )
    complaints = pl.DataFrame(
        [
            {"loan_id": r[0], "day": r[1]}
            for r in conn.execute(
                select(Complaint.loan_id, Complaint.received_on).where(
                    Complaint.received_on.between(start, end)
                )
            )
        ],
        schema={"loan_id": pl.Int64(), "day": pl.Date()},
    )
    loans = pl.concat([attempts["loan_id"], complaints["loan_id"]]).drop_nulls().unique()
    decisions = pl.DataFrame(
        [
            {"loan_id": r[0], "as_of": r[1], "arm": r[2], "team": r[3]}
            for r in conn.execute(
                select(Decision.loan_id, Decision.as_of, Decision.arm, Decision.team_id)
                .where(Decision.as_of <= end, Decision.loan_id.in_(loans.to_list()))
                .order_by(Decision.loan_id, Decision.as_of, Decision.action_index)
            )
        ]
        if len(loans)
        else [],
        schema={"loan_id": pl.Int64(), "as_of": pl.Date(), "arm": pl.String(), "team": pl.String()},
    ).unique(subset=["loan_id", "as_of"], keep="first", maintain_order=True)

    def tagged(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.with_row_index("row")
            .sort("day")
            .join_asof(
                decisions.sort("as_of"),
                left_on="day",
                right_on="as_of",
                by="loan_id",
                check_sortedness=False,  # sorted by day above; groups are not checked
            )
            .with_columns(pl.col("arm").fill_null(NONE_KEY), pl.col("team").fill_null(NONE_KEY))
        )

    a, c = tagged(attempts), tagged(complaints.filter(pl.col("loan_id").is_not_null()))
    rows = [
        {
            "level": "overall",
            "key": "all",
            "contacts": attempts.height,
            "complaints": complaints.height,
        }
    ]
    for level, column in (("arm", "arm"), ("team", "team")):
        counts_a = dict(a.group_by(column).len().iter_rows())
        counts_c = dict(c.group_by(column).len().iter_rows())
        for key in sorted(set(counts_a) | set(counts_c)):
            rows.append(
                {
                    "level": level,
                    "key": key,
                    "contacts": counts_a.get(key, 0),
                    "complaints": counts_c.get(key, 0),
                }
            )
    return pl.DataFrame(rows, schema={k: RATES[k] for k in RATES if k != "per_10k"}).with_columns(
        per_10k=pl.when(pl.col("contacts") > 0)
        .then(pl.col("complaints") * 10_000 / pl.col("contacts"))
        .otherwise(None)
        .cast(pl.Float64)
    )


# --- blocked contacts (the compliance console) ---------------------------------------------

BLOCKED_RULES: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "online": pl.Int64(),  # contact attempts the gate blocked at the moment of contact
    "daily": pl.Int64(),  # planned contacts the daily run's gate blocked
    "total": pl.Int64(),
}
BLOCKED: dict[str, pl.DataType] = {
    "source": pl.String(),  # online or daily
    "ref": pl.Int64(),  # the attempt id (online) or the decision's action index (daily)
    "loan_id": pl.Int64(),
    "channel": pl.String(),
    "day": pl.Date(),
    "at": pl.Datetime("us", "UTC"),  # online only
    "actor": pl.String(),  # online only
    "blocked_by": pl.List(pl.String()),
}


def _blocked(conn: Connection, start: date, end: date) -> pl.DataFrame:
    _check_window(start, end)
    zone = lender_zone(conn)
    lo = datetime.combine(start, time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    rows: list[dict[str, object]] = []
    a = ContactAttempt
    for r in conn.execute(
        select(a.id, a.loan_id, a.channel, a.at, a.actor, a.blocked_by).where(
            a.allowed.is_(False), a.at >= lo, a.at < hi
        )
    ):
        rows.append(
            {
                "source": "online",
                "ref": r[0],
                "loan_id": r[1],
                "channel": r[2],
                "day": r[3].astimezone(zone).date(),
                "at": r[3],
                "actor": r[4],
                "blocked_by": [str(x) for x in json.loads(r[5] or "[]")],
            }
        )
    d = Decision
    for q in conn.execute(
        select(d.action_index, d.loan_id, d.channel, d.as_of, d.blocked_by).where(
            d.allowed.is_(False), d.as_of.between(start, end)
        )
    ):
        rows.append(
            {
                "source": "daily",
                "ref": q[0],
                "loan_id": q[1],
                "channel": q[2],
                "day": q[3],
                "at": None,
                "actor": None,
                "blocked_by": [str(x) for x in json.loads(q[4] or "[]")],
            }
        )
    return pl.DataFrame(rows, schema=BLOCKED)


def blocked_by_rule(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Blocked contacts on business days ``start``..``end`` per rule id, online and in the
    daily run, as ``BLOCKED_RULES``, most frequent first (a contact blocked by two rules
    counts under each)."""
    exploded = _blocked(conn, start, end).explode("blocked_by").drop_nulls("blocked_by")
    if exploded.is_empty():
        return pl.DataFrame(schema=BLOCKED_RULES)
    return (
        exploded.group_by("blocked_by")
        .agg(
            online=(pl.col("source") == "online").sum().cast(pl.Int64),
            daily=(pl.col("source") == "daily").sum().cast(pl.Int64),
        )
        .rename({"blocked_by": "rule_id"})
        .with_columns(total=pl.col("online") + pl.col("daily"))
        .sort(["total", "rule_id"], descending=[True, False])
        .select(list(BLOCKED_RULES))
    )


def blocked_contacts(
    conn: Connection, *, rule_id: str, start: date, end: date, limit: int = 200
) -> pl.DataFrame:
    """The blocked contacts of one rule (drill-down), newest first, as ``BLOCKED``."""
    frame = _blocked(conn, start, end)
    return (
        frame.filter(pl.col("blocked_by").list.contains(rule_id))
        .sort(["day", "source", "ref"], descending=[True, True, True])
        .head(limit)
    )
