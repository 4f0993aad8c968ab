"""The frequency rules: contacts and calls counted per debtor over windows, history and
the day's plan together."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from forbear.domain.compliance.config import Rule
from forbear.domain.compliance.gate.common import _VOICE
from forbear.domain.compliance.gate.local_time import _Ctx
from forbear.domain.compliance.schema import (
    UNANSWERED,
    Outcome,
)

# --------------------------------------------------------------------------- frequency rules


def _frequency_rules(
    p: pl.LazyFrame,
    h: pl.LazyFrame,
    borrowers: pl.LazyFrame,
    ctx: _Ctx,
    lo: object,
    hi: object,
) -> tuple[pl.LazyFrame, list[tuple[str, pl.Expr, pl.Expr]]]:
    rules = ctx.rules
    out: list[tuple[str, pl.Expr, pl.Expr]] = []
    daily = rules.active("cap_unanswered_per_number_per_day") + rules.active(
        "cap_connected_per_debtor_per_day"
    )
    if daily and lo is not None and hi is not None:
        assert isinstance(lo, date) and isinstance(hi, date)
        # only the days of the plan matter: local days are at most ~1 day off UTC
        recent = h.filter(
            pl.col("at").is_between(lo - timedelta(days=2), hi + timedelta(days=2))
        ).join(borrowers, on="borrower_id", how="semi")
        zone = p.select("borrower_id", "_tz").unique("borrower_id", keep="first")
        hd = recent.join(zone, on="borrower_id", how="inner").with_columns(
            _day=ctx.local(pl.col("at")).dt.date()
        )
        # An attempt whose outcome is not recorded yet may still be answered or not: it
        # counts against both daily caps until its outcome says which (DESIGN.md
        # "Concurrency"), so no outcome recorded later can take a debtor over a cap.
        pending = pl.col("outcome").is_null()
        for r in daily:
            chans = sorted(r.params["channels"])
            chan = pl.col("channel").is_in(chans)
            if r.kind == "cap_unanswered_per_number_per_day":
                keys = ["borrower_id", "contact_point_id", "_day"]
                cap = r.params["max_attempts"]
                counted = hd.filter(chan & (pending | pl.col("outcome").is_in(sorted(UNANSWERED))))
                applies = chan & pl.col("contact_point_id").is_not_null()
            else:
                keys = ["borrower_id", "_day"]
                cap = r.params["max_connected"]
                counted = hd.filter(
                    chan & (pending | (pl.col("outcome") == Outcome.CONNECTED.value))
                )
                applies = chan
            n = f"_n_{r.id}"
            counts = counted.group_by(keys).agg(pl.len().cast(pl.Int64).alias(n))
            p = p.join(counts, on=keys, how="left", nulls_equal=False)
            mine = (applies & pl.col("_elig")).cast(pl.Int64)
            before = mine.cum_sum().over(keys, order_by="contact_id") - mine
            p = p.with_columns(
                pl.when(applies).then(pl.col(n).fill_null(0) + before).otherwise(0).alias(n)
            )
            out.append((r.id, applies & (pl.col(n) >= cap), ctx.next_day()))
    for r in rules.active("cap_calls_in_window"):
        if lo is None or hi is None:
            break
        assert isinstance(lo, date) and isinstance(hi, date)
        p, check = _calls_in_window(p, h, r, lo, hi)
        out.append(check)
    return p, out


def _calls_in_window(
    p: pl.LazyFrame, h: pl.LazyFrame, r: Rule, lo: date, hi: date
) -> tuple[pl.LazyFrame, tuple[str, pl.Expr, pl.Expr]]:
    """US.REGF.7IN7 (and the US.MA.2IN7 overlay): per debt (loan), more than ``max_attempts``
    in ``window_days``, or a call within ``after_conversation_days`` after a conversation."""
    cap, days, conv = (
        r.params["max_attempts"],
        r.params["window_days"],
        r.params["after_conversation_days"],
    )
    chans = sorted(r.params["channels"])
    win = timedelta(days=days)
    span = timedelta(days=max(days, conv))
    mine = p.filter(pl.col("channel").is_in(chans)).select(
        "_row", "contact_id", "loan_id", "at", "_elig"
    )
    loans = mine.select("loan_id").unique()
    hc = (
        h.filter(pl.col("channel").is_in(chans))
        .filter(pl.col("at").is_between(lo - span, hi + span))
        .join(loans, on="loan_id", how="semi")
        .select(
            "loan_id",
            pl.col("at").alias("_c_at"),
            pl.col("outcome").alias("_c_out"),
            pl.col("channel").alias("_c_ch"),
        )
    )
    j = mine.join(hc, on="loan_id", how="inner")
    near = (pl.col("_c_at") - pl.col("at")).abs() < win
    past = (pl.col("_c_at") <= pl.col("at")) & (pl.col("_c_at") > pl.col("at") - win)
    talk = (
        (pl.col("_c_out") == Outcome.CONNECTED.value)
        & pl.col("_c_ch").is_in(_VOICE)
        & (pl.col("_c_at") < pl.col("at"))
        & (pl.col("_c_at") >= pl.col("at") - timedelta(days=conv))
    )
    hist = j.group_by("_row").agg(
        near.sum().cast(pl.Int64).alias("_w_near"),
        pl.col("_c_at")
        .filter(past)
        .sort(descending=True)
        .get(cap - 1, null_on_oob=True)
        .alias("_w_kth"),
        pl.col("_c_at").filter(talk).max().alias("_w_talk"),
    )
    other = mine.filter(pl.col("_elig")).select(
        "loan_id", pl.col("contact_id").alias("_o_id"), pl.col("at").alias("_o_at")
    )
    planned_before = (
        mine.join(other, on="loan_id", how="inner")
        .filter(
            (pl.col("_o_id") < pl.col("contact_id"))
            & ((pl.col("_o_at") - pl.col("at")).abs() < win)
        )
        .group_by("_row")
        .agg(pl.len().cast(pl.Int64).alias("_w_plan"))
    )
    p = p.join(hist, on="_row", how="left").join(planned_before, on="_row", how="left")
    applies = pl.col("channel").is_in(chans)
    over = (pl.col("_w_near").fill_null(0) + pl.col("_w_plan").fill_null(0)) >= cap
    after_talk = pl.col("_w_talk").is_not_null()
    p = p.with_columns(
        pl.col("_w_kth").alias(f"_wk_{r.id}"),
        pl.col("_w_talk").alias(f"_wt_{r.id}"),
        (applies & (over | after_talk)).alias(f"_wb_{r.id}"),
        (applies & over).alias(f"_wo_{r.id}"),
    ).drop("_w_near", "_w_plan", "_w_kth", "_w_talk")
    earliest = pl.max_horizontal(
        pl.when(pl.col(f"_wo_{r.id}")).then(
            pl.coalesce(pl.col(f"_wk_{r.id}") + win, pl.col("at") + win)
        ),
        pl.when(pl.col(f"_wt_{r.id}").is_not_null()).then(
            pl.col(f"_wt_{r.id}") + timedelta(days=conv)
        ),
    )
    return p, (r.id, pl.col(f"_wb_{r.id}"), earliest)
