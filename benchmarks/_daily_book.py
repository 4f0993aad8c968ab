"""A synthetic day for the daily-run benchmark, written straight into the kernel's Parquet
export layout (:func:`forbear.batch.kernel.write_parquet`): one file per table of
:data:`forbear.batch.kernel.TABLES` under ``root``, each with a ``part`` column
(the borrower bucket ``borrower_id % buckets``), sorted by it, 64,000-row row groups, zstd.

Seeded numpy, built one bucket at a time so that generating 10M accounts stays within a
few hundred MB: bucket ``b`` holds the borrowers ``b, b + B, b + 2B, ...`` and every row
of theirs, drawn from ``default_rng([seed, b])``. The book therefore depends on the bucket
count (the cache key includes it).

What a day looks like (as of ``as_of``, contacts planned at 10:00 local time):

- borrowers (``0.7 x accounts``) with 1 + Poisson(0.43) loans; 97% in Asia/Shanghai, the
  rest in Urumqi, Hong Kong, Tokyo, London and Los Angeles;
- a borrower's state (current 90.5%, M1 5.5%, M2 1.5%, M3 1%, M4+ 1.5%) which most of
  their loans share; 5% of loans paid off, some deep ones written off; days past due,
  days to the next due date, outstanding and overdue fen, behaviour / early-warning tiers,
  early-warning PD and propensity to pay that follow the state (5% unscored); a few
  promises and plans, hardship, limitation run out on very old debts;
- contact points: a phone (a few without), e-mail for 45%, an address for 97%, mostly
  lawful provenances and 0.3% harvested (``address_book``, blocked by
  CN.DATA.CONTACT_SOURCE);
- about ``history`` contact attempts over the 30 days before the run, concentrated on the
  delinquent, with realistic channels, parties and outcomes; 1% of delinquent debtors
  were dialled 6 times unanswered this morning and 0.5% had 3 conversations
  (CN.FREQ.UNANSWERED / CN.FREQ.CONNECTED);
- holds on 1.2% of borrowers (disputes, complaints, cease, per-channel opt-outs,
  vulnerability, lawyers, deaths; some closed), from which ``hold_any`` and ``hardship``
  are derived as :func:`forbear.services.accounts.assemble_accounts` does;
- flags: agency placements, debts assigned to a new creditor (a third not yet notified:
  CN.ASSIGN.NOTICE), last due dates and demands (CN.LIMITATION);
- carried: yesterday's allowed but unscheduled work (mostly agent calls) for 12% of
  delinquent accounts.
"""

from __future__ import annotations

import json
import shutil
import time as clock
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from forbear.batch import kernel

AS_OF = date(2026, 3, 10)
HOUR = time(10, 0)
ROW_GROUP = 64_000
LAYOUT_VERSION = 2  # bump when the generator changes: the cache key includes it

ZONES = np.array(
    [
        "Asia/Shanghai",
        "Asia/Urumqi",
        "Asia/Hong_Kong",
        "Asia/Tokyo",
        "Europe/London",
        "America/Los_Angeles",
    ]
)
ZONE_P = [0.97, 0.02, 0.005, 0.002, 0.0015, 0.0015]
# borrower states: current, M1, M2, M3, M4+
STATE_P = np.array([0.905, 0.055, 0.015, 0.01, 0.015])
# contact attempts per 30 days by state (scaled so the total is ``history``)
STATE_CONTACTS = np.array([1.2, 18.0, 35.0, 40.0, 25.0])
TIERS = np.array(["A", "B", "C", "D", "E"])
EW_PD = np.array([0.01, 0.03, 0.08, 0.2, 0.4])
PROVENANCE = np.array(
    ["contract", "supplied_by_debtor", "debtor_authorisation", "public_source", "address_book"]
)
PROVENANCE_P = [0.70, 0.25, 0.037, 0.01, 0.003]
HOLD_KINDS = np.array(
    [
        "dispute",
        "complaint",
        "cease",
        "opt_out",
        "vulnerable",
        "lawyer",
        "deceased",
        "do_not_contact",
    ]
)
HOLD_P = [0.2, 0.2, 0.1, 0.2, 0.15, 0.05, 0.02, 0.08]
REASONS = ["DPD_TREND", "UTIL_HIGH", "PAY_RATIO", "NEW_CREDIT", "INCOME", "AGE_BOOK", "ENQ_6M"]

_US = "datetime64[us]"
_NAT = np.datetime64("NaT", "us")


@dataclass(frozen=True)
class BookParams:
    accounts: int
    history: int
    buckets: int
    seed: int = 20260310
    as_of: str = AS_OF.isoformat()
    borrowers_per_account: float = 0.7
    version: int = LAYOUT_VERSION

    @property
    def day(self) -> date:
        return date.fromisoformat(self.as_of)

    def key(self) -> str:
        return (
            f"book-a{self.accounts}-h{self.history}-b{self.buckets}-s{self.seed}"
            f"-{self.as_of}-v{self.version}"
        )


def ensure_book(cache: Path, params: BookParams, log: bool = True) -> tuple[Path, dict[str, int]]:
    """The export for ``params`` under ``cache`` (written once; reused while its
    ``params.json`` matches). Returns its root and its row counts per table."""
    root = cache / params.key()
    marker = root / "params.json"
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("params") == asdict(params):
            return root, saved["rows"]
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = clock.perf_counter()
    if log:
        print(
            f"Generating a synthetic day: {params.accounts:,} accounts, ~{params.history:,} "
            f"history rows, {params.buckets} buckets (seed {params.seed}) into {root} ...",
            flush=True,
        )
    rows = write_book(root, params)
    marker.write_text(json.dumps({"params": asdict(params), "rows": rows}, indent=1))
    if log:
        shown = ", ".join(f"{n} {c:,}" for n, c in rows.items())
        print(f"  {shown} in {clock.perf_counter() - started:.1f} s", flush=True)
    return root, rows


def write_book(root: Path, params: BookParams) -> dict[str, int]:
    from forbear.domain.strategy import compile_strategy, default_strategy

    compiled = compile_strategy(default_strategy())
    schemas = {
        name: pl.DataFrame(schema={**cols, kernel.PART: pl.Int32()}).to_arrow().schema
        for name, cols in kernel.TABLES.items()
    }
    writers = {
        name: pq.ParquetWriter(root / f"{name}.parquet", schemas[name], compression="zstd")
        for name in kernel.TABLES
    }
    rows = dict.fromkeys(kernel.TABLES, 0)
    cutoff = _history_cutoff(params.day)
    try:
        for b in range(params.buckets):
            frames = bucket_frames(params, b, compiled, cutoff)
            for name, cols in kernel.TABLES.items():
                # as kernel.write_parquet does: the partition column after the table's
                # (a table or column the generator does not make, e.g. the emergency
                # contacts, goes out empty or null, as kernel.DayFrames.conformed does)
                made = frames.get(name, pl.DataFrame(schema=cols))
                frame = made.select(
                    *(
                        (pl.col(c) if c in made.columns else pl.lit(None)).cast(t).alias(c)
                        for c, t in cols.items()
                    ),
                    pl.lit(b, dtype=pl.Int32).alias(kernel.PART),
                )
                writers[name].write_table(
                    frame.to_arrow().cast(schemas[name]), row_group_size=ROW_GROUP
                )
                rows[name] += frame.height
    finally:
        for w in writers.values():
            w.close()
    return rows


def _history_cutoff(as_of: date) -> datetime:
    """History is what happened before the day window opens (the kernel's contract)."""
    first, _ = kernel.day_window(list(ZONES), as_of, HOUR)
    return first


def _where(mask: np.ndarray, values: np.ndarray) -> pl.Series:
    """``values`` where ``mask`` holds, else null."""
    return pl.select(pl.when(pl.Series(mask)).then(pl.Series(values))).to_series()


def _split(total: int, parts: int, i: int) -> int:
    return total // parts + (1 if i < total % parts else 0)


def bucket_frames(
    params: BookParams, b: int, compiled: object, cutoff: datetime
) -> dict[str, pl.DataFrame]:
    """Every table's rows for bucket ``b``."""
    rng = np.random.default_rng([params.seed, b])
    B = params.buckets
    n_borrowers_all = round(params.accounts * params.borrowers_per_account)
    mb = _split(n_borrowers_all, B, b)
    nb = max(_split(params.accounts, B, b), mb)
    as_of = params.day
    midnight = np.datetime64(datetime.combine(as_of, time(0)), "us")  # UTC midnight of as_of

    # --- borrowers
    borrower = (np.arange(mb, dtype=np.int64) * B + b + B).astype(np.int64)
    zone = rng.choice(ZONES, mb, p=ZONE_P)
    n_loans = 1 + np.bincount(rng.integers(0, mb, nb - mb), minlength=mb)
    state_b = rng.choice(5, mb, p=STATE_P)

    # --- loans
    owner = np.repeat(np.arange(mb), n_loans)
    j = np.arange(nb) - np.repeat(np.cumsum(n_loans) - n_loans, n_loans)
    loan = borrower[owner] * 16 + j
    bid = borrower[owner]
    state = np.where(rng.random(nb) < 0.75, state_b[owner], rng.choice(5, nb, p=STATE_P))
    u = rng.random(nb)
    status = np.where(
        u < 0.05,
        "paid_off",
        np.where((state >= 3) & (rng.random(nb) < 0.15), "written_off", "active"),
    )
    active = status == "active"
    state = np.where(status == "paid_off", 0, state)
    dpd = np.select(
        [state == 1, state == 2, state == 3, state == 4],
        [
            rng.integers(1, 31, nb),
            rng.integers(31, 61, nb),
            rng.integers(61, 91, nb),
            np.minimum(91 + rng.geometric(1 / 200, nb), 1_400),
        ],
        0,
    )
    # very old debts: the limitation period may have run
    ancient = (state == 4) & (rng.random(nb) < 0.03)
    dpd = np.where(ancient, rng.integers(1_500, 2_200, nb), dpd)
    days_to_due = rng.integers(0, 31, nb).astype(np.float64)
    days_to_due[(status != "active") | ((state == 4) & (rng.random(nb) < 0.4))] = np.nan
    outstanding = (np.exp(rng.uniform(np.log(1e5), np.log(2e7), nb)) // 100 * 100).astype(np.int64)
    outstanding = np.where(status == "paid_off", 0, outstanding)
    overdue = np.where(
        dpd > 0,
        np.minimum(outstanding * rng.uniform(0.05, 0.3, nb) * (1 + dpd // 30), outstanding),
        0,
    ).astype(np.int64)
    band = np.minimum(np.ceil(dpd / 30), 7).astype(np.int64)
    delinquency = np.where(dpd == 0, "C", np.char.add("M", band.astype(str)))
    delinquency = np.where(band >= 7, "M7+", delinquency)
    scored = active & (rng.random(nb) < 0.95)
    tier_mean = np.array([1.2, 2.5, 3.0, 3.5, 3.8])[state]
    b_tier = np.clip(np.rint(rng.normal(tier_mean, 1.0)), 0, 4).astype(np.int64)
    ew_tier = np.where(
        state == 0,
        rng.choice(5, nb, p=[0.3, 0.3, 0.2, 0.13, 0.07]),
        np.clip(np.rint(rng.normal(tier_mean, 0.8)), 0, 4).astype(np.int64),
    )
    ew_pd = np.minimum(EW_PD[ew_tier] * rng.lognormal(0, 0.3, nb), 0.99)
    pa = np.array([8.0, 4.0, 2.5, 1.5, 1.0])[state]
    pb = np.array([2.0, 2.0, 2.5, 3.0, 4.0])[state]
    propensity = rng.beta(pa, pb)
    late = active & (dpd > 0)
    in_play = late & (dpd <= 90)
    promise = in_play & (rng.random(nb) < 0.015)
    plan = in_play & ~promise & (rng.random(nb) < 0.005)
    broken = np.where(late & (rng.random(nb) < 0.05), rng.integers(1, 3, nb), 0)
    days_in_segment = np.where(rng.random(nb) < 0.1, rng.integers(0, 21, nb), -1)
    paid_days = np.where(
        dpd > 0,
        np.where(
            rng.random(nb) < 0.04,
            rng.integers(0, np.maximum(dpd, 1)),
            dpd + rng.integers(0, 31, nb),
        ),
        np.where(status == "paid_off", rng.integers(1, 300, nb), rng.integers(1, 32, nb)),
    )
    never_paid = rng.random(nb) < 0.03
    pool = [
        json.dumps(sorted(rng.choice(REASONS, k, replace=False).tolist()))
        for k in rng.integers(2, 5, 64)
    ]
    reasons = np.array(pool)[rng.integers(0, len(pool), nb)]

    # --- flags (per loan)
    placed = active & (state >= 3) & (rng.random(nb) < 0.4)
    agency = np.where(placed, 1 + (loan % 7), -1)
    assigned = late & (rng.random(nb) < 0.003)
    assign_told = assigned & (rng.random(nb) < 0.67)
    assign_at = midnight - rng.integers(5, 60, nb).astype("timedelta64[D]")
    told_at = np.where(
        rng.random(nb) < 0.5,
        assign_at + np.timedelta64(2, "D"),
        midnight + np.timedelta64(2, "D"),  # the notice goes out the day after tomorrow
    )
    last_due = np.where(
        ancient,
        np.datetime64(as_of, "D") - rng.integers(1_300, 1_460, nb).astype("timedelta64[D]"),
        np.datetime64(as_of, "D") + rng.integers(30, 700, nb).astype("timedelta64[D]"),
    )
    demand_days = np.where(ancient, rng.integers(1_200, 1_500, nb), rng.integers(1, 30, nb))
    last_demand = np.where(
        (dpd > 0) & (rng.random(nb) < 0.8),
        midnight - demand_days.astype("timedelta64[D]"),
        _NAT,
    )
    unreachable = (state >= 2) & (rng.random(nb) < 0.01)

    # --- holds (per borrower) and what the accounts derive from them
    held = np.flatnonzero(rng.random(mb) < 0.012)
    nh = held.size
    kinds = rng.choice(HOLD_KINDS, nh, p=HOLD_P)
    h_loan = np.where(
        rng.random(nh) < 0.5, borrower[held] * 16 + rng.integers(0, n_loans[held]), -1
    )
    h_channel = _where((kinds == "opt_out") & (rng.random(nh) < 0.6), np.full(nh, "sms"))
    third_cp = (kinds == "cease") & (rng.random(nh) < 0.3)  # one contact person's refusal
    h_cp = np.where(third_cp, borrower[held] * 4 + 3, -1)
    since = midnight - rng.integers(86_400, 365 * 86_400, nh).astype("timedelta64[s]")
    closed = rng.random(nh) < 0.25
    until = np.where(
        closed,
        since + ((midnight - since) * rng.uniform(0.1, 0.9, nh)).astype("timedelta64[s]"),
        _NAT,
    )
    holds = pl.DataFrame(
        {
            "borrower_id": borrower[held],
            "loan_id": h_loan,
            "kind": kinds,
            "channel": h_channel,
            "contact_point_id": h_cp,
            "since": since.astype(_US),
            "until": until.astype(_US),
        }
    ).with_columns(
        pl.when(pl.col("loan_id") >= 0).then(pl.col("loan_id")).alias("loan_id"),
        pl.when(pl.col("contact_point_id") >= 0).then(pl.col("contact_point_id")),
        pl.col("since").dt.replace_time_zone("UTC"),
        pl.col("until").dt.replace_time_zone("UTC"),
    )
    end = pl.lit(datetime.combine(as_of, time(23, 59, 59), UTC))
    open_h = holds.filter(
        (pl.col("since") <= end) & (pl.col("until").is_null() | (pl.col("until") > end))
    )
    stopping = open_h.filter(
        (pl.col("kind") != "vulnerable")
        & pl.col("contact_point_id").is_null()
        & ~((pl.col("kind") == "opt_out") & pl.col("channel").is_not_null())
    )
    vulnerable = open_h.filter(pl.col("kind") == "vulnerable")
    keys = pl.DataFrame({"loan_id": loan, "borrower_id": bid})

    def covered(h: pl.DataFrame) -> np.ndarray:
        by_loan = h.filter(pl.col("loan_id").is_not_null()).select("loan_id")
        by_borrower = h.filter(pl.col("loan_id").is_null()).select("borrower_id")
        hit = keys.select(
            pl.col("loan_id").is_in(by_loan["loan_id"].implode())
            | pl.col("borrower_id").is_in(by_borrower["borrower_id"].implode())
        )
        return hit.to_series().to_numpy()

    hold_any = covered(stopping)
    hardship = covered(vulnerable) | (late & (rng.random(nb) < 0.005))

    flags = pl.DataFrame(
        {
            "loan_id": loan,
            "borrower_id": bid,
            "agency_id": agency,
            "agency_notified_at": np.where(
                placed & (rng.random(nb) < 0.95), midnight - np.timedelta64(20, "D"), _NAT
            ).astype(_US),
            "assigned_at": np.where(assigned, assign_at, _NAT).astype(_US),
            "assignment_notified_at": np.where(assign_told, told_at, _NAT).astype(_US),
            "last_due_date": last_due.astype("datetime64[D]"),
            "last_demand_at": last_demand.astype(_US),
            "debtor_unreachable_since": np.where(
                unreachable, midnight - np.timedelta64(5, "D"), _NAT
            ).astype(_US),
        }
    ).with_columns(
        pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")).alias("agency_id"),
        *(
            pl.col(c).dt.replace_time_zone("UTC")
            for c in (
                "agency_notified_at",
                "assigned_at",
                "assignment_notified_at",
                "last_demand_at",
                "debtor_unreachable_since",
            )
        ),
    )
    years = 3  # the CN pack's limitation period
    limitation = flags.select(
        (
            pl.max_horizontal(
                pl.col("last_due_date"), pl.col("last_demand_at").dt.date()
            ).dt.offset_by(f"{years}y")
            < pl.lit(as_of)
        ).fill_null(False)
    ).to_series()

    accounts = pl.DataFrame(
        {
            "loan_id": loan,
            "borrower_id": bid,
            "dpd": dpd,
            "bucket": delinquency,
            "days_to_due": days_to_due,
            "outstanding": outstanding,
            "overdue_total": overdue,
            "status": status,
            "behaviour_tier": _where(scored, TIERS[b_tier]),
            "ew_tier": _where(scored, TIERS[ew_tier]),
            "ew_pd": np.where(scored, ew_pd, np.nan),
            "propensity": np.where(scored, propensity, np.nan),
            "hold_any": hold_any,
            "active_plan": plan,
            "active_promise": promise,
            "broken_promises_90d": broken,
            "limitation_expired": limitation,
            "hardship": hardship,
            "days_in_segment": days_in_segment,
            "last_payment_date": np.where(
                never_paid,
                np.datetime64("NaT", "D"),
                np.datetime64(as_of, "D") - paid_days.astype("timedelta64[D]"),
            ),
            "reason_codes": _where(scored, reasons),
        }
    ).with_columns(
        pl.lit(as_of).alias("as_of"),
        pl.col("days_to_due").fill_nan(None).cast(pl.Int32),
        pl.col("ew_pd").fill_nan(None),
        pl.col("propensity").fill_nan(None),
        pl.when(pl.col("days_in_segment") >= 0).then(pl.col("days_in_segment")).cast(pl.Int32),
    )

    # --- contact points and zones (per borrower)
    phone = rng.random(mb) < 0.996
    email = rng.random(mb) < 0.45
    address = rng.random(mb) < 0.97
    kinds_pt = np.concatenate(
        [
            np.full(phone.sum(), "phone"),
            np.full(email.sum(), "email"),
            np.full(address.sum(), "address"),
        ]
    )
    who_pt = np.concatenate([borrower[phone], borrower[email], borrower[address]])
    kind_ix = np.concatenate(
        [np.zeros(phone.sum(), np.int64), np.ones(email.sum(), np.int64), np.full(address.sum(), 2)]
    )
    points = pl.DataFrame(
        {
            "borrower_id": who_pt,
            "kind": kinds_pt,
            "contact_point_id": who_pt * 4 + kind_ix,
            "provenance": rng.choice(PROVENANCE, who_pt.size, p=PROVENANCE_P),
        }
    ).sort("borrower_id", "kind")
    zones = pl.DataFrame({"borrower_id": borrower, "timezone": zone})

    # --- history: the 30 days before the run (08:00-21:00 Shanghai), plus this morning
    lam = STATE_CONTACTS[state_b]
    expected = STATE_CONTACTS @ STATE_P * n_borrowers_all
    per = rng.poisson(lam * params.history / expected)
    hn = int(per.sum())
    hb = np.repeat(np.arange(mb), per)
    late_b = state_b[hb] > 0
    channel = np.where(
        late_b,
        rng.choice(
            ["call", "ai_call", "sms", "app_push", "letter", "email"],
            hn,
            p=[0.3, 0.3, 0.3, 0.07, 0.01, 0.02],
        ),
        rng.choice(["app_push", "sms", "email"], hn, p=[0.5, 0.45, 0.05]),
    )
    party = np.where(
        late_b,
        rng.choice(["debtor", "emergency_contact", "guarantor"], hn, p=[0.9, 0.07, 0.03]),
        "debtor",
    )
    voice = (channel == "call") | (channel == "ai_call")
    outcome = np.where(
        voice,
        rng.choice(
            ["connected", "no_answer", "busy", "invalid_number", "refused", "blocked"],
            hn,
            p=[0.3, 0.45, 0.15, 0.03, 0.01, 0.06],
        ),
        rng.choice(["delivered", "failed", "blocked"], hn, p=[0.93, 0.04, 0.03]),
    )
    cp = np.select(
        [party != "debtor", channel == "email", channel == "letter", channel == "app_push"],
        [borrower[hb] * 4 + 3, borrower[hb] * 4 + 1, borrower[hb] * 4 + 2, -1],
        borrower[hb] * 4,
    )
    at = (
        midnight
        - rng.integers(1, 31, hn).astype("timedelta64[D]")
        + rng.integers(0, 13 * 3600, hn).astype("timedelta64[s]")
    )
    first_loan = borrower[hb] * 16 + rng.integers(0, n_loans[hb])
    h_agency = np.where(late_b & (state_b[hb] >= 3) & (rng.random(hn) < 0.5), 1 + hb % 7, -1)
    # this morning, before the window opens: heavy dialling of a few delinquent debtors
    morning_s = int(
        (np.datetime64(cutoff.replace(tzinfo=None), "us") - midnight) / np.timedelta64(1, "s")
    )
    late_borrowers = np.flatnonzero(state_b > 0)
    dialled = late_borrowers[rng.random(late_borrowers.size) < 0.01]
    talked = late_borrowers[rng.random(late_borrowers.size) < 0.005]
    m_who = np.concatenate([np.repeat(dialled, 6), np.repeat(talked, 3)])
    m_out = np.concatenate(
        [
            rng.choice(["no_answer", "busy"], dialled.size * 6),
            np.full(talked.size * 3, "connected"),
        ]
    )
    mn = m_who.size
    history = (
        pl.DataFrame(
            {
                "borrower_id": np.concatenate([borrower[hb], borrower[m_who]]),
                "loan_id": np.concatenate([first_loan, borrower[m_who] * 16]),
                "contact_point_id": np.concatenate([cp, borrower[m_who] * 4]),
                "channel": np.concatenate([channel, rng.choice(["call", "ai_call"], mn)]),
                "party": np.concatenate([party, np.full(mn, "debtor")]),
                "at": np.concatenate(
                    [at, midnight + rng.integers(0, max(morning_s, 1), mn).astype("timedelta64[s]")]
                ).astype(_US),
                "outcome": np.concatenate([outcome, m_out]),
                "agency_id": np.concatenate([h_agency, np.full(mn, -1)]),
            }
        )
        .with_columns(
            pl.when(pl.col("contact_point_id") >= 0).then(pl.col("contact_point_id")),
            pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")),
            pl.col("at").dt.replace_time_zone("UTC"),
        )
        .sort("at")
    )

    # --- carried: yesterday's allowed, unscheduled agent work (and a few letters)
    assigned_acc = compiled.assign(accounts.lazy()).collect()  # type: ignore[attr-defined]
    candidates = (
        assigned_acc.filter((pl.col("dpd") > 0) & (pl.col("status") == "active"))
        .join(compiled._actions.filter(pl.col("channel").is_in(["call", "letter"])), on="treatment")  # type: ignore[attr-defined]
        .filter(pl.col("on_dpd").is_null() | (pl.col("on_dpd") < pl.col("dpd")))
    )
    one = (
        candidates.with_columns(_u=pl.Series(rng.random(candidates.height)))
        .sort("_u")
        .unique("loan_id", keep="first", maintain_order=True)
        .sort("loan_id", "action_index")
    )
    carried = (
        one.filter(pl.Series(rng.random(one.height) < 0.12))  # 12% of the late accounts
        .select(
            "loan_id",
            "borrower_id",
            "segment",
            "arm",
            "treatment",
            "action_index",
            "channel",
            "template",
            "purpose",
            pl.col("purpose")
            .is_in(["remind", "follow_up", "offer_plan", "demand", "legal"])
            .alias("is_demand"),
            (pl.col("dpd").clip(0, 999)).alias("priority"),
        )
        .sort("loan_id", "action_index")
    )
    return {
        "accounts": accounts,
        "carried": carried,
        "points": points,
        "zones": zones,
        "history": history,
        "flags": flags,
        "holds": holds,
    }


def _main() -> None:  # a quick look: python benchmarks/_daily_book.py
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        root, rows = ensure_book(Path(tmp), BookParams(n, 3 * n, 4))
        print(rows)
        for name in kernel.TABLES:
            print(name, pl.read_parquet(root / f"{name}.parquet").head(3))


if __name__ == "__main__":
    _main()
