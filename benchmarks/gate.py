"""Benchmark: the compliance gate, batch and online.

Run from the repository root::

    .venv/bin/python benchmarks/gate.py                  # 1M planned contacts, 30M history rows
    .venv/bin/python benchmarks/gate.py --plan 200000 --history 5000000
    .venv/bin/python benchmarks/gate.py --smoke          # seconds, used by the tests
    .venv/bin/python benchmarks/gate.py --baseline-plan 50000  # a larger baseline sample
    .venv/bin/python benchmarks/gate.py --json out.json  # also write the figures

Two measurements, the batch one against a named baseline run in the same invocation:

- **batch**: a day's plan of contacts against a month of contact history, both synthetic
  (numpy, seeded; realistic mix of channels, parties, outcomes, agencies, holds), through
  ``forbear.domain.compliance.gate.gate`` collected in one go. In a child process, so the
  peak memory (VmHWM) is the gate's: seconds, planned rows per second, peak and input MB.
- **baseline "python per-contact loop"**: the same CN rules written as an in-house team
  would, in plain Python over rows (history grouped by borrower into a dict of lists as
  part of the timed work, the plan walked in plan order, earlier planned dials counted
  against the caps), on the first ``--baseline-plan`` planned contacts (default 20,000)
  with their debtors' whole history, in its own child process. Printed: its seconds, rows
  per second and peak MB, the throughput ratio gate / loop, and whether the two decide the
  sample identically (``allowed`` and ``blocked_by`` per contact).
- **online**: ``forbear.services.contacts.request_contact`` end to end (validate, build
  the one-row plan from the database, read this borrower's history/flags/holds, run the
  same gate, store the attempt and its audit event, commit) for one borrower with a
  realistic history (a month of calls and messages), on a database that also holds other
  borrowers' history; p50 / p99 latency on SQLite (a temp file) and on PostgreSQL (a
  temporary database at ``FORBEAR_TEST_PG_URL`` or the default test URL; skipped with a
  note when unreachable).

Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _measure import memory

SEED = 20261201
DAY = datetime(2026, 3, 10, tzinfo=UTC)  # the plan's day (UTC midnight = 08:00 Shanghai)
CHANNELS = np.array(["call", "ai_call", "sms", "im", "email", "app_push", "letter", "visit"])
CHANNEL_P = np.array([0.35, 0.25, 0.25, 0.05, 0.03, 0.04, 0.02, 0.01])
PARTIES = np.array(
    ["debtor", "guarantor", "debt_related", "emergency_contact", "other_third_party"]
)
PARTY_P = np.array([0.88, 0.03, 0.01, 0.07, 0.01])
OUTCOMES = np.array(["connected", "no_answer", "busy", "invalid_number", "refused", "delivered"])
OUTCOME_P = np.array([0.30, 0.40, 0.10, 0.03, 0.02, 0.15])
PROVENANCE = np.array(["contract", "supplied_by_debtor", "debtor_authorisation"])
ZONES = np.array(["Asia/Shanghai", "Asia/Urumqi"])
PG_URL = os.environ.get("FORBEAR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _us(moments: np.ndarray) -> pl.Series:
    return pl.Series(moments.astype("datetime64[us]")).dt.replace_time_zone("UTC")


# --------------------------------------------------------------------- synthetic frames


def _placed(ids: np.ndarray) -> np.ndarray:
    """About a fifth of the accounts are placed with an agency (``id % 7 + 1``)."""
    return (ids * 2654435761) % 100 < 20


def synthetic_frames(
    plan_rows: int, history_rows: int, seed: int = SEED
) -> dict[str, pl.DataFrame]:
    """PLANNED, HISTORY, FLAGS, HOLDS for a book of ``plan_rows * 2`` debtors (one loan
    each; about half are planned today), a month of history before ``DAY``."""
    from forbear.domain.compliance import schema as contracts

    rng = np.random.default_rng(seed)
    debtors = max(plan_rows * 2, 10)
    day0 = np.datetime64(DAY.replace(tzinfo=None), "us")
    # Plan: debtors chosen with repetition (some get two or three contacts today), times
    # spread over the debtor's local day 07:00-23:00 (some land in quiet hours).
    b = rng.integers(0, debtors, plan_rows)
    minutes = rng.integers(-60, 15 * 60, plan_rows)  # from 08:00 Shanghai = 00:00 UTC
    planned = pl.DataFrame(
        {
            "contact_id": np.arange(plan_rows, dtype=np.int64),
            "loan_id": b.astype(np.int64),
            "borrower_id": b.astype(np.int64),
            "contact_point_id": (b * 3 + rng.integers(0, 3, plan_rows)).astype(np.int64),
            "channel": rng.choice(CHANNELS, plan_rows, p=CHANNEL_P),
            "party": rng.choice(PARTIES, plan_rows, p=PARTY_P),
            "provenance": rng.choice(PROVENANCE, plan_rows),
            "at": _us(day0 + minutes.astype("timedelta64[m]")),
            "timezone": rng.choice(ZONES, plan_rows, p=[0.97, 0.03]),
            # Agencies work the accounts placed with them (a few strays test the scope rule).
            "agency_id": np.where(_placed(b) & (rng.random(plan_rows) < 0.9), b % 7 + 1, -1).astype(
                np.int64
            ),
            "discloses_debt": rng.random(plan_rows) < 0.5,
            "is_demand": rng.random(plan_rows) < 0.8,
        }
    ).with_columns(pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")).alias("agency_id"))
    # History: a month before the day; skewed so that a few debtors get many contacts.
    hb = (debtors * rng.power(0.6, history_rows)).astype(np.int64) % debtors
    seconds = rng.integers(-31 * 86_400, 0, history_rows)
    history = pl.DataFrame(
        {
            "borrower_id": hb,
            "loan_id": hb,
            "contact_point_id": hb * 3 + rng.integers(0, 3, history_rows),
            "channel": rng.choice(CHANNELS[:4], history_rows, p=[0.4, 0.3, 0.25, 0.05]),
            "party": rng.choice(PARTIES, history_rows, p=PARTY_P),
            "at": _us(day0 + seconds.astype("timedelta64[s]")),
            "outcome": rng.choice(OUTCOMES, history_rows, p=OUTCOME_P),
            "agency_id": np.where(rng.random(history_rows) < 0.2, hb % 7 + 1, -1),
        }
    ).with_columns(pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")).alias("agency_id"))
    ids = np.arange(debtors, dtype=np.int64)
    placed = _placed(ids)
    agency = np.where(placed, ids % 7 + 1, -1)
    notified = placed & (rng.random(debtors) < 0.95)
    no_time = np.datetime64("NaT", "us")
    flags = pl.DataFrame(
        {
            "loan_id": ids,
            "borrower_id": ids,
            "agency_id": agency,
            "agency_notified_at": np.where(notified, day0 - np.timedelta64(20, "D"), no_time),
            "assigned_at": np.where(
                rng.random(debtors) < 0.01, day0 - np.timedelta64(40, "D"), no_time
            ),
            "assignment_notified_at": np.full(debtors, no_time),
            "last_due_date": (
                np.datetime64("2026-02-15") + rng.integers(-400, 200, debtors)
            ).astype("datetime64[D]"),
            "last_demand_at": np.where(
                rng.random(debtors) < 0.5, day0 - np.timedelta64(9, "D"), no_time
            ),
            "debtor_unreachable_since": np.where(
                rng.random(debtors) < 0.05, day0 - np.timedelta64(5, "D"), no_time
            ),
        }
    ).with_columns(
        pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")).alias("agency_id"),
        *(
            pl.col(name).dt.replace_time_zone("UTC")
            for name in (
                "agency_notified_at",
                "assigned_at",
                "assignment_notified_at",
                "last_demand_at",
                "debtor_unreachable_since",
            )
        ),
    )
    held = rng.choice(debtors, max(debtors // 100, 1), replace=False).astype(np.int64)
    kinds = rng.choice(["dispute", "complaint", "opt_out", "vulnerable", "cease"], held.size)
    holds = pl.DataFrame(
        {
            "borrower_id": held,
            "loan_id": held,
            "kind": kinds,
            "channel": ["sms" if k == "opt_out" else None for k in kinds],
            "contact_point_id": pl.Series([None] * held.size, dtype=pl.Int64),
            "since": _us(np.full(held.size, day0 - np.timedelta64(3, "D"))),
            "until": _us(np.full(held.size, no_time)),
        }
    )
    return {
        "planned": planned.select(pl.col(n).cast(t) for n, t in contracts.PLANNED.items()),
        "history": history.select(pl.col(n).cast(t) for n, t in contracts.HISTORY.items()),
        "flags": flags.select(pl.col(n).cast(t) for n, t in contracts.FLAGS.items()),
        "holds": holds.select(pl.col(n).cast(t) for n, t in contracts.HOLDS.items()),
    }


# ------------------------------------------------------------------------------- batch


def batch_child(
    plan_rows: int, history_rows: int, out: Path, baseline_plan: int, sample_dir: Path
) -> None:
    from forbear.domain.compliance.config import default_rules
    from forbear.domain.compliance.gate import gate

    frames = synthetic_frames(plan_rows, history_rows)
    rules = default_rules()
    before = memory()
    start = time.perf_counter()
    cpu0 = time.process_time()
    decided = gate(
        frames["planned"].lazy(),
        frames["history"].lazy(),
        frames["flags"].lazy(),
        frames["holds"].lazy(),
        rules,
    ).collect()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    after = memory()
    blocked = decided.filter(~pl.col("allowed"))
    top = (
        blocked.select(pl.col("blocked_by").explode())
        .group_by("blocked_by")
        .len()
        .sort("len", descending=True)
        .head(6)
    )
    figures = {
        "plan_rows": plan_rows,
        "history_rows": history_rows,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows_per_second": plan_rows / seconds if seconds else None,
        "inputs_mb": before["rss_mb"],
        "peak_mb": after["peak_mb"],
        "blocked_share": blocked.height / max(decided.height, 1),
        "top_rules": {str(r): int(n) for r, n in top.iter_rows()},
        "decided_rows": decided.height,
    }
    # After the measurement: the baseline's sample (the first ``baseline_plan`` contacts in
    # plan order, so every earlier planned contact of a sampled debtor is in it, with these
    # debtors' whole history, flags and holds) and the gate's decisions on it.
    sample = frames["planned"].filter(pl.col("contact_id") < baseline_plan)
    who = sample.select("borrower_id").unique()
    loans = sample.select("loan_id").unique()
    sample.write_parquet(sample_dir / "planned.parquet")
    frames["history"].join(who, on="borrower_id", how="semi").write_parquet(
        sample_dir / "history.parquet"
    )
    frames["flags"].join(loans, on="loan_id", how="semi").write_parquet(
        sample_dir / "flags.parquet"
    )
    frames["holds"].join(who, on="borrower_id", how="semi").write_parquet(
        sample_dir / "holds.parquet"
    )
    decided.filter(pl.col("contact_id") < baseline_plan).select(
        "contact_id", "allowed", "blocked_by"
    ).write_parquet(sample_dir / "gate_decisions.parquet")
    out.write_text(json.dumps(figures))


def run_batch(
    plan_rows: int, history_rows: int, baseline_plan: int, sample_dir: Path
) -> dict[str, Any]:
    out = sample_dir / "batch.json"
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-batch",
            str(out),
            "--plan",
            str(plan_rows),
            "--history",
            str(history_rows),
            "--baseline-plan",
            str(baseline_plan),
            "--sample-dir",
            str(sample_dir),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"batch child failed:\n{proc.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


# ------------------------------------------------------------------- baseline: per-contact loop
#
# The named baseline for the batch: "python per-contact loop", the way an in-house team
# would write the gate without a dataframe engine. Rows come in as Python dicts (as a
# driver would return them); the timed work groups the history by borrower into a dict of
# lists, then walks the plan in plan order and checks each contact's rules with plain
# Python, counting the earlier planned dials of the same debtor/day against the caps.
# The rules' parameters are read from the same compiled rules as the gate's.
#
# The property test's oracle (tests/unit/compliance/test_gate_property.py) is not reused:
# it maps borrower ids 1 and 2 to fixed zones (this plan carries a zone per row), scans the
# whole history per contact and needs the test factories and hypothesis on the path.


def baseline_decide(
    plan: list[dict[str, Any]],
    history: list[dict[str, Any]],
    flags: list[dict[str, Any]],
    holds: list[dict[str, Any]],
    rules: Any,
) -> list[tuple[int, bool, list[str]]]:
    """(contact_id, allowed, blocked_by) per planned contact, in plan order."""
    from zoneinfo import ZoneInfo

    zones: dict[str, ZoneInfo] = {}

    def zone(name: str | None) -> ZoneInfo:
        name = name or rules.timezone_default
        if name not in zones:
            zones[name] = ZoneInfo(name)
        return zones[name]

    def plus_years(d: date, n: int) -> date:
        try:
            return d.replace(year=d.year + n)
        except ValueError:  # 29 February
            return d.replace(year=d.year + n, day=28)

    by_borrower: dict[int, list[dict[str, Any]]] = {}
    for h in history:
        if h["outcome"] != "blocked":
            by_borrower.setdefault(h["borrower_id"], []).append(h)
    flag_of: dict[int, dict[str, Any]] = {}
    for f in flags:
        flag_of.setdefault(f["loan_id"], f)
    holds_of: dict[int, list[dict[str, Any]]] = {}
    for hd in holds:
        holds_of.setdefault(hd["borrower_id"], []).append(hd)

    def one(kind: str) -> Any:
        found = rules.active(kind)
        return found[0] if found else None

    quiet = one("quiet_hours")
    unanswered = one("cap_unanswered_per_number_per_day")
    connected = one("cap_connected_per_debtor_per_day")
    hold_rule = one("hold")
    source = one("contact_source")
    third = {r.params["check"]: r for r in rules.active("third_party_gate")}
    limitation = one("limitation")
    notify, scope_rule, assign = (
        one("agency_notify"),
        one("agency_scope"),
        one("assignment_notice"),
    )
    voice = {"call", "ai_call"}
    failed = {"no_answer", "busy", "invalid_number"}

    debtor_zone: dict[int, Any] = {}  # the debtor's zone: that of its first planned contact
    planned_unanswered: dict[tuple[int, int, date], int] = {}
    planned_connected: dict[tuple[int, date], int] = {}
    out: list[tuple[int, bool, list[str]]] = []
    for c in sorted(plan, key=lambda c: c["contact_id"]):
        b, cp, ch, party, at = (
            c["borrower_id"],
            c["contact_point_id"],
            c["channel"],
            c["party"],
            c["at"],
        )
        tz = zone(c["timezone"])
        local_at = at.astimezone(tz)
        day = local_at.date()
        dz = debtor_zone.setdefault(b, tz)
        hist = by_borrower.get(b, [])
        f = flag_of.get(c["loan_id"], {})
        demand = True if c["is_demand"] is None else c["is_demand"]
        disclose = True if c["discloses_debt"] is None else c["discloses_debt"]
        blocked: set[str] = set()

        if quiet is not None and ch in quiet.params["channels"]:
            minute = local_at.hour * 60 + local_at.minute + local_at.second / 60
            if not any(w.start <= minute < w.end for w in quiet.params["windows"]):
                blocked.add(quiet.id)

        open_holds = [
            hd
            for hd in holds_of.get(b, [])
            if hd["loan_id"] in (None, c["loan_id"])
            and (hd["since"] is None or hd["since"] <= at)
            and (hd["until"] is None or hd["until"] > at)
        ]
        if hold_rule is not None:
            for hd in open_holds:
                if hd["contact_point_id"] not in (None, cp):
                    continue
                if hd["kind"] == "complaint" and not rules.complaint_hold:
                    continue
                scope = hold_rule.params["blocks"].get(hd["kind"])
                if (
                    scope == "all"
                    or (scope == "medium" and hd["channel"] in (None, ch))
                    or (scope == "debtor" and party == "debtor")
                    or (isinstance(scope, frozenset | set) and ch in scope)
                ):
                    blocked.add(hold_rule.id)

        if source is not None and cp is not None and c["provenance"] not in source.params["lawful"]:
            blocked.add(source.id)

        agency = c["agency_id"]
        if notify is not None and agency is not None:
            notified = f.get("agency_notified_at")
            if notified is None or notified > at:
                blocked.add(notify.id)
        if scope_rule is not None and agency is not None and f.get("agency_id") != agency:
            blocked.add(scope_rule.id)
        if assign is not None:
            assigned, told = f.get("assigned_at"), f.get("assignment_notified_at")
            if assigned is not None and assigned <= at and (told is None or told > at):
                blocked.add(assign.id)
        if limitation is not None and demand:
            starts: list[date] = []
            if f.get("last_due_date") is not None:
                starts.append(f["last_due_date"])
            if f.get("last_demand_at") is not None:
                starts.append(f["last_demand_at"].date())
            if starts and day > plus_years(max(starts), limitation.params["years"]):
                blocked.add(limitation.id)

        r = third.get("no_demand")
        if r is not None and party in r.params["parties"] and demand:
            blocked.add(r.id)
        r = third.get("no_disclose")
        if r is not None and party in r.params["parties"] and disclose:
            blocked.add(r.id)
        r = third.get("refusal")
        if r is not None:
            refused = party in r.params["parties"] and any(
                h["contact_point_id"] == cp and h["outcome"] == "refused" for h in hist
            )
            cp_hold = any(
                hd["contact_point_id"] is not None and hd["contact_point_id"] == cp
                for hd in open_holds
            )
            if refused or cp_hold:
                blocked.add(r.id)
        r = third.get("lost_contact")
        if r is not None and party in r.params["parties"]:
            since = f.get("debtor_unreachable_since")
            dials = sorted(
                (
                    h
                    for h in hist
                    if h["party"] == "debtor" and h["channel"] in voice and h["at"] < at
                ),
                key=lambda h: h["at"],
                reverse=True,
            )
            n = r.params["consecutive_failures"]
            unreachable = (
                (since is not None and since <= at)
                or any(hd["kind"] == "deceased" for hd in open_holds)
                or (bool(dials) and dials[0]["outcome"] == "invalid_number")
                or (
                    len(dials) >= n
                    and all(d["outcome"] in failed for d in dials[:n])
                    and dials[0]["at"].astimezone(tz).date() < day
                )
            )
            if not unreachable:
                blocked.add(r.id)

        # frequency caps: history of this debtor on this local day, plus the earlier planned
        # dials that no other rule blocks (a planned dial may go unanswered or connect)
        eligible = not blocked
        if unanswered is not None and ch in unanswered.params["channels"] and cp is not None:
            key = (b, cp, day)
            n = planned_unanswered.get(key, 0) + sum(
                1
                for h in hist
                if h["contact_point_id"] == cp
                and h["channel"] in unanswered.params["channels"]
                and h["outcome"] in ("no_answer", "busy")
                and h["at"].astimezone(dz).date() == day
            )
            if n >= unanswered.params["max_attempts"]:
                blocked.add(unanswered.id)
            if eligible:
                planned_unanswered[key] = planned_unanswered.get(key, 0) + 1
        if connected is not None and ch in connected.params["channels"]:
            key2 = (b, day)
            n = planned_connected.get(key2, 0) + sum(
                1
                for h in hist
                if h["channel"] in connected.params["channels"]
                and h["outcome"] == "connected"
                and h["at"].astimezone(dz).date() == day
            )
            if n >= connected.params["max_connected"]:
                blocked.add(connected.id)
            if eligible:
                planned_connected[key2] = planned_connected.get(key2, 0) + 1

        out.append((c["contact_id"], not blocked, sorted(blocked)))
    return out


def baseline_child(sample_dir: Path, out: Path) -> None:
    from forbear.domain.compliance.config import default_rules

    rules = default_rules()
    # Inputs as Python rows, the way a driver would hand them over (not timed).
    plan = pl.read_parquet(sample_dir / "planned.parquet").to_dicts()
    history = pl.read_parquet(sample_dir / "history.parquet").to_dicts()
    flags = pl.read_parquet(sample_dir / "flags.parquet").to_dicts()
    holds = pl.read_parquet(sample_dir / "holds.parquet").to_dicts()
    before = memory()
    start = time.perf_counter()
    cpu0 = time.process_time()
    decided = baseline_decide(plan, history, flags, holds, rules)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    after = memory()
    pl.DataFrame(
        {
            "contact_id": [d[0] for d in decided],
            "allowed": [d[1] for d in decided],
            "blocked_by": [d[2] for d in decided],
        },
        schema={"contact_id": pl.Int64, "allowed": pl.Boolean, "blocked_by": pl.List(pl.String)},
    ).write_parquet(sample_dir / "baseline_decisions.parquet")
    figures = {
        "plan_rows": len(plan),
        "history_rows": len(history),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows_per_second": len(plan) / seconds if seconds else None,
        "inputs_mb": before["rss_mb"],
        "peak_mb": after["peak_mb"],
        "blocked_share": sum(not d[1] for d in decided) / max(len(decided), 1),
    }
    out.write_text(json.dumps(figures))


def run_baseline(sample_dir: Path) -> dict[str, Any]:
    out = sample_dir / "baseline.json"
    proc = subprocess.run(
        [sys.executable, __file__, "--child-baseline", str(out), "--sample-dir", str(sample_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"baseline child failed:\n{proc.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def compare_decisions(sample_dir: Path, examples: int = 5) -> dict[str, Any]:
    """The gate's and the baseline's ``allowed`` / ``blocked_by`` on the sample."""
    g = pl.read_parquet(sample_dir / "gate_decisions.parquet")
    b = pl.read_parquet(sample_dir / "baseline_decisions.parquet")
    j = g.join(b, on="contact_id", how="full", suffix="_baseline", coalesce=True)
    bad = j.filter(
        pl.col("allowed").is_null()
        | pl.col("allowed_baseline").is_null()
        | (pl.col("allowed") != pl.col("allowed_baseline"))
        | (pl.col("blocked_by").list.join(",") != pl.col("blocked_by_baseline").list.join(","))
    ).sort("contact_id")
    return {
        "sample_rows": g.height,
        "baseline_rows": b.height,
        "identical": bad.height == 0 and g.height == b.height,
        "mismatches": bad.height,
        "examples": [
            {k: (str(v) if not isinstance(v, int | bool | None) else v) for k, v in r.items()}
            for r in bad.head(examples).to_dicts()
        ],
    }


# ------------------------------------------------------------------------------ online


def _book(conn: Any, borrowers: int, history_per_borrower: int, target_history: int) -> int:
    """A small book written in bulk: ``borrowers`` debtors with one loan, a phone each,
    a month of history for every one, ``target_history`` rows for the measured one.
    Returns the measured loan's id."""
    from forbear.domain.products import ProductTerms
    from forbear.services.imports import import_products
    from forbear.store import bulk

    import_products(
        conn,
        [
            ProductTerms.model_validate(
                {
                    "code": "CASH",
                    "name_zh": "现金贷",
                    "name_en": "Cash loan",
                    "method": "equal_instalment",
                    "annual_rate_bp": 1800,
                    "penalty_rate_bp": 2700,
                    "grace_days": 3,
                    "terms_months": (12,),
                }
            )
        ],
        "bench",
        effective_from=date(2026, 1, 1),
    )
    product_id = conn.exec_driver_sql("SELECT id FROM products").scalar_one()
    rng = np.random.default_rng(SEED)
    ids = np.arange(1, borrowers + 1, dtype=np.int64)
    blob = b"\x00" * 40  # stands in for ciphertext: the gate never reads personal data
    bulk.write_frame(
        conn,
        "borrowers",
        pl.DataFrame(
            {
                "id": ids,
                "external_ref": [f"C{i:07}" for i in ids],
                "name_enc": [blob] * borrowers,
                "national_id_enc": [blob] * borrowers,
                "national_id_bidx": [f"n{i}" for i in ids],
                "mobile_enc": [blob] * borrowers,
                "mobile_bidx": [f"m{i}" for i in ids],
                "timezone": ["Asia/Shanghai"] * borrowers,
            }
        ),
    )
    bulk.write_frame(
        conn,
        "contact_points",
        pl.DataFrame(
            {
                "id": ids,
                "borrower_id": ids,
                "kind": ["phone"] * borrowers,
                "value_enc": [blob] * borrowers,
                "value_bidx": [f"p{i}" for i in ids],
                "owner_type": ["debtor"] * borrowers,
                "provenance": ["contract"] * borrowers,
                "is_primary": [True] * borrowers,
            }
        ),
    )
    start = datetime(2025, 6, 15).date()
    bulk.write_frame(
        conn,
        "loans",
        pl.DataFrame(
            {
                "id": ids,
                "external_ref": [f"L{i:07}" for i in ids],
                "borrower_id": ids,
                "product_id": [product_id] * borrowers,
                "principal": [1_200_000] * borrowers,
                "term_months": [12] * borrowers,
                "annual_rate_bp": [1800] * borrowers,
                "start_date": [start] * borrowers,
                "first_due_date": [datetime(2025, 7, 15).date()] * borrowers,
            }
        ),
    )
    bulk.write_frame(
        conn,
        "instalments",
        pl.DataFrame(
            {
                "loan_id": ids,
                "seq": [12] * borrowers,
                "due_date": [datetime(2026, 6, 15).date()] * borrowers,
                "principal": [100_000] * borrowers,
                "interest": [1_500] * borrowers,
                "fee": [0] * borrowers,
            }
        ),
    )
    target = 1
    counts = np.full(borrowers, history_per_borrower)
    counts[0] = target_history
    who = np.repeat(ids, counts)
    n = who.size
    day0 = np.datetime64(DAY.replace(tzinfo=None), "us")
    # Past contacts at 09:00-20:00 Shanghai on the previous 30 days.
    days = rng.integers(1, 31, n)
    minutes = rng.integers(60, 12 * 60, n)
    at = day0 - days.astype("timedelta64[D]") + minutes.astype("timedelta64[m]")
    bulk.write_frame(
        conn,
        "contact_attempts",
        pl.DataFrame(
            {
                "loan_id": who,
                "borrower_id": who,
                "contact_point_id": who,
                "channel": rng.choice(["call", "ai_call", "sms"], n),
                "party": ["debtor"] * n,
                "actor": ["bench"] * n,
                "at": _us(at),
                "allowed": [True] * n,
                "blocked_by": ["[]"] * n,
                "outcome": rng.choice(OUTCOMES[:3], n),
            }
        ),
    )
    return target


def _online(
    url: str, *, borrowers: int, per_borrower: int, target_history: int, requests: int
) -> dict[str, Any]:
    from forbear.domain.compliance.config import default_rules
    from forbear.services.contacts import request_contact
    from forbear.store import migrate
    from forbear.store.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        loan_id = _book(conn, borrowers, per_borrower, target_history)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    rules = default_rules()
    latencies = []
    allowed = 0
    # Requests through the day at 08:05-20:55 Shanghai, so most are allowed; each is its own
    # transaction and commit, as a web request would be.
    for i in range(requests):
        at = DAY + timedelta(minutes=5 + (i * 7) % (13 * 60 - 10))
        t0 = time.perf_counter()
        with engine.begin() as conn:
            decision = request_contact(
                conn, loan_id=loan_id, channel="sms", at=at, actor="bench", rules=rules
            )
        latencies.append(time.perf_counter() - t0)
        allowed += decision.allowed
    engine.dispose()
    ms = np.array(latencies[1:] or latencies) * 1000  # the first one warms caches
    return {
        "backend": make_engine(url).dialect.name,
        "borrowers": borrowers,
        "history_rows": borrowers * per_borrower - per_borrower + target_history,
        "target_history": target_history,
        "requests": requests,
        "allowed": allowed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def run_online(smoke: bool) -> list[dict[str, Any]]:
    sizes = (
        {"borrowers": 200, "per_borrower": 5, "target_history": 50, "requests": 10}
        if smoke
        else {"borrowers": 100_000, "per_borrower": 20, "target_history": 400, "requests": 300}
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(_online(f"sqlite:///{Path(tmp) / 'bench.db'}", **sizes))
    from forbear.domain.errors import StorageUnavailable
    from forbear.store.db import make_engine, normalise_url, ping

    admin_url = normalise_url(PG_URL)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        ping(admin)
    except StorageUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}")
        return results
    name = f"forbear_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        results.append(_online(admin_url.set(database=name).render_as_string(False), **sizes))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return results


# -------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=30_000_000)
    parser.add_argument(
        "--baseline-plan",
        type=int,
        default=20_000,
        help="planned contacts (the first in plan order) the per-contact loop decides",
    )
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child-batch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.plan, args.history = 2_000, 20_000
    args.baseline_plan = max(1, min(args.baseline_plan, args.plan))
    if args.child_batch is not None:
        batch_child(args.plan, args.history, args.child_batch, args.baseline_plan, args.sample_dir)
        return
    if args.child_baseline is not None:
        baseline_child(args.sample_dir, args.child_baseline)
        return
    print(
        f"gate benchmark: plan {args.plan:,} contacts, history {args.history:,} rows, "
        f"{os.cpu_count()} CPUs, polars {pl.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sample_dir = Path(tmp)
        batch = run_batch(args.plan, args.history, args.baseline_plan, sample_dir)
        baseline = run_baseline(sample_dir)
        same = compare_decisions(sample_dir)
    print(
        f"batch gate: {batch['seconds']:.2f} s ({batch['cpu_seconds']:.1f} CPU-s), "
        f"{batch['rows_per_second']:,.0f} planned rows/s, peak {batch['peak_mb']:,.0f} MB "
        f"(inputs {batch['inputs_mb']:,.0f} MB), blocked {batch['blocked_share']:.1%}"
    )
    print(f"  most frequent blocking rules: {batch['top_rules']}")
    print(
        f"baseline python per-contact loop: {baseline['plan_rows']:,} planned contacts "
        f"(the first in plan order) with their debtors' {baseline['history_rows']:,} history "
        f"rows: {baseline['seconds']:.2f} s ({baseline['cpu_seconds']:.1f} CPU-s), "
        f"{baseline['rows_per_second']:,.0f} planned rows/s, peak {baseline['peak_mb']:,.0f} MB "
        f"(inputs {baseline['inputs_mb']:,.0f} MB), blocked {baseline['blocked_share']:.1%}"
    )
    ratio = batch["rows_per_second"] / baseline["rows_per_second"]
    print(f"  throughput ratio gate / per-contact loop: {ratio:.1f}x")
    print(
        f"  decisions identical on the sample: {'yes' if same['identical'] else 'no'} "
        f"({same['mismatches']} mismatches of {same['sample_rows']:,})"
    )
    for row in same["examples"]:
        print(f"    {row}")
    online = [] if args.skip_online else run_online(args.smoke)
    for row in online:
        print(
            f"online request_contact on {row['backend']}: p50 {row['p50_ms']:.1f} ms, "
            f"p99 {row['p99_ms']:.1f} ms ({row['requests']} requests, borrower history "
            f"{row['target_history']} rows, {row['history_rows']:,} history rows in the DB)"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "batch": batch,
                    "baseline": {"name": "python per-contact loop", **baseline},
                    "ratio": ratio,
                    "decisions": same,
                    "online": online,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
