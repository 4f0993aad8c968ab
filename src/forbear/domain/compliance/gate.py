"""The contact gate: one vectorised function from a plan to a decision per contact.

``gate(planned, history, flags, holds, rules)`` returns PLANNED's columns plus DECISION's
(schema.py). The daily run passes the whole day's plan; a service passes a one-row plan
built at the moment of contact: the same function (DESIGN.md, "The one idea").

How it counts (REGULATIONS.md):

- every counter is per debtor (``borrower_id``) across the lender and all agencies
  (CN.FREQ.CROSSPARTY), AI calls count as calls (CN.AI.COUNTS), history rows with outcome
  ``blocked`` never count; a history row with no outcome yet (pending) counts as a
  possible unanswered dial *and* a possible conversation, as a planned dial does;
- days are the debtor's local calendar days;
- planned contacts count against each other in plan order (``contact_id`` within a
  borrower): a planned dial counts as a possible unanswered dial and a possible
  conversation, so the first N pass and the rest are blocked with the cap's id. Only
  planned contacts that no other (non-frequency) rule blocks are counted. US.REGF.7IN7
  counts history and earlier planned calls within the window on *either* side of the
  contact, which guarantees no 7-day window ever holds more than the cap whatever order
  the calls are made in. A planned call is not assumed to become a conversation: the
  moment-of-contact check (DESIGN.md, "Online paths") sees the real outcome;
- ``earliest_allowed_at`` is null when allowed or when a rule that time does not lift
  blocks (a hold, a refusal, scope, provenance, ...); otherwise it is the first instant at or
  after every temporal block lifts (next day for daily caps, after the window for 7-in-7,
  the notice time) moved into the next allowed local window and past public holidays.
- unknown ``is_demand`` / ``discloses_debt`` count as true (compliance first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from forbear.domain.compliance.config import CompiledRules, Rule
from forbear.domain.compliance.schema import (
    DECISION,
    PLANNED,
    UNANSWERED,
    VOICE,
    Outcome,
    Party,
)
from forbear.domain.errors import ValidationError
from forbear.domain.holds import hold_open_expr
from forbear.domain.legal.limitation import limitation_date_of, time_barred_expr

__all__ = ["explain", "gate"]

_UTC = pl.Datetime("us", "UTC")
_NAIVE = pl.Datetime("us")
_FAILED = sorted({*(o.value for o in UNANSWERED), Outcome.INVALID_NUMBER.value})
_VOICE = sorted(c.value for c in VOICE)
# how many times the earliest-time search skips a holiday / closed window
_ADJUST_STEPS = 3
_ADJUST_STEPS_HOLIDAYS = 14


def gate(
    planned: pl.LazyFrame,
    history: pl.LazyFrame,
    flags: pl.LazyFrame,
    holds: pl.LazyFrame,
    rules: CompiledRules,
) -> pl.LazyFrame:
    """Decide every planned contact; see the module docstring for how it counts."""
    stats = (
        planned.select(
            zones=pl.col("timezone").fill_null(rules.timezone_default).unique().implode(),
            lo=pl.col("at").min(),
            hi=pl.col("at").max(),
            parties=pl.col("party").unique().implode(),
        )
        .collect()
        .row(0, named=True)
    )
    zones: list[str] = sorted(z for z in (stats["zones"] or []) if z is not None)
    for z in zones:
        try:
            ZoneInfo(z)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValidationError("timezone", f"{z!r} is not an IANA time zone") from e
    ctx = _Ctx(rules, zones, _holiday_dates(rules, stats["lo"], stats["hi"]))

    p = (
        planned.with_row_index("_row")
        .with_columns(_tz=pl.col("timezone").fill_null(rules.timezone_default))
        .with_columns(_local=ctx.local(pl.col("at")))
        .with_columns(
            _day=pl.col("_local").dt.date(),
            _sod=pl.col("_local").dt.hour().cast(pl.Int32) * 3600
            + pl.col("_local").dt.minute().cast(pl.Int32) * 60
            + pl.col("_local").dt.second().cast(pl.Int32),
            _demand=pl.col("is_demand").fill_null(True),
            _disclose=pl.col("discloses_debt").fill_null(True),
        )
    )
    # ``ne_missing``: a pending attempt (outcome null) is a contact, not a refusal
    h = history.filter(pl.col("outcome").ne_missing(Outcome.BLOCKED.value))
    borrowers = p.select("borrower_id").unique()
    f = flags.select(
        "loan_id",
        pl.col("agency_id").alias("_f_agency"),
        pl.col("agency_notified_at").alias("_f_notified"),
        pl.col("assigned_at").alias("_f_assigned"),
        pl.col("assignment_notified_at").alias("_f_assign_notified"),
        pl.col("last_due_date").alias("_f_due"),
        pl.col("last_demand_at").alias("_f_demand"),
        pl.col("debtor_unreachable_since").alias("_f_unreachable"),
    ).unique("loan_id", keep="first")
    p = p.join(f, on="loan_id", how="left")
    p = _join_holds(p, holds, borrowers, rules)

    checks: list[tuple[str, pl.Expr, pl.Expr]] = []  # (rule id, blocks, earliest or null)
    p, more = _static_rules(p, h, borrowers, ctx, set(stats["parties"] or []))
    checks += more
    # planned contacts count against each other only when nothing else blocks them; a
    # check that cannot be judged (null: no flags row, no due date) does not block, as
    # in the final answer below, and must not make a contact skip the frequency caps
    elig = (
        ~pl.any_horizontal([b.fill_null(False) for _, b, _ in checks]) if checks else pl.lit(True)
    )
    p = p.with_columns(_elig=elig)
    p, more = _frequency_rules(p, h, borrowers, ctx, stats["lo"], stats["hi"])
    checks += more

    names = [f"_b{i}" for i in range(len(checks))]
    p = p.with_columns(
        *(b.fill_null(False).alias(n) for n, (_, b, _) in zip(names, checks, strict=True))
    )
    empty = pl.lit([], dtype=pl.List(pl.String))
    if checks:
        # The rule ids and the earliest time are worked out on the blocked rows only (a
        # few percent of a day's plan): list building and the time-zone steps cost far
        # more per row than the checks. Every expression here is row-wise, so the other
        # rows' answer is the same as computing it everywhere: no rule, no time.
        # The plan is materialised here (it is read twice below), and the blocked rows'
        # time-zone steps are built for the zones those rows have (usually one or two, so
        # the expressions are smaller); each row's zone is among them, so the answer is
        # the same as with every zone of the plan.
        p = p.collect().lazy()
        blocked = p.filter(pl.any_horizontal(names)).collect()
        zones_blocked = sorted(z for z in blocked.get_column("_tz").unique() if z is not None)
        local = _Ctx(rules, zones_blocked, ctx.holidays)
        q = _blocked(blocked.lazy(), checks, names, local)
        p = p.drop("blocked_by", "_t", strict=False)
        p = p.join(q, on="_row", how="left").with_columns(
            blocked_by=pl.col("blocked_by").fill_null(empty)
        )
    else:
        p = p.with_columns(blocked_by=empty, _t=pl.lit(None, dtype=_UTC))
    p = p.with_columns(allowed=pl.col("blocked_by").list.len() == 0)
    return (
        p.sort("_row")
        .with_columns(earliest_allowed_at=pl.col("_t").cast(_UTC))
        .select(*PLANNED, *DECISION)
    )


def _blocked(
    q: pl.LazyFrame,
    checks: list[tuple[str, pl.Expr, pl.Expr]],
    names: list[str],
    ctx: _Ctx,
) -> pl.LazyFrame:
    """``_row, blocked_by, _t`` for blocked rows: the rule ids (sorted, unique) and the
    first instant at or after every temporal block lifts, in an open window (null when a
    block time does not lift)."""
    ids = [rid for rid, _, _ in checks]
    q = q.with_columns(*(e.alias(f"_e{i}") for i, (_, _, e) in enumerate(checks)))
    blocked_by = (
        pl.concat_list(
            [pl.when(pl.col(n)).then(pl.lit(rid)) for n, rid in zip(names, ids, strict=True)]
        )
        .list.drop_nulls()
        .list.unique()
        .list.sort()
    )
    never = pl.any_horizontal([pl.col(n) & pl.col(f"_e{i}").is_null() for i, n in enumerate(names)])
    start = pl.max_horizontal(
        pl.col("at"), *(pl.when(pl.col(n)).then(pl.col(f"_e{i}")) for i, n in enumerate(names))
    )
    q = q.with_columns(blocked_by=blocked_by.cast(pl.List(pl.String))).with_columns(
        _t=pl.when((pl.col("blocked_by").list.len() == 0) | never).then(None).otherwise(start)
    )
    q = ctx.next_open(q)
    if ctx.rules.active("assignment_notice"):
        # A debt assigned between the plan's time and the earliest time found is then
        # under CN.ASSIGN.NOTICE: wait for the notice (or never, if none is logged),
        # then for the next open window again.
        t = pl.col("_t")
        assigned = pl.col("_f_assigned").is_not_null() & (pl.col("_f_assigned") <= t)
        unnotified = pl.col("_f_assign_notified").is_null()
        late = pl.col("_f_assign_notified") > t
        q = q.with_columns(
            _t=pl.when(assigned & unnotified)
            .then(None)
            .when(assigned & late)
            .then(pl.col("_f_assign_notified"))
            .otherwise(t)
        )
        q = ctx.next_open(q)
    return q.select("_row", "blocked_by", "_t")


# --------------------------------------------------------------------------- local time


class _Ctx:
    """Time-zone arithmetic per row (a zone per debtor) and the rules' windows."""

    def __init__(self, rules: CompiledRules, zones: Sequence[str], holidays: list[date]) -> None:
        self.rules = rules
        self.zones = list(zones)
        self.holidays = holidays

    def local(self, utc: pl.Expr, tz: str = "_tz") -> pl.Expr:
        """The naive local wall-clock time of a UTC instant, in each row's zone."""
        if not self.zones:
            return pl.lit(None, dtype=_NAIVE)
        return pl.coalesce(
            [
                pl.when(pl.col(tz) == z).then(
                    utc.dt.convert_time_zone(z).dt.replace_time_zone(None)
                )
                for z in self.zones
            ]
        )

    def utc(self, naive: pl.Expr, tz: str = "_tz") -> pl.Expr:
        """The UTC instant of a local wall-clock time (earliest on a DST fold)."""
        if not self.zones:
            return pl.lit(None, dtype=_UTC)
        return pl.coalesce(
            [
                pl.when(pl.col(tz) == z).then(
                    naive.dt.replace_time_zone(z, ambiguous="earliest", non_existent="null")
                    .dt.convert_time_zone("UTC")
                    .cast(_UTC)
                )
                for z in self.zones
            ]
        )

    def next_day(self, day: pl.Expr | None = None) -> pl.Expr:
        """The UTC instant of the next local midnight after ``day`` (default ``_day``)."""
        day = pl.col("_day") if day is None else day
        return self.utc((day + timedelta(days=1)).cast(_NAIVE))

    def is_holiday(self, day: pl.Expr) -> pl.Expr:
        return (
            day.is_in(pl.Series(self.holidays, dtype=pl.Date)) if self.holidays else pl.lit(False)
        )

    def next_open(self, p: pl.LazyFrame) -> pl.LazyFrame:
        """Move ``_t`` forward out of closed windows and public holidays (columns per step,
        so the expression tree stays linear)."""
        quiet = self.rules.active("quiet_hours")
        hol = self.rules.active("holidays") if self.holidays else []
        steps = _ADJUST_STEPS_HOLIDAYS if hol else _ADJUST_STEPS
        for _ in range(steps):
            p = p.with_columns(_tl=self.local(pl.col("_t"))).with_columns(
                _td=pl.col("_tl").dt.date(),
                _ts=pl.col("_tl").dt.hour().cast(pl.Int32) * 3600
                + pl.col("_tl").dt.minute().cast(pl.Int32) * 60
                + pl.col("_tl").dt.second().cast(pl.Int32),
            )
            t = pl.col("_t")
            for r in hol:
                chan = pl.col("channel").is_in(sorted(r.params["channels"]))
                t = (
                    pl.when(chan & self.is_holiday(pl.col("_td")))
                    .then(self.next_day(pl.col("_td")))
                    .otherwise(t)
                )
            for r in quiet:
                chan = pl.col("channel").is_in(sorted(r.params["channels"]))
                t = (
                    pl.when(chan & ~_in_windows(r, pl.col("_ts")))
                    .then(self._next_window(r))
                    .otherwise(t)
                )
            p = p.with_columns(_t=pl.max_horizontal(t, pl.col("_t")))
        return p

    def _next_window(self, r: Rule) -> pl.Expr:
        """The UTC instant of the next window opening after local time (``_td``, ``_ts``)."""
        expr = self.utc(
            (pl.col("_td") + timedelta(days=1)).cast(_NAIVE)
            + pl.duration(minutes=r.params["windows"][0].start)
        )
        for w in reversed(r.params["windows"]):
            expr = (
                pl.when(pl.col("_ts") < w.start * 60)
                .then(self.utc(pl.col("_td").cast(_NAIVE) + pl.duration(minutes=w.start)))
                .otherwise(expr)
            )
        return expr


def _in_windows(r: Rule, sod: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(
        [(sod >= w.start * 60) & (sod < w.end * 60) for w in r.params["windows"]]
    )


def _holiday_dates(rules: CompiledRules, lo: object, hi: object) -> list[date]:
    if rules.holiday_country is None or not rules.active("holidays") or lo is None or hi is None:
        return []
    import holidays as hol  # the optional holidays rule only

    assert isinstance(lo, date) and isinstance(hi, date)
    years = range(lo.year - 1, hi.year + 2)
    return sorted(
        hol.country_holidays(rules.holiday_country, subdiv=rules.holiday_subdivision, years=years)
    )


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
    return p.join(agg, on="_row", how="left")


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
                    .select("borrower_id", "contact_point_id", _refused=pl.lit(True))
                    .unique(["borrower_id", "contact_point_id"])
                )
                p = p.join(refused, on=["borrower_id", "contact_point_id"], how="left")
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


def explain(
    decision_row: Mapping[str, Any], rules: CompiledRules, lang: Literal["zh", "en"] = "zh"
) -> list[str]:
    """Plain sentences for one decision row (see explain.py)."""
    from forbear.domain.compliance.explain import explain as _explain

    return _explain(decision_row, rules, lang)
