"""The day's planned contacts: each debtor's contact points and zone, the gate's PLANNED
frame for the contact actions, and the gate's answers joined back to the actions."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from forbear.batch.engines import CONTACT_HOUR
from forbear.domain.compliance import schema as gate_schema
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import Channel, Party
from forbear.services.contacts import CHANNEL_POINT_KIND, NEEDS_POINT
from forbear.store import bulk
from forbear.store.models import Borrower, ContactPoint

# Blocked by the run itself, not by a compliance rule: the channel needs a contact point
# (phone, e-mail) and the debtor has none of that kind.
NO_CONTACT_POINT = "RUN.NO_CONTACT_POINT"

_GATED = sorted(c.value for c in Channel)

_UTC = pl.Datetime("us", "UTC")


def contact_points(conn: Connection) -> pl.DataFrame:
    """The debtor's primary contact point of each kind: ``borrower_id, kind,
    contact_point_id, provenance`` (primary first, then the lowest id)."""
    schema = {
        "borrower_id": pl.Int64(),
        "kind": pl.String(),
        "contact_point_id": pl.Int64(),
        "provenance": pl.String(),
        "is_primary": pl.Boolean(),
    }
    frame = bulk.read_frame(
        conn,
        select(
            ContactPoint.borrower_id,
            ContactPoint.kind,
            ContactPoint.id.label("contact_point_id"),
            ContactPoint.provenance,
            ContactPoint.is_primary,
        ).where(ContactPoint.owner_type == Party.DEBTOR.value),
        schema,
    )
    return (
        frame.sort(
            ["borrower_id", "kind", "is_primary", "contact_point_id"],
            descending=[False, False, True, False],
        )
        .unique(["borrower_id", "kind"], keep="first", maintain_order=True)
        .drop("is_primary")
    )


def borrower_zones(conn: Connection) -> pl.DataFrame:
    """``borrower_id, timezone`` of every borrower."""
    return bulk.read_frame(
        conn,
        select(Borrower.id.label("borrower_id"), Borrower.timezone),
        {"borrower_id": pl.Int64(), "timezone": pl.String()},
    )


def plan(
    actions: pl.DataFrame,
    points: pl.DataFrame,
    zones: pl.DataFrame,
    as_of: date,
    hour: time = CONTACT_HOUR,
) -> pl.DataFrame:
    """The gate's PLANNED frame for the contact actions (a ``contact_id`` per row of
    ``actions``, in order), plus ``needs_point_missing`` for channels that need a point
    the debtor lacks. Non-contact actions (e.g. legal review) are not planned."""
    kinds = pl.DataFrame(
        {
            "channel": [c.value for c in CHANNEL_POINT_KIND],
            "kind": [k.value if k else None for k in CHANNEL_POINT_KIND.values()],
            "_needs": [c in NEEDS_POINT for c in CHANNEL_POINT_KIND],
        },
        schema={"channel": pl.String(), "kind": pl.String(), "_needs": pl.Boolean()},
    )
    local = datetime.combine(as_of, hour)
    p = (
        actions.with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
        .filter(pl.col("channel").is_in(_GATED))
        .join(kinds, on="channel", how="left")
        .join(points, on=["borrower_id", "kind"], how="left")
        .join(zones, on="borrower_id", how="left")
    )
    zone_list = sorted({z for z in p["timezone"].unique().to_list() if z})
    at = pl.lit(None, dtype=_UTC)
    for z in zone_list:
        moment = pl.lit(local).dt.replace_time_zone(z).dt.convert_time_zone("UTC")
        at = pl.when(pl.col("timezone") == z).then(moment).otherwise(at)
    return p.with_columns(
        at=at.cast(_UTC),
        party=pl.lit(Party.DEBTOR.value),
        agency_id=pl.lit(None, dtype=pl.Int64),
        discloses_debt=pl.lit(True),
        needs_point_missing=pl.col("_needs") & pl.col("contact_point_id").is_null(),
    ).select([*gate_schema.PLANNED, "needs_point_missing"])


def decide_contacts(
    actions: pl.DataFrame,
    planned: pl.DataFrame,
    history: pl.DataFrame,
    flags: pl.DataFrame,
    holds: pl.DataFrame,
    rules: Any,
) -> pl.DataFrame:
    """``actions`` with the gate's answer (``allowed, blocked_by, earliest_allowed_at``)
    and ``contact_point_id``; actions that are not contacts get ``allowed`` null."""
    to_gate = planned.filter(~pl.col("needs_point_missing")).drop("needs_point_missing")
    if to_gate.height:
        decided = gate(to_gate.lazy(), history.lazy(), flags.lazy(), holds.lazy(), rules).collect()
    else:
        decided = pl.DataFrame(schema={**gate_schema.PLANNED, **gate_schema.DECISION})
    missing = planned.filter(pl.col("needs_point_missing")).select(
        "contact_id",
        "contact_point_id",
        allowed=pl.lit(False),
        blocked_by=pl.lit([NO_CONTACT_POINT], dtype=pl.List(pl.String)),
        earliest_allowed_at=pl.lit(None, dtype=_UTC),
    )
    answers = pl.concat(
        [
            decided.select(
                "contact_id", "contact_point_id", "allowed", "blocked_by", "earliest_allowed_at"
            ),
            missing,
        ]
    )
    return (
        actions.with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
        .join(answers, on="contact_id", how="left")
        .with_columns(pl.col("blocked_by").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("contact_id")
    )
