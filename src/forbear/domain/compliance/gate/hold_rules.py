"""The holds open at each planned contact's moment, joined to the plan
(:mod:`forbear.domain.holds` is the one definition of an open hold)."""

from __future__ import annotations

import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import (
    Party,
)
from forbear.domain.holds import hold_open_expr

# --------------------------------------------------------------------------- holds


def _join_holds(
    p: pl.LazyFrame, holds: pl.LazyFrame, borrowers: pl.LazyFrame, rules: CompiledRules
) -> pl.LazyFrame:
    """Per planned contact: which hold rule an open hold triggers, whether the debtor is
    deceased (opens the lost-contact gate) and whether its contact point refused."""
    keys = p.select("_row", "borrower_id", "loan_id", "contact_point_id", "channel", "party", "at")
    h = holds.join(borrowers, on="borrower_id", how="semi").select(
        "borrower_id",
        pl.col("loan_id").alias("_h_loan"),
        pl.col("kind").alias("_h_kind"),
        pl.col("channel").alias("_h_channel"),
        pl.col("contact_point_id").alias("_h_cp"),
        pl.col("since").alias("_h_since"),
        pl.col("until").alias("_h_until"),
    )
    j = keys.join(h, on="borrower_id", how="inner").filter(
        (pl.col("_h_loan").is_null() | (pl.col("_h_loan") == pl.col("loan_id")))
        & hold_open_expr(pl.col("at"), since="_h_since", until="_h_until")
    )
    cp_match = pl.col("_h_cp").is_null() | (pl.col("_h_cp") == pl.col("contact_point_id"))
    aggs = [
        (pl.col("_h_kind") == "deceased").any().alias("_deceased"),
        (pl.col("_h_cp").is_not_null() & (pl.col("_h_cp") == pl.col("contact_point_id")))
        .any()
        .alias("_cp_hold"),
    ]
    for r in rules.active("hold"):
        terms: list[pl.Expr] = []
        for kind, scope in r.params["blocks"].items():
            if kind == "complaint" and not rules.complaint_hold:
                continue
            if scope == "all":
                cover = pl.lit(True)
            elif scope == "medium":
                cover = pl.col("_h_channel").is_null() | (pl.col("_h_channel") == pl.col("channel"))
            elif scope == "debtor":
                cover = pl.col("party") == Party.DEBTOR.value
            else:
                cover = pl.col("channel").is_in(sorted(scope))
            terms.append((pl.col("_h_kind") == kind) & cover)
        hit = (pl.any_horizontal(terms) & cp_match) if terms else pl.lit(False)
        aggs.append(hit.any().alias(f"_hold_{r.id}"))
    agg = j.group_by("_row").agg(aggs)
    # CN.3P.REFUSAL: a released hold on the contact point lifts the refusals before it
    # (released the usual way, services/holds.py); ``_cp_released``: the latest release
    # at or before the contact's moment
    released = (
        keys.filter(pl.col("contact_point_id").is_not_null())
        .join(
            h.filter(pl.col("_h_cp").is_not_null() & pl.col("_h_until").is_not_null()),
            left_on=["borrower_id", "contact_point_id"],
            right_on=["borrower_id", "_h_cp"],
            how="inner",
        )
        .filter(pl.col("_h_until") <= pl.col("at"))
        .group_by("_row")
        .agg(pl.col("_h_until").max().alias("_cp_released"))
    )
    return p.join(agg, on="_row", how="left").join(released, on="_row", how="left")
