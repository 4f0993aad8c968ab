"""Location contacts in the daily run (issue 17, item 3): whether each loan's debtor is
unreachable, and which emergency contact point a location contact may go to, as the gate
itself answers them (:func:`locate_facts`): a location call to each candidate point is put
to :func:`~forbear.domain.compliance.gate.gate` with the pack's lost-contact and refusal
rules only. The one definition of "unreachable" stays the gate's
(CN.3P.LOST_CONTACT_GATE, ``gate/static_rules.py``), not a second copy of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import PLANNED, Channel, Party

# What :func:`locate_facts` returns per loan, and per loan and kind of contact point.
LOCATE_FACTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "debtor_unreachable": pl.Boolean(),  # null: the pack has no lost-contact rule
    "emergency_contact": pl.Boolean(),  # an emergency contact point not refused, not held
}
LOCATE_POINTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "kind": pl.String(),
    "contact_point_id": pl.Int64(),
    "provenance": pl.String(),
    "party": pl.String(),
}
# The third-party contact points a location contact may go to (the daily run's input).
CANDIDATES: dict[str, pl.DataType] = {
    "borrower_id": pl.Int64(),
    "kind": pl.String(),
    "contact_point_id": pl.Int64(),
    "provenance": pl.String(),
    "party": pl.String(),
    "is_primary": pl.Boolean(),
}


def _checks_for(rules: CompiledRules, check: str, party: str) -> list[Any]:
    return [
        r
        for r in rules.active("third_party_gate")
        if r.params["check"] == check and party in r.params["parties"]
    ]


def locate_facts(
    debtors: pl.DataFrame,
    candidates: pl.DataFrame,
    history: pl.DataFrame,
    flags: pl.DataFrame,
    holds: pl.DataFrame,
    rules: CompiledRules,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Whether each loan's debtor is unreachable and which emergency contact point a
    location contact may go to, at each loan's moment: ``(facts, points)`` as
    :data:`LOCATE_FACTS` (one row per loan of ``debtors``) and :data:`LOCATE_POINTS` (the
    first usable point per loan and kind: primary first, then the lowest id).

    ``debtors``: ``loan_id, borrower_id, at, timezone`` (the moment of the day's contacts);
    ``candidates``: :data:`CANDIDATES` (emergency contact points); ``history``, ``flags``,
    ``holds``: the gate's inputs of the day.

    The answers are the gate's own: a location call to each candidate point (and one with
    no point, for loans without any) is put to :func:`~forbear.domain.compliance.gate.gate`
    with the pack's ``lost_contact`` and ``refusal`` rules only. The debtor is unreachable
    when the lost-contact rule does not block it (null under a pack without one); a point
    is usable when the refusal rule does not block it (a refusal by that person, or an open
    hold on that point: refused, or marked invalid)."""
    party = Party.EMERGENCY_CONTACT.value
    lost = _checks_for(rules, "lost_contact", party)
    refusal = _checks_for(rules, "refusal", party)
    keep = {r.id for r in (*lost, *refusal)}
    only = dataclasses.replace(rules, rules=tuple(r for r in rules.rules if r.id in keep))
    debtors = debtors.select("loan_id", "borrower_id", "at", "timezone")
    points = candidates.filter(pl.col("party") == party)
    rows = (
        pl.concat(
            [
                debtors.join(
                    points.select(
                        "borrower_id", "kind", "contact_point_id", "provenance", "is_primary"
                    ),
                    on="borrower_id",
                    how="inner",
                ),
                debtors.with_columns(
                    kind=pl.lit(None, dtype=pl.String),
                    contact_point_id=pl.lit(None, dtype=pl.Int64),
                    provenance=pl.lit(None, dtype=pl.String),
                    is_primary=pl.lit(None, dtype=pl.Boolean),
                ),
            ],
            how="vertical_relaxed",
        )
        .with_row_index("contact_id")
        .with_columns(pl.col("contact_id").cast(pl.Int64))
    )
    facts_schema = LOCATE_FACTS
    if rows.height == 0 or not keep:
        facts = debtors.select(
            "loan_id",
            debtor_unreachable=pl.lit(None, dtype=pl.Boolean),
            emergency_contact=pl.col("loan_id").is_in(
                rows.filter(pl.col("contact_point_id").is_not_null())["loan_id"].implode()
            ),
        )
        chosen = _first_point(rows.with_columns(_usable=pl.col("contact_point_id").is_not_null()))
        return _typed(facts, facts_schema), _typed(chosen, LOCATE_POINTS)
    planned = rows.select(
        pl.col("contact_id").cast(pl.Int64),
        "loan_id",
        "borrower_id",
        "contact_point_id",
        channel=pl.lit(Channel.CALL.value),
        party=pl.lit(party),
        provenance="provenance",
        at="at",
        timezone="timezone",
        agency_id=pl.lit(None, dtype=pl.Int64),
        discloses_debt=pl.lit(False),
        is_demand=pl.lit(False),
    ).select(pl.col(c).cast(t) for c, t in PLANNED.items())
    decided = gate(planned.lazy(), history.lazy(), flags.lazy(), holds.lazy(), only).collect()
    lost_ids = sorted(r.id for r in lost)
    refusal_ids = sorted(r.id for r in refusal)

    def blocked_by(ids: list[str]) -> pl.Expr:
        if not ids:
            return pl.lit(False)
        return pl.col("blocked_by").list.eval(pl.element().is_in(ids)).list.any()

    answered = rows.join(
        decided.select("contact_id", "blocked_by"), on="contact_id", how="left"
    ).with_columns(
        _lost=blocked_by(lost_ids),
        _usable=pl.col("contact_point_id").is_not_null() & ~blocked_by(refusal_ids),
    )
    facts = (
        answered.filter(pl.col("contact_point_id").is_null())
        .select(
            "loan_id",
            debtor_unreachable=(~pl.col("_lost")) if lost_ids else pl.lit(None, dtype=pl.Boolean),
        )
        .join(
            answered.group_by("loan_id").agg(emergency_contact=pl.col("_usable").any()),
            on="loan_id",
            how="left",
        )
    )
    return _typed(facts, facts_schema), _typed(_first_point(answered), LOCATE_POINTS)


def preferred_points(points: pl.DataFrame, owner: str) -> pl.DataFrame:
    """The one point per ``owner`` (a loan or a borrower id column) and kind that a
    contact goes to: the primary one first, then the lowest id (the rule of the debtor's
    own points and of the emergency contacts')."""
    return points.sort(
        [owner, "kind", "is_primary", "contact_point_id"],
        descending=[False, False, True, False],
        nulls_last=True,
    ).unique([owner, "kind"], keep="first", maintain_order=True)


def _first_point(rows: pl.DataFrame) -> pl.DataFrame:
    return preferred_points(rows.filter(pl.col("_usable")), "loan_id").with_columns(
        party=pl.lit(Party.EMERGENCY_CONTACT.value)
    )


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())
