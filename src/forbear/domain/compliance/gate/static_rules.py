"""The rules that do not count contacts: hours, holidays, holds, third parties, lost
contact, agencies, assignment, limitation."""

from __future__ import annotations

import polars as pl

from forbear.domain.compliance.config import Rule
from forbear.domain.compliance.gate.common import _FAILED, _UTC, _VOICE
from forbear.domain.compliance.gate.local_time import _Ctx, _in_windows
from forbear.domain.compliance.gate.third_party import undefined_check
from forbear.domain.compliance.schema import (
    Outcome,
    Party,
)
from forbear.domain.legal.limitation import limitation_date_of, time_barred_expr

# --------------------------------------------------------------------------- non-frequency rules


def _static_rules(
    p: pl.LazyFrame,
    h: pl.LazyFrame,
    borrowers: pl.LazyFrame,
    ctx: _Ctx,
    parties: set[str | None],
) -> tuple[pl.LazyFrame, list[tuple[str, pl.Expr, pl.Expr]]]:
    """The rules that do not count contacts. ``parties``: the plan's parties (None for a
    missing one); a third-party check whose parties the plan lacks skips its history
    lookups, since its party term is then false on every row (the daily plan contacts
    debtors only)."""
    rules = ctx.rules
    out: list[tuple[str, pl.Expr, pl.Expr]] = []
    null_t = pl.lit(None, dtype=_UTC)
    at = pl.col("at")
    for r in rules.active("quiet_hours"):
        chan = pl.col("channel").is_in(sorted(r.params["channels"]))
        out.append((r.id, chan & ~_in_windows(r, pl.col("_sod")), at))
    if ctx.holidays:
        for r in rules.active("holidays"):
            chan = pl.col("channel").is_in(sorted(r.params["channels"]))
            out.append((r.id, chan & ctx.is_holiday(pl.col("_day")), at))
    for r in rules.active("hold"):
        out.append((r.id, pl.col(f"_hold_{r.id}").fill_null(False), null_t))
    for r in rules.active("contact_source"):
        bad = pl.col("provenance").is_null() | ~pl.col("provenance").is_in(
            sorted(r.params["lawful"])
        )
        out.append((r.id, pl.col("contact_point_id").is_not_null() & bad, null_t))
    for r in rules.active("agency_notify"):
        late = pl.col("_f_notified").is_null() | (pl.col("_f_notified") > at)
        out.append((r.id, pl.col("agency_id").is_not_null() & late, pl.col("_f_notified")))
    for r in rules.active("agency_scope"):
        other = pl.col("_f_agency").is_null() | (pl.col("_f_agency") != pl.col("agency_id"))
        out.append((r.id, pl.col("agency_id").is_not_null() & other, null_t))
    for r in rules.active("assignment_notice"):
        assigned = pl.col("_f_assigned").is_not_null() & (pl.col("_f_assigned") <= at)
        late = pl.col("_f_assign_notified").is_null() | (pl.col("_f_assign_notified") > at)
        out.append((r.id, assigned & late, pl.col("_f_assign_notified")))
    for r in rules.active("limitation"):
        expiry = limitation_date_of(pl.col("_f_due"), pl.col("_f_demand"), r.params["years"])
        out.append((r.id, pl.col("_demand") & time_barred_expr(expiry, pl.col("_day")), null_t))
    for r in rules.active("third_party_gate"):
        party = pl.col("party").is_in(sorted(r.params["parties"]))
        check = r.params["check"]
        if check == "no_demand":
            out.append((r.id, party & pl.col("_demand"), null_t))
        elif check == "no_disclose":
            out.append((r.id, party & pl.col("_disclose"), null_t))
        elif check == "refusal":
            if _may_apply(r, parties):
                refused = (
                    h.filter(pl.col("outcome") == Outcome.REFUSED.value)
                    .join(borrowers, on="borrower_id", how="semi")
                    .group_by("borrower_id", "contact_point_id")
                    .agg(pl.col("at").max().alias("_refused_at"))
                )
                p = p.join(refused, on=["borrower_id", "contact_point_id"], how="left")
                # a hold on the point released after the refusal lifts it (hold_rules.py)
                p = p.with_columns(
                    _refused=pl.col("_refused_at").is_not_null()
                    & (
                        pl.col("_cp_released").is_null()
                        | (pl.col("_refused_at") > pl.col("_cp_released"))
                    )
                )
            else:
                p = p.with_columns(_refused=pl.lit(False))
            by_party = party & pl.col("_refused").fill_null(False)
            out.append((r.id, by_party | pl.col("_cp_hold").fill_null(False), null_t))
        else:  # lost_contact
            if _may_apply(r, parties):
                p = _lost_contact(p, h, ctx, r)
            else:
                p = p.with_columns(_lc_reachable_not=pl.lit(True), _lc_tomorrow=pl.lit(False))
            blocked = party & ~pl.col("_lc_reachable_not")
            earliest = pl.when(pl.col("_lc_tomorrow")).then(ctx.next_day())
            out.append((r.id, blocked, earliest))
    # a pack without any third-party rule fails closed (US today: no sourced row)
    out.extend((rid, blocks, null_t) for rid, blocks in undefined_check(rules))
    return p, out


def _may_apply(r: Rule, parties: set[str | None]) -> bool:
    """Whether some planned contact may be with one of the rule's parties (or has none)."""
    return None in parties or bool(parties & set(r.params["parties"]))


def _lost_contact(p: pl.LazyFrame, h: pl.LazyFrame, ctx: _Ctx, r: Rule) -> pl.LazyFrame:
    """CN.3P.LOST_CONTACT_GATE: is the debtor unreachable at ``at``?

    Unreachable: a human set ``debtor_unreachable_since``; or an open ``deceased`` hold; or
    the debtor's latest dial before ``at`` found the number invalid; or the debtor's last N
    dials (N = ``consecutive_failures``) all failed and the last of them was on an earlier
    local day ("from the next day"). "Unreachable 3 days running" implies the latter.
    ``_lc_tomorrow``: only the "next day" condition is missing (time lifts it)."""
    n = r.params["consecutive_failures"]
    third = p.filter(pl.col("party").is_in(sorted(r.params["parties"]))).select(
        "_row", "borrower_id", "at", "_tz", "_day"
    )
    dials = h.filter(
        (pl.col("party") == Party.DEBTOR.value) & pl.col("channel").is_in(_VOICE)
    ).select("borrower_id", pl.col("at").alias("_d_at"), pl.col("outcome").alias("_d_out"))
    dials = dials.join(third.select("borrower_id").unique(), on="borrower_id", how="semi")
    last = (
        third.join(dials, on="borrower_id", how="inner")
        .filter(pl.col("_d_at") < pl.col("at"))
        .sort("_d_at", descending=True)
        .group_by("_row")
        .agg(
            pl.col("_d_out").first().alias("_d_latest"),
            pl.col("_d_out").head(n).alias("_d_lastn"),
            pl.col("_d_at").first().alias("_d_latest_at"),
            pl.col("_tz").first(),
            pl.col("_day").first().alias("_d_day"),
        )
        .with_columns(_d_latest_day=ctx.local(pl.col("_d_latest_at")).dt.date())
        .select(
            "_row",
            _d_invalid=pl.col("_d_latest") == Outcome.INVALID_NUMBER.value,
            _d_streak=(pl.col("_d_lastn").list.len() >= n)
            # a pending dial is no failure (yet): it breaks the streak
            & pl.col("_d_lastn").list.eval(pl.element().is_in(_FAILED).fill_null(False)).list.all(),
            _d_today=pl.col("_d_latest_day") >= pl.col("_d_day"),
        )
    )
    human = pl.col("_f_unreachable").is_not_null() & (pl.col("_f_unreachable") <= pl.col("at"))
    other = human | pl.col("_deceased").fill_null(False) | pl.col("_d_invalid").fill_null(False)
    streak = pl.col("_d_streak").fill_null(False)
    today = pl.col("_d_today").fill_null(False)
    return p.join(last, on="_row", how="left").with_columns(
        _lc_reachable_not=other | (streak & ~today),
        _lc_tomorrow=~other & streak & today,
    )
