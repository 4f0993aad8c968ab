"""The daily run's decision logic in pandas, as an in-house team would write it: the
benchmark's ``pandas`` engine (the named baseline).

The style is the one such code usually has: every table read whole with
``pd.read_parquet``; segments by a small rule engine applied row by row
(``DataFrame.apply(axis=1)`` over the strategy file's conditions); arms with the scalar
splitmix64 per account; the day's actions by ``merge`` and boolean masks; the plan by
``merge``; and the compliance gate per debtor (``groupby("borrower_id").apply``), walking
the debtor's planned contacts in plan order with the CN rules written out in Python
(quiet hours, holds, contact-point provenance, agency and assignment notices, limitation,
the third-party rules, both daily frequency caps with earlier planned contacts counted).
It shares no code with the kernel except the strategy's parsed conditions, the scalar
arm hash (``forbear.domain.strategy.compile.arm_slot``, the kernel's test reference) and
the capacity step (:func:`forbear.domain.capacity.allocate`, fed from pandas).

Like the SQL engine it leaves out the third-party lost-contact gate (the daily plan
contacts debtors only) and moves ``earliest_allowed_at`` into the next window once.
"""

from __future__ import annotations

import math
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.strategy import conditions as cond
from forbear.domain.strategy.compile import LEGAL_MIN_DPD, _arms, arm_slot
from forbear.domain.strategy.schema import (
    CONTROL_ARM,
    DEMANDS,
    NO_SEGMENT,
    PLAN_SEGMENT,
    PLAN_TREATMENT,
)

KIND_OF = {
    "call": "phone",
    "ai_call": "phone",
    "sms": "phone",
    "email": "email",
    "im": None,
    "app_push": None,
    "letter": "address",
    "visit": "address",
}
NEEDS_POINT = {"call", "ai_call", "sms", "email"}
NO_CONTACT_POINT = "RUN.NO_CONTACT_POINT"


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _true(v: Any) -> bool:
    return not _missing(v) and bool(v)


def holds(c: cond.Condition, row: Any) -> bool:
    """Does the condition hold for one account row (a comparison with a missing value does
    not hold)?"""
    if isinstance(c, cond.Always):
        return c.value
    if isinstance(c, cond.Node):
        if c.op == "not":
            return not holds(c.children[0], row)
        if c.op == "all":
            return all(holds(k, row) for k in c.children)
        return any(holds(k, row) for k in c.children)
    v = row[c.field]
    if _missing(v):
        return False
    if c.op == "in":
        return v in c.value  # type: ignore[operator]
    if c.op == "not in":
        return v not in c.value  # type: ignore[operator]
    x = c.value
    return bool(
        {
            ">=": lambda: v >= x,
            "<=": lambda: v <= x,
            ">": lambda: v > x,
            "<": lambda: v < x,
            "==": lambda: v == x,
            "!=": lambda: v != x,
        }[c.op]()
    )


def segment_of(row: Any, strategy: Any) -> str:
    on_plan = (_true(row["active_plan"]) or _true(row["active_promise"])) and not _true(
        row["hold_any"]
    )
    if on_plan:
        return PLAN_SEGMENT
    for s in strategy.spec.segments:
        if holds(strategy.conditions[s.id], row):
            return str(s.id)
    return NO_SEGMENT


def assign(acc: pd.DataFrame, strategy: Any) -> pd.DataFrame:
    acc["segment"] = acc.apply(segment_of, axis=1, args=(strategy,))
    treatment = {s.id: s.treatment for s in strategy.spec.segments}
    treatment[PLAN_SEGMENT] = PLAN_TREATMENT
    acc["treatment"] = acc["segment"].map(treatment)
    acc["arm"] = None
    for x in strategy.spec.experiments:
        arms = _arms(x.arms)
        rows = acc["segment"] == x.segment

        def pick(loan_id: int, arms: Any = arms, xid: str = x.id) -> tuple[str, str]:
            slot = arm_slot(int(loan_id), xid)
            arm = next(a for a in arms if slot < a.upto)
            return arm.name, arm.treatment

        picked = acc.loc[rows, "loan_id"].map(pick)
        acc.loc[rows, "arm"] = picked.map(lambda p: p[0])
        acc.loc[rows, "treatment"] = picked.map(lambda p: p[1])
    return acc


def actions_today(
    acc: pd.DataFrame, treat: pd.DataFrame, strategy: Any, as_of: date
) -> pd.DataFrame:
    lows = {}
    for s in strategy.spec.segments:
        c = strategy.conditions[s.id]
        lo = cond.lower_bound(c, "dpd")
        hi = cond.upper_bound(c, "days_to_due")
        if lo is not None:
            lows[s.id] = ("dpd", int(lo))
        elif hi is not None:
            lows[s.id] = ("days_to_due", int(hi))
    cand = acc[acc["treatment"].isin(treat["treatment"])].merge(treat, on="treatment")
    est = pd.Series(0.0, index=cand.index)
    for seg, (field, bound) in lows.items():
        rows = cand["segment"] == seg
        value = cand.loc[rows, field] - bound if field == "dpd" else bound - cand.loc[rows, field]
        est[rows] = value.clip(lower=0)
    days = cand["days_in_segment"].astype("float64").fillna(est)
    dpd = cand["dpd"].astype("float64")
    fires = (
        (cand["day"].astype("float64") == days)
        | (cand["on_dpd"].astype("float64") == dpd)
        | (cand["on_days_to_due"].astype("float64") == cand["days_to_due"].astype("float64"))
    )
    paid = pd.to_datetime(cand["last_payment_date"])
    since = pd.Timestamp(as_of) - pd.to_timedelta(days, unit="D")
    paid_since = paid.notna() & (paid >= since)
    stopped = (
        (cand["stop_payment"] & paid_since)
        | (cand["stop_promise"] & cand["active_promise"].fillna(False).astype(bool))
        | (cand["stop_plan"] & cand["active_plan"].fillna(False).astype(bool))
    )
    control_ok = cand["arm"].isna() | (cand["arm"] != CONTROL_ARM) | cand["legally_required"]
    legal = (cand["channel"] == "legal_review") | (cand["purpose"] == "legal")
    legal_ok = ~legal | (
        (dpd >= LEGAL_MIN_DPD)
        & ~cand["hold_any"].fillna(True).astype(bool)
        & ~cand["limitation_expired"].fillna(True).astype(bool)
    )
    today = cand[fires & ~stopped & control_ok & legal_ok].copy()
    today["is_demand"] = today["purpose"].isin([p.value for p in DEMANDS])
    today["priority"] = today["legally_required"].astype(int) * 1000 + today["dpd"].fillna(0).clip(
        0, 999
    ).astype(int)
    cols = [
        "loan_id",
        "borrower_id",
        "segment",
        "arm",
        "treatment",
        "action_index",
        "channel",
        "template",
        "purpose",
        "is_demand",
        "priority",
    ]
    return today[cols]


# ------------------------------------------------------------------------------- the gate


class Gate:
    """The CN rules for one debtor's planned contacts, in plan order."""

    def __init__(self, rules: CompiledRules, history: pd.DataFrame, holds: pd.DataFrame) -> None:
        self.rules = rules

        def one(kind: str) -> Any:
            found = rules.active(kind)
            return found[0] if found else None

        self.quiet = one("quiet_hours")
        self.unanswered = one("cap_unanswered_per_number_per_day")
        self.connected = one("cap_connected_per_debtor_per_day")
        self.hold = one("hold")
        self.source = one("contact_source")
        self.notify = one("agency_notify")
        self.scope = one("agency_scope")
        self.assign = one("assignment_notice")
        self.limitation = one("limitation")
        self.third = {r.params["check"]: r for r in rules.active("third_party_gate")}
        self.history = {b: g for b, g in history.groupby("borrower_id")}
        self.holds = {b: g.to_dict("records") for b, g in holds.groupby("borrower_id")}
        self.zones: dict[str, ZoneInfo] = {}

    def zone(self, name: Any) -> ZoneInfo:
        name = name if isinstance(name, str) else self.rules.timezone_default
        if name not in self.zones:
            self.zones[name] = ZoneInfo(name)
        return self.zones[name]

    def open_at(self, t: datetime, channel: str, tz: ZoneInfo) -> datetime:
        """``t`` moved to the next opening of the contact window, in the debtor's zone."""
        q = self.quiet
        if q is None or channel not in q.params["channels"]:
            return t
        local = t.astimezone(tz)
        sod = local.hour * 3600 + local.minute * 60 + local.second
        if any(w.start * 60 <= sod < w.end * 60 for w in q.params["windows"]):
            return t
        day = local.date()
        for w in q.params["windows"]:
            if sod < w.start * 60:
                return max(t, _at(day, w.start, tz))
        return max(t, _at(day + timedelta(days=1), q.params["windows"][0].start, tz))

    def debtor(self, b: Any, plan: pd.DataFrame) -> pd.DataFrame:
        hist = self.history.get(b)
        holds = self.holds.get(b, [])
        unanswered: dict[tuple[Any, date], int] = {}
        connected: dict[date, int] = {}
        refused: set[Any] = set()
        if hist is not None:
            for h in hist.itertuples(index=False):
                voice = self.unanswered and h.channel in self.unanswered.params["channels"]
                if voice and h.outcome in ("no_answer", "busy"):
                    key = (h.contact_point_id, h.day)
                    unanswered[key] = unanswered.get(key, 0) + 1
                talk = self.connected and h.channel in self.connected.params["channels"]
                if talk and h.outcome == "connected":
                    connected[h.day] = connected.get(h.day, 0) + 1
                if h.outcome == "refused":
                    refused.add(h.contact_point_id)
        out = []
        for c in plan.sort_values("contact_id").itertuples(index=False):
            blocked: dict[str, datetime | None] = {}  # rule id -> when it lifts (None: never)
            tz = self.zone(c.timezone)
            at = c.at
            local = at.astimezone(tz)
            day = local.date()
            sod = local.hour * 3600 + local.minute * 60 + local.second
            cp = None if _missing(c.contact_point_id) else c.contact_point_id
            demand = True if _missing(c.is_demand) else bool(c.is_demand)
            q = self.quiet
            quiet = q is not None and c.channel in q.params["channels"]
            if quiet and not any(w.start * 60 <= sod < w.end * 60 for w in q.params["windows"]):
                blocked[q.id] = at
            open_holds = [
                h
                for h in holds
                if (_missing(h["loan_id"]) or h["loan_id"] == c.loan_id)
                and (_missing(h["since"]) or h["since"] <= at)
                and (_missing(h["until"]) or h["until"] > at)
            ]
            if self.hold is not None:
                for h in open_holds:
                    if not _missing(h["contact_point_id"]) and h["contact_point_id"] != cp:
                        continue
                    if h["kind"] == "complaint" and not self.rules.complaint_hold:
                        continue
                    scope = self.hold.params["blocks"].get(h["kind"])
                    if (
                        scope == "all"
                        or (
                            scope == "medium"
                            and (_missing(h["channel"]) or h["channel"] == c.channel)
                        )
                        or (scope == "debtor" and c.party == "debtor")
                        or (isinstance(scope, frozenset) and c.channel in scope)
                    ):
                        blocked[self.hold.id] = None
            lawful = self.source.params["lawful"] if self.source is not None else None
            if lawful is not None and cp is not None and c.provenance not in lawful:
                blocked[self.source.id] = None  # a missing provenance is not lawful either
            agency = None if _missing(c.agency_id) else c.agency_id
            told = c.f_notified
            if self.notify is not None and agency is not None and (_missing(told) or told > at):
                blocked[self.notify.id] = None if _missing(told) else told
            if self.scope is not None and agency is not None and c.f_agency != agency:
                blocked[self.scope.id] = None
            told = c.f_assign_notified
            sold = not _missing(c.f_assigned) and c.f_assigned <= at
            if self.assign is not None and sold and (_missing(told) or told > at):
                blocked[self.assign.id] = None if _missing(told) else told
            if self.limitation is not None and demand:
                starts = [d for d in (c.f_due, c.f_demand_day) if not _missing(d)]
                if starts and day > _plus_years(max(starts), self.limitation.params["years"]):
                    blocked[self.limitation.id] = None
            r = self.third.get("no_demand")
            if r is not None and c.party in r.params["parties"] and demand:
                blocked[r.id] = None
            r = self.third.get("no_disclose")
            if r is not None and c.party in r.params["parties"] and c.discloses_debt is not False:
                blocked[r.id] = None
            r = self.third.get("refusal")
            if r is not None:
                by_party = c.party in r.params["parties"] and cp in refused
                cp_hold = any(
                    not _missing(h["contact_point_id"]) and h["contact_point_id"] == cp
                    for h in open_holds
                )
                if by_party or cp_hold:
                    blocked[r.id] = None
            eligible = not blocked
            tomorrow = _at(day + timedelta(days=1), 0, tz)
            u = self.unanswered
            if u is not None and c.channel in u.params["channels"] and cp is not None:
                if unanswered.get((cp, day), 0) >= u.params["max_attempts"]:
                    blocked[u.id] = tomorrow
                if eligible:
                    unanswered[(cp, day)] = unanswered.get((cp, day), 0) + 1
            k = self.connected
            if k is not None and c.channel in k.params["channels"]:
                if connected.get(day, 0) >= k.params["max_connected"]:
                    blocked[k.id] = tomorrow
                if eligible:
                    connected[day] = connected.get(day, 0) + 1
            earliest = None
            if blocked and all(t is not None for t in blocked.values()):
                t = max([at, *(v for v in blocked.values() if v is not None)])
                t = self.open_at(t, c.channel, tz)
                if not _missing(c.f_assigned) and c.f_assigned <= t:
                    told = c.f_assign_notified
                    t = None if _missing(told) else max(t, told)
                earliest = None if t is None else self.open_at(t, c.channel, tz)
            out.append((c.contact_id, not blocked, sorted(blocked), earliest))
        return pd.DataFrame(
            out, columns=["contact_id", "allowed", "blocked_by", "earliest_allowed_at"]
        )


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    local = datetime.combine(day, time(0), tz) + timedelta(minutes=minutes)
    return local.astimezone(UTC)


def _plus_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


# ------------------------------------------------------------------------------- the run


def run(
    root: Path,
    out: Path,
    strategy: Any,
    compiled: Any,
    rules: CompiledRules,
    as_of: date,
    hour: time,
    write_assigned: bool,
) -> dict[str, Any]:
    from forbear.domain.capacity import allocate, default_capacity

    steps: dict[str, float] = {}
    t = clock.perf_counter()
    read = {
        name: pd.read_parquet(root / f"{name}.parquet")
        for name in ("accounts", "carried", "points", "zones", "history", "flags", "holds")
    }
    steps["read"] = clock.perf_counter() - t
    t = clock.perf_counter()
    acc = assign(read["accounts"], strategy)
    steps["segments"] = clock.perf_counter() - t
    t = clock.perf_counter()
    treat = compiled._actions.to_pandas()
    today = actions_today(acc, treat, strategy, as_of)
    carried = read["carried"].drop(columns="part")
    again = carried.merge(
        today[["loan_id", "action_index"]],
        on=["loan_id", "action_index"],
        how="left",
        indicator=True,
    )
    carried = carried[
        (again["_merge"] == "left_only").to_numpy() & carried["loan_id"].isin(acc["loan_id"])
    ]
    actions = (
        pd.concat([today, carried[today.columns]], ignore_index=True)
        .astype({"action_index": "int64", "priority": "int64"})
        .sort_values(["loan_id", "action_index"])
        .reset_index(drop=True)
    )
    actions["contact_id"] = np.arange(len(actions))
    steps["actions"] = clock.perf_counter() - t
    t = clock.perf_counter()
    # the plan: the debtor's primary point of the channel's kind, 10:00 in their zone
    plan = actions[actions["channel"].isin(list(KIND_OF))].copy()
    plan["kind"] = plan["channel"].map(KIND_OF)
    plan = plan.merge(
        read["points"][["borrower_id", "kind", "contact_point_id", "provenance"]],
        on=["borrower_id", "kind"],
        how="left",
    ).merge(read["zones"][["borrower_id", "timezone"]], on="borrower_id", how="left")
    local = datetime.combine(as_of, hour)
    moments = {
        z: pd.Timestamp(local.replace(tzinfo=ZoneInfo(z))).tz_convert("UTC")
        for z in plan["timezone"].dropna().unique()
    }
    plan["at"] = plan["timezone"].map(moments)
    plan["party"] = "debtor"
    plan["agency_id"] = None
    plan["discloses_debt"] = True
    missing = plan["channel"].isin(NEEDS_POINT) & plan["contact_point_id"].isna()
    flags = read["flags"].drop_duplicates("loan_id")
    flags = flags.rename(
        columns={
            "agency_id": "f_agency",
            "agency_notified_at": "f_notified",
            "assigned_at": "f_assigned",
            "assignment_notified_at": "f_assign_notified",
            "last_due_date": "f_due",
        }
    )
    flags["f_demand_day"] = flags["last_demand_at"].dt.date
    to_gate = plan[~missing].merge(
        flags[
            [
                "loan_id",
                "f_agency",
                "f_notified",
                "f_assigned",
                "f_assign_notified",
                "f_due",
                "f_demand_day",
            ]
        ],
        on="loan_id",
        how="left",
    )
    who = to_gate["borrower_id"].unique()
    hist = read["history"]
    hist = hist[hist["borrower_id"].isin(who) & (hist["outcome"] != "blocked")]
    zone_of = to_gate.drop_duplicates("borrower_id").set_index("borrower_id")["timezone"]
    hist = hist.assign(tz=hist["borrower_id"].map(zone_of).fillna(rules.timezone_default))
    hist["day"] = None
    for z, rows in hist.groupby("tz").groups.items():
        hist.loc[rows, "day"] = hist.loc[rows, "at"].dt.tz_convert(z).dt.date
    holds = read["holds"][read["holds"]["borrower_id"].isin(who)]
    gate = Gate(rules, hist, holds)
    answers = pd.concat(
        [gate.debtor(b, g) for b, g in to_gate.groupby("borrower_id", sort=False)],
        ignore_index=True,
    )
    no_point = plan.loc[missing, ["contact_id"]].assign(
        allowed=False,
        blocked_by=[[NO_CONTACT_POINT]] * int(missing.sum()),
        earliest_allowed_at=None,
    )
    answers = pd.concat([answers, no_point], ignore_index=True)
    gated = actions.merge(plan[["contact_id", "contact_point_id"]], on="contact_id", how="left")
    gated = gated.merge(answers, on="contact_id", how="left")
    gated["blocked_by"] = gated["blocked_by"].map(lambda v: v if isinstance(v, list) else [])
    steps["gate"] = clock.perf_counter() - t
    t = clock.perf_counter()
    value = acc[["loan_id", "overdue_total", "propensity", "hardship"]]
    fits = gated[gated["allowed"].isna() | (gated["allowed"] == True)]  # noqa: E712
    fits = fits.merge(value, on="loan_id", how="left").merge(
        read["carried"][["loan_id", "action_index"]].assign(carried_days=1),
        on=["loan_id", "action_index"],
        how="left",
    )
    fits["carried_days"] = fits["carried_days"].fillna(0).astype("int64")
    fits["action_id"] = fits["loan_id"] * 1000 + fits["action_index"]
    fits["lang"] = "zh"
    hardship = fits["hardship"].fillna(False).astype(bool)
    fits["skill"] = np.where(
        fits["channel"] == "legal_review",
        "legal",
        np.where((fits["purpose"] == "offer_plan") | hardship, "hardship", "collections"),
    )
    fits["expected_recovery"] = np.round(
        fits["overdue_total"].fillna(0).astype("float64") * fits["propensity"].fillna(1.0)
    ).astype("int64")
    allocated = allocate(
        pl.from_pandas(
            fits[
                [
                    "action_id",
                    "loan_id",
                    "borrower_id",
                    "action_index",
                    "channel",
                    "lang",
                    "skill",
                    "priority",
                    "expected_recovery",
                    "carried_days",
                ]
            ]
        ),
        default_capacity(),
        None,
    ).to_pandas()
    decisions = gated.drop(columns="contact_id").merge(
        allocated[["loan_id", "action_index", "scheduled", "agent_id", "team_id", "rank"]],
        on=["loan_id", "action_index"],
        how="left",
    )
    steps["capacity"] = clock.perf_counter() - t
    t = clock.perf_counter()
    decisions["earliest_allowed_at"] = pd.to_datetime(decisions["earliest_allowed_at"], utc=True)
    decisions.to_parquet(out / "decisions.parquet")
    acc.groupby(["segment", "arm", "treatment"], dropna=False).size().rename(
        "accounts"
    ).reset_index().to_parquet(out / "segments.parquet")
    if write_assigned:
        acc[["loan_id", "segment", "arm", "treatment"]].to_parquet(out / "assigned.parquet")
    steps["write"] = clock.perf_counter() - t
    return {"steps": steps, "actions": len(decisions)}
