"""Local time per row (a zone per debtor), the rules' windows and the holidays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from forbear.domain.compliance.config import CompiledRules, Rule
from forbear.domain.compliance.gate.common import (
    _ADJUST_STEPS,
    _ADJUST_STEPS_HOLIDAYS,
    _NAIVE,
    _UTC,
)

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
