"""The simulated world: the population's state day by day, the kernel's inputs drawn from
it (:meth:`World.frames`), and the borrowers' answers to the day's delivered contacts
(:meth:`World.step`). Everything is numpy over loans (or borrowers, or contacts): no
per-row Python.

The calendar: a world holds the state as of the *morning* of :attr:`World.today` (it
starts at ``start``). ``frames(day)`` and ``step(day, ...)`` take ``day == today``;
``step`` plays the day (contacts, reactions, payments, promises, plans, due dates) and
moves the world to the next morning.

What a day does, in order (docs/simulation.md explains every parameter family):

1. the delivered contacts: calls and visits are answered or not (``answer.*``: less
   often the more the borrower was contacted in the last 7 days),
   messages arrive; each reached debtor contact adds its tone's effect, weighted by
   channel, to the loan's *effect stock* (which halves every ``effect.half_life_days``);
   the stock lifts the odds of paying by ``effect.max * tanh(stock / effect.max)``, so
   contacts have diminishing returns;
2. reactions per contact: complaint (opens a complaint hold, so the strategy's ``on_hold``
   segment stops work), opt-out of the medium (an opt-out hold the gate applies), stop
   answering (calls then go mostly unanswered and contacts lose most of their effect);
   contacts in the last 7 days above ``fatigue.threshold`` raise all three;
3. promises (connected voice contacts) and plan acceptance (plan offers reaching the
   debtor);
4. payments: promises due today are kept or broken, plan instalments due today are paid
   or the plan breaks, other overdue loans pay with the day's hazard (by days past due,
   tier, propensity, the effect stock, minus fatigue);
5. due dates: a current loan's instalment is paid or missed (``miss.*``, lowered by the
   effect stock: pre-due reminders work); an overdue loan's instalment adds to arrears;
6. the next morning: days past due move on (frozen on a plan), effects decay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl

from forbear.batch import kernel
from forbear.domain.compliance import schema as gate_schema
from forbear.sim.borrowers.parameters import EFFECT_CHANNELS, TIERS, TONES, Parameters
from forbear.sim.borrowers.population import CYCLE_DAYS, DEFAULT_ZONE, Population, tier_index

HISTORY_DAYS = 31  # the contact history the frames carry (the gate's longest window)
MAX_EXCESS = 7.0  # contacts in 7 days above fatigue.threshold that still count
DEFAULT_HOUR = 10  # local hour of a contact whose delivered row has no ``at``
EVENTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "event": pl.String(),
    "amount": pl.Int64(),
    "channel": pl.String(),
}
EVENT_KINDS = (
    "pay",
    "promise",
    "keep",
    "break",
    "accept_plan",
    "complain",
    "opt_out",
    "stop_answering",
)
TONE_OF_PURPOSE = {
    "remind": "reminder",
    "follow_up": "reminder",
    "educate": "education",
    "offer_plan": "plan_offer",
    "demand": "firm_notice",
    "legal": "legal_review",
}
VOICE = ("call", "ai_call")
MESSAGES = ("sms", "app_push", "email", "im")
HARSH = ("firm_notice", "legal_review")
LEGAL_REVIEW = "legal_review"
_UTC = pl.Datetime("us", "UTC")
_CH = {c: i for i, c in enumerate(EFFECT_CHANNELS)}
_TONE = {t: i for i, t in enumerate(TONES)}
_HOLD_STOPS_WORK_EXCEPT = ("opt_out", "vulnerable")


def _logit(p: np.ndarray | float) -> Any:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _expit(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def bucket_code(dpd: np.ndarray) -> np.ndarray:
    """0 for C (current), 1..7 for M1 ... M7+."""
    return np.where(dpd <= 0, 0, np.minimum(-(-dpd // 30), 7))


BUCKETS = np.array(["C", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"], dtype=object)


class World:
    """One simulated run: ``params`` and ``population`` at ``start``, random draws from
    ``seed`` (the same three, the same world, given the same delivered contacts)."""

    def __init__(self, params: Parameters, population: Population, start: date, seed: int):
        self.params = params
        self.pop = population
        self.start = start
        self.today = start
        self.rng = np.random.default_rng(seed)
        p = population
        n = p.size
        self.n = n
        self.loan_ids = p.loan_id
        self.borrower_ids, self.bidx = np.unique(p.borrower_id, return_inverse=True)
        self.nb = len(self.borrower_ids)
        self.tier_i = tier_index(p.tier)
        self.prop = np.where(np.isnan(p.propensity), 0.5, p.propensity)
        self.hardship = p.hardship.astype(bool)
        # state per loan
        self.dpd = p.dpd.astype(np.int64).copy()
        self.overdue = p.overdue.astype(np.int64).copy()
        self.balance = np.maximum(p.balance, p.overdue).astype(np.int64)
        self.instalment = np.maximum(p.instalment.astype(np.int64), 1)
        self.days_to_due = p.days_to_due.astype(np.int64).copy()
        self.stock = np.zeros(n)
        self.promise_due = np.full(n, -1, dtype=np.int64)  # day number, -1 = none
        self.promise_amount = np.zeros(n, dtype=np.int64)
        self.promise_firm = np.zeros(n, dtype=bool)
        self.plan_on = np.zeros(n, dtype=bool)
        self.plan_next = np.full(n, -1, dtype=np.int64)
        self.plan_left = np.zeros(n, dtype=np.int64)
        self.broken_log = np.full((n, 4), -(10**6), dtype=np.int64)
        self.broken_n = np.zeros(n, dtype=np.int64)
        self.last_payment = np.full(n, -1, dtype=np.int64)
        self.last_demand: np.ndarray = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        self.start_bucket = bucket_code(self.dpd)
        # state per borrower
        self.complaints_n = np.zeros(self.nb, dtype=np.int64)
        self.stopped = np.zeros(self.nb, dtype=bool)
        self.opted = np.zeros((self.nb, len(EFFECT_CHANNELS)), dtype=bool)
        self.recent = np.zeros((7, self.nb), dtype=np.int64)  # contacts per day, ring
        # the record
        self.history: list[tuple[int, pl.DataFrame]] = []
        self.new_holds: list[pl.DataFrame] = []
        self._holds = population.holds.select(
            (pl.col(c) if c in population.holds.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in gate_schema.HOLDS.items()
        )
        # the columns that never change, built once
        self._static = pl.DataFrame(
            {
                "loan_id": self.loan_ids,
                "borrower_id": population.borrower_id,
                "behaviour_tier": pl.Series(population.tier.tolist(), dtype=pl.String),
                "ew_tier": pl.Series(population.ew_tier.tolist(), dtype=pl.String),
                "ew_pd": pl.Series(population.ew_pd, dtype=pl.Float64).fill_nan(None),
                "propensity": pl.Series(population.propensity, dtype=pl.Float64).fill_nan(None),
                "limitation_expired": np.zeros(n, dtype=bool),
                "days_in_segment": pl.Series([None] * n, dtype=pl.Int32),
                "reason_codes": pl.Series([None] * n, dtype=pl.String),
            }
        )
        self.carried = pl.DataFrame(schema=kernel.ACTIONS)
        self.counts: dict[str, float] = {
            k: 0.0
            for k in (
                "recovered",
                "scheduled_paid",
                "cured",
                "promises_made",
                "promises_kept",
                "promises_broken",
                "plans_accepted",
                "plans_broken",
                "plans_completed",
                "complaints",
                "opt_outs",
                "stopped_answering",
                "contacts",
                "connected_calls",
                "legal_reviews",
            )
        }
        self.balance_start = int(self.balance.sum())
        self._zones = population.zones
        zone_list = population.zones["timezone"].drop_nulls().unique().to_list()
        self._zone = zone_list[0] if len(zone_list) == 1 else None
        v = params.values
        self._pay_band = _logit(
            np.array(
                [
                    v["pay.dpd_1_7"],
                    v["pay.dpd_8_30"],
                    v["pay.dpd_31_60"],
                    v["pay.dpd_61_90"],
                    v["pay.dpd_91_plus"],
                ]
            )
        )
        self._pay_tier = np.array([v[f"pay.tier.{t}"] for t in TIERS])
        self._miss = _logit(np.array([v[f"miss.{t}"] for t in TIERS]))
        self._keep = _logit(np.array([v[f"promise.keep.{t}"] for t in TIERS]))
        self._tone_effect = np.array([v[f"effect.tone.{t}"] for t in TONES])
        self._tone_complaint = np.array([v[f"complaint.tone.{t}"] for t in TONES])
        self._channel_weight = np.array([v[f"effect.channel.{c}"] for c in EFFECT_CHANNELS])

    # --- the kernel's inputs -----------------------------------------------------------

    def _check_day(self, day: date) -> None:
        if day != self.today:
            raise ValueError(f"the world is at {self.today}, not {day}")

    def _open_holds(self, day: date) -> pl.DataFrame:
        """The holds open on ``day``'s morning: the population's and the simulation's
        (kept as one conformed frame, extended as holds are added)."""
        if self.new_holds:
            added = [
                f.select(
                    (pl.col(c) if c in f.columns else pl.lit(None)).cast(t).alias(c)
                    for c, t in gate_schema.HOLDS.items()
                )
                for f in self.new_holds
            ]
            self._holds = pl.concat([self._holds, *added])
            self.new_holds = []
        start = datetime.combine(day, time(0), UTC)
        return self._holds.filter(pl.col("until").is_null() | (pl.col("until") > start))

    def frames(self, day: date) -> kernel.DayFrames:
        """The kernel's inputs for ``day`` (the morning's state)."""
        self._check_day(day)
        active = self.balance > 0
        future = np.maximum(self.balance - self.overdue, 0)
        has_due = future > 0
        ordinal = day.toordinal()
        broken90 = (self.broken_log > ordinal - 90).sum(axis=1)
        holds = self._open_holds(day)
        stopping = holds.filter(
            ~pl.col("kind").is_in(_HOLD_STOPS_WORK_EXCEPT) & pl.col("contact_point_id").is_null()
        )
        on_borrower = stopping.filter(pl.col("loan_id").is_null())["borrower_id"].to_numpy()
        on_loan = stopping.filter(pl.col("loan_id").is_not_null())["loan_id"].to_numpy()
        hold_any = np.isin(self.pop.borrower_id, on_borrower) | np.isin(self.loan_ids, on_loan)
        vulnerable = holds.filter(pl.col("kind") == "vulnerable")["borrower_id"].to_numpy()
        hardship = self.hardship | np.isin(self.pop.borrower_id, vulnerable)
        last_pay = np.where(self.last_payment >= 0, self.last_payment - 719_163, -(10**6))
        remaining = -(-future // self.instalment)
        last_due = ordinal + self.days_to_due + CYCLE_DAYS * np.maximum(remaining - 1, 0)
        dynamic = pl.DataFrame(
            {
                "dpd": self.dpd.astype(np.int32),
                "_bucket": bucket_code(self.dpd).astype(np.int64),
                "days_to_due": self.days_to_due.astype(np.int32),
                "_has_due": has_due & active,
                "outstanding": self.balance,
                "overdue_total": self.overdue,
                "_active": active,
                "hold_any": hold_any,
                "active_plan": self.plan_on,
                "active_promise": self.promise_due >= ordinal,
                "broken_promises_90d": broken90.astype(np.int32),
                "hardship": hardship,
                "_last_pay": last_pay.astype(np.int32),
            }
        )
        accounts = pl.concat([self._static, dynamic], how="horizontal").select(
            "loan_id",
            "borrower_id",
            pl.lit(day).alias("as_of"),
            "dpd",
            pl.lit(pl.Series(list(BUCKETS), dtype=pl.String))
            .gather(pl.col("_bucket"))
            .alias("bucket"),
            pl.when("_has_due").then(pl.col("days_to_due")).alias("days_to_due"),
            "outstanding",
            "overdue_total",
            pl.when("_active").then(pl.lit("active")).otherwise(pl.lit("paid_off")).alias("status"),
            "behaviour_tier",
            "ew_tier",
            "ew_pd",
            "propensity",
            "hold_any",
            "active_plan",
            "active_promise",
            "broken_promises_90d",
            "limitation_expired",
            "hardship",
            "days_in_segment",
            pl.when(pl.col("_last_pay") > -(10**6))
            .then(pl.col("_last_pay").cast(pl.Date))
            .alias("last_payment_date"),
            "reason_codes",
        )
        flags = pl.DataFrame(
            {
                "loan_id": self.loan_ids,
                "borrower_id": self.pop.borrower_id,
                "last_due_date": pl.Series((last_due - 719_163).astype("datetime64[D]")).cast(
                    pl.Date
                ),
                "last_demand_at": pl.Series(self.last_demand).cast(_UTC),
            }
        )
        recent = [f for d, f in self.history if d > ordinal - HISTORY_DAYS]
        history = pl.concat(recent) if recent else pl.DataFrame(schema=gate_schema.HISTORY)
        return kernel.DayFrames(
            accounts=accounts,
            carried=self.carried,
            points=self.pop.points,
            zones=self._zones,
            history=history,
            flags=flags,
            holds=holds,
        ).conformed()

    # --- a day ------------------------------------------------------------------------

    def _contacts(self, day: date, delivered: pl.DataFrame) -> dict[str, Any]:
        """The delivered rows as arrays: loan index, borrower index, channel, tone,
        third party, local hour, UTC moment."""
        if "loan_id" not in delivered.columns or "channel" not in delivered.columns:
            raise ValueError("delivered needs at least the columns loan_id and channel")
        d = delivered
        lids = d["loan_id"].cast(pl.Int64).to_numpy()
        li = np.searchsorted(self.loan_ids, lids)
        li = np.minimum(li, self.n - 1)
        if len(lids) and not np.array_equal(self.loan_ids[li], lids):
            raise ValueError("delivered names loans that are not in the population")
        channel = d["channel"].cast(pl.String).to_numpy().astype(object)
        known = np.isin(channel, [*EFFECT_CHANNELS, LEGAL_REVIEW])
        if not known.all():
            raise ValueError(f"unknown channel in delivered: {channel[~known][0]!r}")
        if "tone" in d.columns:
            tone = d["tone"].cast(pl.String).to_numpy().astype(object)
        elif "purpose" in d.columns:
            tone = (
                (d["purpose"].cast(pl.String).replace_strict(TONE_OF_PURPOSE, default="reminder"))
                .to_numpy()
                .astype(object)
            )
        else:
            tone = np.full(len(lids), "reminder", dtype=object)
        tone = np.where(channel == LEGAL_REVIEW, LEGAL_REVIEW, tone)
        bad = ~np.isin(tone, TONES)
        if bad.any():
            raise ValueError(f"unknown tone in delivered: {tone[bad][0]!r}")
        party = (
            d["party"].cast(pl.String).fill_null("debtor").to_numpy().astype(object)
            if "party" in d.columns
            else np.full(len(lids), "debtor", dtype=object)
        )
        default_at = datetime.combine(day, time(DEFAULT_HOUR))
        at = d["at"].cast(_UTC) if "at" in d.columns else pl.Series([None] * len(lids), dtype=_UTC)
        fallback = pl.lit(default_at).dt.replace_time_zone(self._zone or DEFAULT_ZONE)
        at_frame = pl.DataFrame({"at": at}).with_columns(
            pl.col("at").fill_null(fallback.dt.convert_time_zone("UTC"))
        )
        zone = self._zone or DEFAULT_ZONE
        hour = at_frame["at"].dt.convert_time_zone(zone).dt.hour().to_numpy().astype(np.int64)
        is_demand = (
            d["is_demand"].fill_null(False).to_numpy().astype(bool)
            if "is_demand" in d.columns
            else np.isin(tone, ("reminder", "plan_offer", "firm_notice", "legal_review"))
        )
        point = (
            d["contact_point_id"].cast(pl.Int64)
            if "contact_point_id" in d.columns
            else pl.Series([None] * len(lids), dtype=pl.Int64)
        )
        return {
            "li": li,
            "bi": self.bidx[li],
            "ch": pl.Series(channel, dtype=pl.String)
            .replace_strict(_CH, default=-1, return_dtype=pl.Int64)
            .to_numpy(),
            "channel": channel,
            "tone": pl.Series(tone, dtype=pl.String)
            .replace_strict(_TONE, default=0, return_dtype=pl.Int64)
            .to_numpy(),
            "third": np.isin(party, [p.value for p in gate_schema.THIRD_PARTIES]),
            "party": party,
            "hour": hour,
            "at": at_frame["at"],
            "demand": is_demand,
            "point": point,
        }

    def step(
        self, day: date, delivered: pl.DataFrame, carried: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """Plays ``day``: ``delivered`` holds the actions sent after the gate and capacity
        (at least ``loan_id`` and ``channel``; ``purpose`` or ``tone``, ``party``,
        ``at``, ``contact_point_id``, ``is_demand`` are read when present). ``carried``
        (kernel ACTIONS) comes back in tomorrow's frames. Returns the day's events
        (:data:`EVENTS`); only ``pay`` rows carry money received."""
        self._check_day(day)
        v = self.params.values
        rng = self.rng
        ordinal = day.toordinal()
        c = self._contacts(day, delivered)
        events: list[tuple[np.ndarray, str, np.ndarray, np.ndarray | None]] = []
        active = self.balance > 0

        li, bi, ch, tone, third = c["li"], c["bi"], c["ch"], c["tone"], c["third"]
        review = c["channel"] == LEGAL_REVIEW
        contact = ~review
        self.counts["legal_reviews"] += float(review.sum())
        # contacts in the last 7 days (today's included): the ring's oldest day drops out
        slot = ordinal % 7
        self.recent[slot] = 0
        np.add.at(self.recent[slot], bi[contact], 1)
        # (above the threshold, and at most MAX_EXCESS above it: past a week of daily
        # contacts more adds nothing, which keeps the linear logit terms in bounds)
        pressure = np.clip(self.recent.sum(axis=0) - v["fatigue.threshold"], 0.0, MAX_EXCESS)
        excess = pressure[bi]
        # -- 1. who was reached (a borrower called too often picks up less often)
        voice = np.isin(c["channel"], (*VOICE, "visit"))
        answer_p = np.where(
            self.stopped[bi],
            v["answer.stopped"],
            _expit(_logit(v["answer.base"]) + v["answer.pressure"] * excess),
        )
        connected = contact & voice & (rng.random(len(li)) < answer_p)
        reached = (contact & ~voice) | connected | review
        outcome = np.where(voice, np.where(connected, "connected", "no_answer"), "delivered")
        debtor = ~third
        weight = np.where(ch >= 0, self._channel_weight[np.maximum(ch, 0)], 1.0)
        scale = np.where(self.stopped[bi], v["stop.effect_scale"], 1.0)
        effect = np.where(reached & debtor, self._tone_effect[tone] * weight * scale, 0.0)
        np.add.at(self.stock, li, effect)
        # contacts saturate: the stock's lift on the odds never exceeds effect.max
        cap = max(v["effect.max"], 1e-6)
        lift = cap * np.tanh(self.stock / cap)
        harsh = np.isin(tone, [_TONE[t] for t in HARSH])
        demand_at = c["at"].to_numpy().astype("datetime64[us]")
        dm = contact & c["demand"]
        if dm.any():
            order = np.argsort(demand_at[dm])
            self.last_demand[li[dm][order]] = demand_at[dm][order]

        # -- 2. reactions per contact (a reviewed file reaches the debtor as a notice)
        broken90 = (self.broken_log > ordinal - 90).sum(axis=1)
        off_hours = (c["hour"] < 9) | (c["hour"] >= 20)
        z = (
            _logit(v["complaint.base"])
            + self._tone_complaint[tone]
            + np.where(np.isin(c["channel"], VOICE), v["complaint.voice"], 0.0)
            + np.where(c["channel"] == "visit", v["complaint.visit"], 0.0)
            + v["complaint.pressure"] * excess
            + np.where(third, v["complaint.third_party"], 0.0)
            + np.where(off_hours & contact, v["complaint.off_hours"], 0.0)
            + v["complaint.broken_promises"] * broken90[li]
            + np.where(self.complaints_n[bi] > 0, v["complaint.prior"], 0.0)
        )
        # every attempt counts, answered or not: a phone that rings ten times a day is the
        # classic collection complaint
        complain = (contact | review) & (rng.random(len(li)) < _expit(z))
        first = _first_per(bi, complain)
        if first.size:
            self.complaints_n[bi[first]] += 1
            self.counts["complaints"] += first.size
            since = datetime.combine(day, time(23, 0), UTC)
            until = since + timedelta(days=float(v["complaint.hold_days"]))
            self.new_holds.append(
                pl.DataFrame(
                    {
                        "borrower_id": self.borrower_ids[bi[first]],
                        "kind": "complaint",
                        "since": pl.Series([since] * first.size, dtype=_UTC),
                        "until": pl.Series([until] * first.size, dtype=_UTC),
                    }
                )
            )
            events.append((li[first], "complain", np.zeros(first.size, np.int64), first))
        message = np.isin(c["channel"], MESSAGES) & debtor
        z = (
            _logit(v["opt_out.base"])
            + v["opt_out.pressure"] * excess
            + np.where(harsh, v["opt_out.harsh"], 0.0)
        )
        opt = message & ~self.opted[bi, np.maximum(ch, 0)] & (rng.random(len(li)) < _expit(z))
        key = bi * len(EFFECT_CHANNELS) + ch
        first = _first_per(key, opt)
        if first.size:
            self.opted[bi[first], ch[first]] = True
            self.counts["opt_outs"] += first.size
            self.new_holds.append(
                pl.DataFrame(
                    {
                        "borrower_id": self.borrower_ids[bi[first]],
                        "kind": "opt_out",
                        "channel": c["channel"][first].astype(str),
                        "since": pl.Series(
                            [datetime.combine(day, time(23, 0), UTC)] * first.size, dtype=_UTC
                        ),
                    }
                )
            )
            events.append((li[first], "opt_out", np.zeros(first.size, np.int64), first))
        z = (
            _logit(v["stop.base"])
            + v["stop.pressure"] * excess
            + np.where(harsh, v["stop.harsh"], 0.0)
            + np.where(third, v["stop.third_party"], 0.0)
        )
        stop = contact & ~self.stopped[bi] & (rng.random(len(li)) < _expit(z))
        first = _first_per(bi, stop)
        if first.size:
            self.stopped[bi[first]] = True
            self.counts["stopped_answering"] += first.size
            events.append((li[first], "stop_answering", np.zeros(first.size, np.int64), first))

        # -- 3. promises and plans
        behind = active & (self.overdue > 0)
        free = behind & ~self.plan_on & (self.promise_due < ordinal)
        z = _logit(v["promise.base"]) + np.where(harsh, v["promise.firm"], 0.0)
        ask = connected & debtor & free[li] & (rng.random(len(li)) < _expit(z))
        first = _first_per(li, ask)
        if first.size:
            loans = li[first]
            self.promise_due[loans] = ordinal + max(1, round(v["promise.days"]))
            self.promise_amount[loans] = self.overdue[loans]
            self.promise_firm[loans] = harsh[first]
            self.counts["promises_made"] += first.size
            events.append((loans, "promise", self.overdue[loans].copy(), first))
        offer = reached & debtor & (tone == _TONE["plan_offer"]) & free[li] & ~ask
        needy = self.hardship | (self.prop < 0.2)
        z = _logit(v["plan.accept"]) + np.where(needy[li], v["plan.hardship"], 0.0)
        take = offer & (self.promise_due[li] < ordinal) & (rng.random(len(li)) < _expit(z))
        first = _first_per(li, take)
        if first.size:
            loans = li[first]
            self.plan_on[loans] = True
            self.plan_left[loans] = max(1, round(v["plan.months"]))
            self.plan_next[loans] = ordinal + 7
            self.counts["plans_accepted"] += first.size
            events.append((loans, "accept_plan", np.zeros(first.size, np.int64), first))

        # -- 4. payments
        paid = np.zeros(self.n, dtype=np.int64)
        t = self.tier_i
        due_promise = behind & (self.promise_due == ordinal)
        z = (
            self._keep[t]
            + np.where(self.promise_firm, v["promise.firm_keep"], 0.0)
            + lift
            + v["effect.fatigue"] * pressure[self.bidx]
        )
        keep = due_promise & (rng.random(self.n) < _expit(z))
        brk = due_promise & ~keep
        kept = np.nonzero(keep)[0]
        paid[kept] = np.minimum(np.maximum(self.promise_amount[kept], 1), self.overdue[kept])
        events.append((kept, "keep", paid[kept].copy(), None))
        broke = np.nonzero(brk)[0]
        self.broken_log[broke, self.broken_n[broke] % 4] = ordinal
        self.broken_n[broke] += 1
        events.append((broke, "break", np.zeros(broke.size, np.int64), None))
        self.counts["promises_kept"] += kept.size
        self.counts["promises_broken"] += broke.size
        self.promise_due[due_promise] = -1

        plan_due = behind & self.plan_on & (self.plan_next == ordinal)
        plan_pays = plan_due & (rng.random(self.n) < v["plan.keep_monthly"])
        pp = np.nonzero(plan_pays)[0]
        share = -(-self.overdue[pp] // np.maximum(self.plan_left[pp], 1))
        paid[pp] = np.minimum(share, self.overdue[pp])
        self.plan_left[pp] -= 1
        self.plan_next[pp] = ordinal + CYCLE_DAYS
        failed = plan_due & ~plan_pays
        self.plan_on[failed] = False
        self.counts["plans_broken"] += float(failed.sum())

        hazard = behind & ~self.plan_on & (self.promise_due < ordinal) & ~due_promise
        band = np.searchsorted([7, 30, 60, 90], self.dpd, side="left")
        band = np.minimum(band, 4)
        z = (
            self._pay_band[band]
            + self._pay_tier[t]
            + v["pay.propensity"] * (self.prop - 0.5)
            + lift
            + v["effect.fatigue"] * pressure[self.bidx]
        )
        pays = hazard & (rng.random(self.n) < _expit(z))
        full = rng.random(self.n) < v["pay.full_share"]
        frac = np.clip(v["pay.partial_fraction"] * rng.uniform(0.5, 1.5, self.n), 0.05, 1.0)
        partial = np.maximum((self.overdue * frac // 100) * 100, 100).astype(np.int64)
        amount = np.where(full, self.overdue, np.minimum(partial, self.overdue))
        paid = np.where(pays, amount, paid).astype(np.int64)
        payers = np.nonzero(paid > 0)[0]
        events.append((payers, "pay", paid[payers].copy(), None))
        was_behind = self.overdue > 0
        self.overdue -= paid
        self.balance -= paid
        self.last_payment[payers] = ordinal
        self.counts["recovered"] += float(paid.sum())
        cured = was_behind & (self.overdue == 0)
        self.counts["cured"] += float(cured.sum())
        done = self.plan_on & (self.overdue == 0)
        self.counts["plans_completed"] += float(done.sum())
        self.plan_on[done] = False
        self.promise_due[cured] = -1

        # -- 5. due dates
        due = (self.balance > 0) & (self.days_to_due == 0)
        future = np.maximum(self.balance - self.overdue, 0)
        falls = np.where(due, np.minimum(self.instalment, future), 0)
        current = due & (self.overdue == 0) & ~self.plan_on
        miss = current & (rng.random(self.n) < _expit(self._miss[t] - lift))
        on_time = current & ~miss
        self.balance -= np.where(on_time, falls, 0)
        self.counts["scheduled_paid"] += float(np.where(on_time, falls, 0).sum())
        self.last_payment[on_time & (falls > 0)] = ordinal
        self.overdue += np.where(due & ~on_time, falls, 0)
        self.days_to_due[due] = CYCLE_DAYS

        # -- 6. the next morning
        still = self.overdue > 0
        self.dpd = np.where(still, np.where(self.plan_on, self.dpd, self.dpd + 1), 0)
        self.days_to_due = np.maximum(self.days_to_due - 1, 0)
        self.stock *= 0.5 ** (1.0 / max(v["effect.half_life_days"], 1e-6))
        self._record(ordinal, c, contact, outcome)
        self.carried = carried if carried is not None else pl.DataFrame(schema=kernel.ACTIONS)
        self.today = day + timedelta(days=1)
        return self._events(events, c)

    def _record(
        self, ordinal: int, c: dict[str, Any], contact: np.ndarray, outcome: np.ndarray
    ) -> None:
        idx = np.nonzero(contact)[0]
        self.counts["contacts"] += idx.size
        self.counts["connected_calls"] += float(
            ((outcome == "connected") & np.isin(c["channel"], VOICE))[idx].sum()
        )
        for name in np.unique(c["channel"][idx]):
            self.counts[f"contacts.{name}"] = self.counts.get(f"contacts.{name}", 0.0) + float(
                (c["channel"][idx] == name).sum()
            )
        for name in np.unique(c["party"][idx]):
            key = f"contacts.party.{name}"
            self.counts[key] = self.counts.get(key, 0.0) + float((c["party"][idx] == name).sum())
        if idx.size:
            self.history.append(
                (
                    ordinal,
                    pl.DataFrame(
                        {
                            "borrower_id": self.borrower_ids[c["bi"][idx]],
                            "loan_id": self.loan_ids[c["li"][idx]],
                            "contact_point_id": c["point"].gather(idx),
                            "channel": c["channel"][idx].astype(str),
                            "party": c["party"][idx].astype(str),
                            "at": c["at"].gather(idx),
                            "outcome": outcome[idx].astype(str),
                            "agency_id": pl.Series([None] * idx.size, dtype=pl.Int64),
                        }
                    ),
                )
            )
        self.history = [(d, f) for d, f in self.history if d > ordinal - HISTORY_DAYS]

    def _events(
        self,
        parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray | None]],
        c: dict[str, Any],
    ) -> pl.DataFrame:
        frames = []
        for loans, kind, amount, rows in parts:
            if loans.size == 0:
                continue
            channel = (
                pl.Series(c["channel"][rows].astype(str), dtype=pl.String)
                if rows is not None
                else pl.Series([None] * loans.size, dtype=pl.String)
            )
            frames.append(
                pl.DataFrame(
                    {
                        "loan_id": self.loan_ids[loans],
                        "borrower_id": self.pop.borrower_id[loans],
                        "event": kind,
                        "amount": amount.astype(np.int64),
                        "channel": channel,
                    },
                    schema=EVENTS,
                )
            )
        if not frames:
            return pl.DataFrame(schema=EVENTS)
        return pl.concat(frames).sort("loan_id", "event")

    # --- the summary -------------------------------------------------------------------

    def totals(self) -> dict[str, float]:
        """What happened so far: money (fen), counts of events and of contacts."""
        out = dict(self.counts)
        end_bucket = bucket_code(self.dpd)
        out["rolled"] = float(((end_bucket > self.start_bucket) & (self.start_bucket > 0)).sum())
        out["newly_delinquent"] = float(((self.start_bucket == 0) & (end_bucket > 0)).sum())
        out["balance_start"] = float(self.balance_start)
        out["balance_end"] = float(self.balance.sum())
        out["overdue_end"] = float(self.overdue.sum())
        out["loans_behind_end"] = float((self.overdue > 0).sum())
        out["days"] = float((self.today - self.start).days)
        return out


def _first_per(key: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indexes of the first row of each ``key`` among the rows where ``mask`` holds."""
    rows = np.nonzero(mask)[0]
    if rows.size == 0:
        return rows
    _, first = np.unique(key[rows], return_index=True)
    return np.asarray(rows[np.sort(first)])


__all__ = ["EVENTS", "EVENT_KINDS", "TONE_OF_PURPOSE", "World", "bucket_code"]
