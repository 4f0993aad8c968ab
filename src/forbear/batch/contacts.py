"""The day's planned contacts: each debtor's contact points and zone, the gate's PLANNED
frame for the contact actions, and the gate's answers joined back to the actions.

A location action (strategy purpose ``locate``, issue 17) goes to the loan's first usable
emergency contact point of the channel's kind (``locate_points``, from
:func:`forbear.domain.compliance.locate.locate_facts`), as that point's party,
no demand; it discloses nothing only when what is said is the no-disclosure script, as
online (:func:`forbear.services.contacts.gate.no_disclosure_script`): a call follows the
location script (the agent is shown it); a message needs a template among ``scripts``
(approved, for third parties, through the third-party check); otherwise it counts as
disclosing and CN.3P.NO_DISCLOSE blocks it."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from forbear.batch.engines import CONTACT_HOUR
from forbear.domain.compliance import schema as gate_schema
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.locate import CANDIDATES, LOCATE_POINTS, preferred_points
from forbear.domain.compliance.schema import VOICE, Channel, Party
from forbear.domain.strategy.schema import Purpose
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
    return preferred_points(frame, "borrower_id").drop("is_primary")


def emergency_points(conn: Connection) -> pl.DataFrame:
    """Every emergency contact point (CANDIDATES: ``borrower_id, kind, contact_point_id,
    provenance, party, is_primary``): where a location contact may go."""
    return bulk.read_frame(
        conn,
        select(
            ContactPoint.borrower_id,
            ContactPoint.kind,
            ContactPoint.id.label("contact_point_id"),
            ContactPoint.provenance,
            ContactPoint.owner_type.label("party"),
            ContactPoint.is_primary,
        ).where(ContactPoint.owner_type == Party.EMERGENCY_CONTACT.value),
        CANDIDATES,
    )


# The template codes a location message may use: ``template, no_disclosure``.
SCRIPTS: dict[str, pl.DataType] = {"template": pl.String(), "no_disclosure": pl.Boolean()}
LOCATE = Purpose.LOCATE.value  # the strategy's location purpose
# Contacts in which a person says the location script (no template is sent).
_SCRIPTED = sorted({*(c.value for c in VOICE), Channel.VISIT.value})


def borrower_zones(conn: Connection) -> pl.DataFrame:
    """``borrower_id, timezone`` of every borrower."""
    return bulk.read_frame(
        conn,
        select(Borrower.id.label("borrower_id"), Borrower.timezone),
        {"borrower_id": pl.Int64(), "timezone": pl.String()},
    )


def local_moment(zones: pl.Series, as_of: date, hour: time) -> pl.Expr:
    """The UTC moment of ``hour`` local time on ``as_of`` in each row's ``timezone`` (one
    of ``zones``; null for a row without one): when the day's contacts are planned, and
    when the location facts are asked at."""
    local = datetime.combine(as_of, hour)
    at = pl.lit(None, dtype=_UTC)
    for z in sorted({z for z in zones.unique().to_list() if z}):
        moment = pl.lit(local).dt.replace_time_zone(z).dt.convert_time_zone("UTC")
        at = pl.when(pl.col("timezone") == z).then(moment).otherwise(at)
    return at.cast(_UTC)


def plan(
    actions: pl.DataFrame,
    points: pl.DataFrame,
    zones: pl.DataFrame,
    as_of: date,
    hour: time = CONTACT_HOUR,
    locate_points: pl.DataFrame | None = None,
    scripts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The gate's PLANNED frame for the contact actions (a ``contact_id`` per row of
    ``actions``, in order), plus ``needs_point_missing`` for channels that need a point
    the debtor lacks. Non-contact actions (e.g. legal review) are not planned. Location
    actions go to ``locate_points`` (LOCATE_POINTS), as the module docstring says; with
    none given (or no usable point) they are blocked as :data:`NO_CONTACT_POINT`."""
    kinds = pl.DataFrame(
        {
            "channel": [c.value for c in CHANNEL_POINT_KIND],
            "kind": [k.value if k else None for k in CHANNEL_POINT_KIND.values()],
            "_needs": [c in NEEDS_POINT for c in CHANNEL_POINT_KIND],
        },
        schema={"channel": pl.String(), "kind": pl.String(), "_needs": pl.Boolean()},
    )
    p = (
        actions.with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
        .filter(pl.col("channel").is_in(_GATED))
        .join(kinds, on="channel", how="left")
    )
    locating = pl.col("purpose") == LOCATE
    if p.filter(locating).height:
        p = _locate(p, locating, points, locate_points, scripts)
    else:
        p = p.join(points, on=["borrower_id", "kind"], how="left").with_columns(
            party=pl.lit(Party.DEBTOR.value), discloses_debt=pl.lit(True)
        )
    p = p.join(zones, on="borrower_id", how="left")
    return p.with_columns(
        at=local_moment(p["timezone"], as_of, hour),
        agency_id=pl.lit(None, dtype=pl.Int64),
        needs_point_missing=pl.col("_needs") & pl.col("contact_point_id").is_null(),
    ).select([*gate_schema.PLANNED, "needs_point_missing"])


def _locate(
    p: pl.DataFrame,
    locating: pl.Expr,
    points: pl.DataFrame,
    locate_points: pl.DataFrame | None,
    scripts: pl.DataFrame | None,
) -> pl.DataFrame:
    """:func:`plan`'s rows with their contact point, party and ``discloses_debt``: the
    debtor's point for the debtor's actions, the emergency contact's for location ones."""
    third = (pl.DataFrame(schema=LOCATE_POINTS) if locate_points is None else locate_points).select(
        pl.col(c).cast(t) for c, t in LOCATE_POINTS.items()
    )
    said = (pl.DataFrame(schema=SCRIPTS) if scripts is None else scripts).select(
        pl.col(c).cast(t) for c, t in SCRIPTS.items()
    )
    own = (
        p.filter(~locating)
        .join(points, on=["borrower_id", "kind"], how="left")
        .with_columns(party=pl.lit(Party.DEBTOR.value), discloses_debt=pl.lit(True))
    )
    # a location action needs a point whatever its channel (never the debtor's own)
    located = (
        p.filter(locating)
        .join(third, on=["loan_id", "kind"], how="left")
        .join(said.unique("template", keep="first"), on="template", how="left")
        .with_columns(
            party=pl.col("party").fill_null(Party.EMERGENCY_CONTACT.value),
            # a call or visit follows the location script (as online without a template:
            # the agent is shown it); a message only with a template that is the script
            discloses_debt=~(
                pl.col("channel").is_in(_SCRIPTED) | pl.col("no_disclosure").fill_null(False)
            ),
            _needs=pl.lit(True),
        )
        .drop("no_disclosure")
    )
    return pl.concat([own, located.select(own.columns)]).sort("contact_id")


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
