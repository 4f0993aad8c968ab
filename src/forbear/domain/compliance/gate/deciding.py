"""The gate: one decision per planned contact, and the earliest allowed time of a blocked one."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.gate.common import _UTC
from forbear.domain.compliance.gate.frequency import _frequency_rules
from forbear.domain.compliance.gate.hold_rules import _join_holds
from forbear.domain.compliance.gate.local_time import _Ctx, _holiday_dates
from forbear.domain.compliance.gate.static_rules import _static_rules
from forbear.domain.compliance.schema import (
    DECISION,
    PLANNED,
    Outcome,
)
from forbear.domain.errors import ValidationError


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
