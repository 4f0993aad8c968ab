"""The day's decisions as the run stores them: the allowed work as capacity reads it, the
decisions frame, the outbox's dedupe key and the run's summary (counts only)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl

from forbear.domain.compliance.schema import Channel

_UTC = pl.Datetime("us", "UTC")

# Channels the outbox sends by itself; the rest (agent calls, visits, legal review) are
# agents' work.
OUTBOX_CHANNELS = frozenset(
    {Channel.SMS, Channel.EMAIL, Channel.APP_PUSH, Channel.IM, Channel.AI_CALL, Channel.LETTER}
)


def dedupe_key(frame: pl.LazyFrame | pl.DataFrame) -> pl.Expr:
    """sha256 of ``as_of|loan_id|action_index|channel|template`` (hex) as an expression."""
    del frame
    text = pl.concat_str(
        pl.col("as_of").cast(pl.String),
        pl.col("loan_id").cast(pl.String),
        pl.col("action_index").cast(pl.String),
        pl.col("channel"),
        pl.col("template").fill_null(""),
        separator="|",
    )
    return text.map_batches(
        lambda s: pl.Series(
            [hashlib.sha256(v.encode()).hexdigest() for v in s.to_list()], dtype=pl.String
        ),
        return_dtype=pl.String,
    )


def due_moments(sends: pl.DataFrame, zones: pl.DataFrame, as_of: date, hour: time) -> pl.DataFrame:
    """``sends`` with ``due_at``: ``hour`` local time on ``as_of`` in each debtor's zone
    (``zones``: ``borrower_id, timezone``), the moment the gate planned the contact for.
    A debtor without a known zone is due at that hour in UTC+8 (the CN packs' zone); the
    dispatcher asks the gate again before it sends, at the debtor's own hours."""
    from zoneinfo import ZoneInfo

    local = datetime.combine(as_of, hour)
    joined = sends.join(zones.select("borrower_id", "timezone"), on="borrower_id", how="left")
    fallback = datetime.combine(as_of, hour, ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    due = pl.lit(fallback, dtype=_UTC)
    for zone in sorted({z for z in joined["timezone"].to_list() if z}):
        moment = datetime.combine(local.date(), local.time(), ZoneInfo(zone)).astimezone(UTC)
        due = pl.when(pl.col("timezone") == zone).then(pl.lit(moment, dtype=_UTC)).otherwise(due)
    return joined.with_columns(due_at=due).drop("timezone")


def _counts(frame: pl.DataFrame, *keys: str) -> list[dict[str, Any]]:
    if frame.height == 0:
        return []
    return (
        frame.group_by(*keys).agg(pl.len().alias("count")).sort(*keys, nulls_last=True).to_dicts()
    )


def summarise(decisions: pl.DataFrame, accounts: pl.DataFrame, outbox_added: int) -> dict[str, Any]:
    """Counts only (no personal data): what ``runs.summary`` stores and the CLI prints."""
    contacts = decisions.filter(pl.col("allowed").is_not_null())
    blocked = (
        contacts.filter(~pl.col("allowed"))
        .select(pl.col("blocked_by").str.json_decode(pl.List(pl.String)))
        .explode("blocked_by")
        .rename({"blocked_by": "rule"})
    )
    scheduled = decisions.filter(pl.col("scheduled"))
    return {
        "accounts": accounts.height,
        "actions": decisions.height,
        "by_segment": _counts(accounts, "segment"),
        "by_treatment": _counts(accounts, "treatment"),
        "by_arm": _counts(accounts, "arm"),
        "contacts": {
            "planned": contacts.height,
            "allowed": int(contacts["allowed"].sum()) if contacts.height else 0,
            "blocked": int((~contacts["allowed"]).sum()) if contacts.height else 0,
        },
        "blocked_by_rule": _counts(blocked, "rule"),
        "scheduled_by_channel": _counts(scheduled, "channel"),
        "scheduled_by_team": _counts(scheduled.filter(pl.col("team_id").is_not_null()), "team_id"),
        "carried_by_channel": _counts(decisions.filter(pl.col("carried")), "channel"),
        "outbox_added": outbox_added,
    }


def capacity_input(
    gated: pl.DataFrame, assigned: pl.DataFrame, carried: pl.DataFrame
) -> pl.DataFrame:
    """The allowed work (non-contacts such as legal review included) with what
    :func:`forbear.domain.capacity.allocate` reads: ``action_id``, ``lang``, ``skill``
    (legal for legal review, hardship for plan offers and hardship accounts, else
    collections), ``expected_recovery`` (propensity x overdue fen; the overdue amount when
    unscored) and ``carried_days`` (consecutive days the work has been carried, from
    :func:`carried_streaks`; 0 for today's new work)."""
    value = assigned.select(
        "loan_id",
        _col_or(assigned, "overdue_total", pl.Int64()).fill_null(0).alias("_overdue"),
        _col_or(assigned, "propensity", pl.Float64()).alias("_propensity"),
        _col_or(assigned, "hardship", pl.Boolean()).fill_null(False).alias("_hardship"),
    )
    again = carried.select(
        "loan_id",
        "action_index",
        _carried=(
            pl.col("carried_days").cast(pl.Int64)
            if "carried_days" in carried.columns
            else pl.lit(1, dtype=pl.Int64)
        ),
    )
    return (
        gated.filter(pl.col("allowed").fill_null(True))
        .join(value, on="loan_id", how="left")
        .join(again, on=["loan_id", "action_index"], how="left")
        .with_columns(
            action_id=pl.col("loan_id") * 1_000 + pl.col("action_index"),
            lang=pl.lit("zh"),
            skill=pl.when(pl.col("channel") == "legal_review")
            .then(pl.lit("legal"))
            .when((pl.col("purpose") == "offer_plan") | pl.col("_hardship").fill_null(False))
            .then(pl.lit("hardship"))
            .otherwise(pl.lit("collections")),
            expected_recovery=(
                pl.col("_overdue").fill_null(0).cast(pl.Float64)
                * pl.col("_propensity").fill_null(1.0)
            )
            .round(0)
            .cast(pl.Int64),
            carried_days=pl.col("_carried").fill_null(0).cast(pl.Int64),
        )
        .drop("_overdue", "_propensity", "_hardship", "_carried")
    )


def _col_or(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)


def decisions_frame(
    gated: pl.DataFrame,
    allocated: Any,
    assigned: pl.DataFrame,
    as_of: date,
    version_id: int | None,
    plan_cols: list[str],
) -> pl.DataFrame:
    alloc = allocated.collect() if isinstance(allocated, pl.LazyFrame) else allocated
    scores = assigned.select(
        "loan_id",
        *(
            pl.col(c) if c in assigned.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in (
                ("behaviour_tier", pl.String()),
                ("ew_pd", pl.Float64()),
                ("propensity", pl.Float64()),
            )
        ),
        (
            pl.col("reason_codes").cast(pl.String)
            if "reason_codes" in assigned.columns
            else pl.lit("[]")
        ).alias("reason_codes"),
    )
    return (
        gated.join(
            alloc.select("loan_id", pl.col("action_index").cast(pl.Int64), *plan_cols),
            on=["loan_id", "action_index"],
            how="left",
        )
        .join(scores, on="loan_id", how="left")
        .with_columns(
            as_of=pl.lit(as_of),
            strategy_version_id=pl.lit(version_id, dtype=pl.Int64),
            scheduled=pl.col("scheduled").fill_null(False),
            carried=pl.col("carried").fill_null(False),
            agent_id=pl.col("agent_id").cast(pl.String),
            team_id=pl.col("team_id").cast(pl.String),
            reason_codes=pl.col("reason_codes").fill_null("[]"),
            blocked_by=pl.col("blocked_by")
            .list.eval(pl.format('"{}"', pl.element()))
            .list.join(",")
            .map_batches(lambda s: "[" + s + "]", return_dtype=pl.String),
        )
        .sort("loan_id", "action_index")
    )
