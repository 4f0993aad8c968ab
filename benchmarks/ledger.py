"""Benchmark: account states for a whole book, the ledger against a pandas baseline (and,
optionally, against the ledger of another checkout, side by side).

Run from the repository root::

    .venv/bin/python benchmarks/ledger.py                  # 1M loans, baseline on 50k
    .venv/bin/python benchmarks/ledger.py --loans 200000 --baseline-loans 20000
    .venv/bin/python benchmarks/ledger.py --smoke          # a few seconds, used by the tests
    .venv/bin/python benchmarks/ledger.py --json out.json  # also write the figures
    .venv/bin/python benchmarks/ledger.py --baseline-src /tmp/before/src  # the code before

The book is synthetic and built directly as frames with numpy (seeded): the three demo
products, loans with realistic principal, term and start dates, instalments from the
ledger's own ``schedules()``, and payments with a mix of on-time, late, partial, missing,
split and prepaying behaviour.

Contenders, each in its own child process (so that peak memory is per contender):

- ``ledger``: ``forbear.domain.ledger.account_states`` on the whole book, both outputs
  collected (its compiled walk's first call in the process -- numba's start-up and the
  cached loop's load -- is timed; importing numba beforehand is not, and is reported as
  ``startup_cpu_s``);
- ``ledger, N partitions``: ``account_states_partitioned`` on ``loan_id mod N`` slices;
- ``ledger (sample)``: the same on the baseline's sample, for a ratio on equal work;
- with ``--baseline-src``: ``ledger before``, the same call with that ``src`` first on
  ``PYTHONPATH`` (e.g. ``git worktree add /tmp/before <commit>``), on the whole book; its
  states and allocations must equal the ledger's (row order of the states included,
  allocations compared sorted);
- ``pandas, per-loan loop`` (the baseline): pandas frames, ``groupby("loan_id")`` and a
  Python loop per loan that applies its payments in order (penalty and late fees, the
  waterfall, prepayment and re-amortisation) and then derives the state. It shares no
  code with the kernel, only the input frames (the conversion to pandas is timed).

The baseline's states are compared with the kernel's, column by column, on every loan of
the sample. Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _measure import memory, print_table

AS_OF = date(2025, 6, 30)
SEED = 20250630
BASELINE_NAME = "pandas, per-loan loop"
KERNEL_NAME = "ledger"
KERNEL_SAMPLE_NAME = "ledger (sample)"
BEFORE_NAME = "ledger before"
COMPARED = (
    "status",
    "dpd",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "overdue_total",
    "outstanding_principal",
    "oldest_unpaid_due_date",
    "next_due_date",
    "next_due_amount",
    "last_payment_date",
    "paid_total",
    "credit",
)

# product mix and term weights (terms as in products.yaml)
PRODUCT_SHARE = {"CASH": 0.40, "INST": 0.35, "SHORT": 0.25}
TERM_WEIGHTS = {
    "CASH": {12: 0.6, 24: 0.4},
    "INST": {6: 0.3, 12: 0.5, 24: 0.2},
    "SHORT": {3: 0.5, 6: 0.5},
}


# ------------------------------------------------------------------------- the synthetic book


def generate_book(n_loans: int, seed: int = SEED, as_of: date = AS_OF) -> dict[str, pl.DataFrame]:
    """``products``, ``loans``, ``instalments`` and ``payments`` frames (ledger schema)."""
    from forbear.domain.ledger import products_frame, schedules
    from forbear.sim.products import load_products

    rng = np.random.default_rng(seed)
    catalogue = {p.code: p for p in load_products()}
    products = products_frame(list(catalogue.values()))
    codes = np.array(list(PRODUCT_SHARE))
    product_idx = rng.choice(len(codes), size=n_loans, p=list(PRODUCT_SHARE.values()))

    term = np.zeros(n_loans, dtype=np.int32)
    principal = np.zeros(n_loans, dtype=np.int64)
    rate = np.zeros(n_loans, dtype=np.int32)
    for i, code in enumerate(codes):
        mask = product_idx == i
        count = int(mask.sum())
        p = catalogue[str(code)]
        weights = TERM_WEIGHTS[str(code)]
        term[mask] = rng.choice(list(weights), size=count, p=list(weights.values()))
        # log-uniform between the product's bounds, whole hundreds of yuan
        lo, hi = np.log(p.min_principal), np.log(p.max_principal)
        raw = np.exp(rng.uniform(lo, hi, size=count))
        principal[mask] = np.clip(
            np.round(raw / 10_000) * 10_000, p.min_principal, p.max_principal
        ).astype(np.int64)
        # 70% at the list rate, the rest priced 1-6 points below it
        discount = np.where(rng.random(count) < 0.7, 0, rng.integers(1, 7, size=count) * 100)
        rate[mask] = p.annual_rate_bp - discount

    # start dates over the two years before as_of (some loans have matured)
    start_day = np.datetime64(as_of) - rng.integers(0, 730, size=n_loans).astype("timedelta64[D]")
    loans = (
        pl.DataFrame(
            {
                "loan_id": np.arange(1, n_loans + 1, dtype=np.int64),
                "product_code": codes[product_idx],
                "principal": principal,
                "term_months": term,
                "annual_rate_bp": rate,
                "start_date": start_day,
            }
        )
        .with_columns(pl.col("start_date").cast(pl.Date))
        .with_columns(
            first_due_date=pl.col("start_date").dt.offset_by("1mo"),
            written_off_on=pl.lit(None, dtype=pl.Date),
        )
    )
    instalments = schedules(loans.lazy(), products.lazy()).collect()
    payments, written_off = _payments(rng, loans, products, instalments, as_of)
    loans = loans.join(written_off, on="loan_id", how="left", coalesce=True).with_columns(
        written_off_on=pl.col("written_off_on_right")
    )
    loans = loans.drop("written_off_on_right").select(
        "loan_id",
        "product_code",
        "principal",
        "term_months",
        "annual_rate_bp",
        "start_date",
        "first_due_date",
        "written_off_on",
    )
    return {"products": products, "loans": loans, "instalments": instalments, "payments": payments}


def _payments(
    rng: np.random.Generator,
    loans: pl.DataFrame,
    products: pl.DataFrame,
    instalments: pl.DataFrame,
    as_of: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Payments per instalment due by ``as_of``, drawn per loan and per instalment.

    Borrowers are good (80%), slow (14%) or bad (6%). Per instalment: on the due date (most),
    late by 1 + geometric days with an estimate of penalty and late fee on top, partial, or
    missing (caught up by a later payment, or never). Bad and some slow borrowers stop at
    some instalment; of those some cure later (one payment of all arrears), some pay
    partially now and then, the rest roll. A few borrowers add a partial prepayment to an
    instalment, a few pay the whole loan off, a few pay one instalment in two parts.
    """
    n = loans.height
    day0 = int(np.datetime64(as_of, "D").astype(np.int64))
    klass = rng.choice(3, size=n, p=[0.80, 0.14, 0.06])
    stop_p = np.array([0.005, 0.25, 0.85])[klass]
    terms = loans["term_months"].to_numpy()
    stops = rng.random(n) < stop_p
    stop_seq = np.where(stops, 1 + (rng.random(n) * terms).astype(np.int64), 10_000)
    after = rng.random(n)  # what follows a stop: cure / partial / roll
    cure_p = np.array([0.70, 0.50, 0.25])[klass]
    partial_p = cure_p + np.array([0.10, 0.15, 0.20])[klass]
    cure_lag = 15 + rng.geometric(1 / 40, size=n)
    prepay_full_seq = np.where(
        rng.random(n) < np.array([0.05, 0.02, 0.0])[klass],
        1 + (rng.random(n) * terms).astype(np.int64),
        10_000,
    )
    prepay_part_seq = np.where(
        rng.random(n) < np.array([0.04, 0.01, 0.0])[klass],
        1 + (rng.random(n) * terms).astype(np.int64),
        10_000,
    )

    prod = loans.select("loan_id", "product_code").join(products, on="product_code", how="left")
    inst = instalments.join(
        prod.select("loan_id", "penalty_rate_bp", "day_count", "late_fee", "grace_days"),
        on="loan_id",
    ).sort("loan_id", "seq")
    lid = inst["loan_id"].to_numpy()
    li = lid - 1  # loan ids are 1..n
    seq = inst["seq"].to_numpy().astype(np.int64)
    due = inst["due_date"].cast(pl.Int32).to_numpy().astype(np.int64)
    amount = (inst["principal"] + inst["interest"] + inst["fee"]).to_numpy()
    pen_bp = inst["penalty_rate_bp"].to_numpy().astype(np.int64)
    basis = inst["day_count"].to_numpy().astype(np.int64)
    late_fee = inst["late_fee"].to_numpy()
    grace = inst["grace_days"].to_numpy().astype(np.int64)
    m = len(seq)

    k = klass[li]
    before_stop = seq < stop_seq[li]
    u = rng.random(m)
    late = u < np.array([0.06, 0.45, 0.45])[k]
    missing = (u >= 0.97) & (k > 0)  # skipped; the next payment's waterfall catches up
    partial = (u >= 0.94) & (u < 0.97) & (k > 0)
    days_late = 1 + rng.geometric(np.array([0.15, 0.07, 0.07])[k])
    days_late = np.where(late, days_late, 0)
    # a late payer pays what the app shows (penalty on the principal for the days past
    # grace, and the late fee); one in ten rounds up to the yuan, the excess prepays principal
    past_grace = np.maximum(days_late - grace, 0)
    principal_i = inst["principal"].to_numpy()
    penalty_est = (2 * principal_i * pen_bp * past_grace + 10_000 * basis) // (20_000 * basis)
    fee_est = np.where(past_grace > 0, late_fee, 0)
    owed_late = amount + penalty_est + fee_est
    round_up = rng.random(m) < 0.1
    paid = np.where(late, np.where(round_up, -(-owed_late // 100) * 100, owed_late), amount)
    paid = np.where(partial, (amount * rng.uniform(0.2, 0.8, size=m)).astype(np.int64), paid)
    # partial prepayment on top of one instalment: 5% to 40% of the loan principal
    principal_l = loans["principal"].to_numpy()
    extra = (principal_l[li] * rng.uniform(0.05, 0.4, size=m) // 10_000) * 10_000
    paid = np.where(seq == prepay_part_seq[li], paid + extra, paid)
    regular = before_stop & ~missing & (seq < prepay_full_seq[li])
    p_day = due + days_late
    # split payments: an on-time instalment paid in two parts on the same day
    split = regular & ~late & ~partial & (rng.random(m) < 0.03)
    first = np.where(split, amount * rng.uniform(0.3, 0.7, size=m) // 100 * 100, 0)
    frames = [(li[regular], p_day[regular], (paid - first)[regular])]
    frames.append((li[split], p_day[split], first[split]))

    # full payoff on the due date of prepay_full_seq: everything left (generously) at once
    payoff = seq == prepay_full_seq[li]
    rest = inst.select(pl.col("principal").reverse().cum_sum().reverse().over("loan_id"))
    remaining = rest.to_series().to_numpy() + amount - inst["principal"].to_numpy()
    frames.append((li[payoff], due[payoff], -(-remaining[payoff] // 100) * 100 + 100))

    # after a stop: a cure of all arrears so far (with a margin), partial payments now
    # and then, or nothing (roll)
    stopped_at = seq == stop_seq[li]
    cure = stopped_at & (after[li] < cure_p[li])
    lag = cure_lag[li]
    months_lagged = lag // 30 + 1
    cure_amt = amount * months_lagged
    cure_amt = cure_amt + cure_amt * pen_bp * (lag + 1) // (10_000 * basis) + 2 * late_fee
    cure_amt = -(-cure_amt // 1000) * 1000
    frames.append((li[cure], due[cure] + lag[cure], cure_amt[cure]))
    resumed = (seq > stop_seq[li] + months_lagged) & (after[li] < cure_p[li])
    resumed &= seq < prepay_full_seq[li]
    frames.append((li[resumed], p_day[resumed], paid[resumed]))
    part = (seq >= stop_seq[li]) & (after[li] >= cure_p[li]) & (after[li] < partial_p[li])
    part &= rng.random(m) < 0.5
    part_amt = (amount * rng.uniform(0.1, 0.6, size=m) // 100) * 100 + 100
    frames.append((li[part], due[part] + rng.integers(3, 25, size=m)[part], part_amt[part]))

    pays = pl.DataFrame(
        {
            "li": np.concatenate([f[0] for f in frames]),
            "day": np.concatenate([f[1] for f in frames]),
            "amount": np.concatenate([f[2] for f in frames]).astype(np.int64),
        }
    ).filter((pl.col("day") <= day0) & (pl.col("amount") > 0))
    order = rng.permutation(pays.height)  # payment ids in arrival order, not loan order
    pays = (
        pays.with_columns(
            payment_id=pl.Series(order + 1, dtype=pl.Int64),
            loan_id=(pl.col("li") + 1).cast(pl.Int64),
            paid_on=pl.col("day").cast(pl.Int32).cast(pl.Date),
        )
        .select("payment_id", "loan_id", "paid_on", "amount")
        .sort("payment_id")
    )

    # bad loans that rolled and are 180+ days behind: written off with p = 0.6
    rolled = stops & (after >= partial_p)
    seq_count = terms.astype(np.int64)
    stop_due = inst.filter(pl.col("seq") == 1)["due_date"].cast(pl.Int32).to_numpy().astype(
        np.int64
    ) + 30 * (np.minimum(stop_seq, seq_count) - 1)
    write = rolled & (stop_due + 180 < day0) & (rng.random(n) < 0.6)
    w_day = stop_due + 181 + rng.integers(0, 30, size=n)
    written_off = pl.DataFrame(
        {"loan_id": np.arange(1, n + 1, dtype=np.int64)[write], "written_off_on": w_day[write]}
    ).with_columns(pl.col("written_off_on").cast(pl.Int32).cast(pl.Date))
    written_off = written_off.filter(pl.col("written_off_on") <= as_of).rename(
        {"written_off_on": "written_off_on_right"}
    )
    return pays, written_off


# ------------------------------------------------------------------------- the baseline


def _div_round(num: int, den: int, rounding: str) -> int:
    q, r = divmod(num, den)
    if rounding == "down" or r == 0:
        return q
    if 2 * r > den:
        return q + 1
    if 2 * r < den:
        return q
    return q + 1 if rounding == "half_up" else q + (q % 2)


def _level(method: str, balance: int, rate_bp: int, n: int, rounding: str) -> int:
    if method == "equal_instalment":
        if rate_bp == 0:
            return _div_round(balance, n, rounding)
        grown = (120_000 + rate_bp) ** n
        return _div_round(balance * rate_bp * grown, 120_000 * (grown - 120_000**n), rounding)
    if method == "equal_principal":
        return _div_round(balance, n, rounding)
    return 0


def _amortise(
    balance: int, level: int, method: str, rate_bp: int, count: int, rounding: str, shorten: bool
) -> list[tuple[int, int]]:
    rows = []
    remaining = balance
    for k in range(1, count + 1):
        interest = _div_round(remaining * rate_bp, 120_000, rounding)
        if k == count:
            principal = remaining
        elif method == "equal_instalment":
            principal = min(max(level - interest, 0), remaining)
        elif method == "equal_principal":
            principal = min(level, remaining)
        else:
            principal = 0
        rows.append((principal, interest))
        remaining -= principal
        if shorten and remaining == 0:
            break
    return rows


def _advance(
    lines: list[dict[str, Any]],
    t: date,
    prev: date,
    late_fee: int,
    pen_bp: int,
    pen_den: int,
    rounding: str,
) -> None:
    """Late fees whose deadline ended in ``[prev, t)`` and penalty accrued over ``(prev, t]``."""
    for ln in lines:
        unpaid = ln["penalty"] + ln["fee"] + ln["interest"] + ln["principal"]
        if prev <= ln["deadline"] < t and unpaid > 0:
            ln["fee"] += late_fee
        days = max(0, (t - max(prev, ln["deadline"])).days)
        if days:
            ln["penalty"] += _div_round(ln["principal"] * days * pen_bp, pen_den, rounding)


def _bucket(dpd: int, edges: tuple[int, ...], labels: tuple[str, ...]) -> str:
    for edge, label in zip(edges, labels, strict=False):
        if dpd <= edge:
            return label
    return labels[-1]


def pandas_states(frames: dict[str, Any], as_of: date) -> Any:
    """The baseline: account states with pandas and a Python loop per loan.

    Written the way an in-house team would: pandas frames, ``groupby("loan_id")``, then per
    loan its instalments as a list of dicts and its payments in (date, id) order; each
    payment brings late fees and penalty up to its date, pays what is due in the product's
    waterfall and prepays the rest (payoff, or re-amortisation of the instalments not yet
    due); at the end penalty runs to ``as_of`` and the state is read off the lines.
    ``frames`` are Polars frames; converting them to pandas is part of the work.
    """
    import pandas as pd

    edges = (0, 30, 60, 90, 120, 150, 180)
    labels = ("C", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
    loans = frames["loans"].to_pandas()
    products = frames["products"].to_pandas()
    inst = frames["instalments"].to_pandas()
    pays = frames["payments"].to_pandas()

    as_of_ts = pd.Timestamp(as_of)
    loans = loans[loans["start_date"] <= as_of_ts].merge(products, on="product_code")
    pays = pays[pays["paid_on"] <= as_of_ts].sort_values(["loan_id", "paid_on", "payment_id"])
    pay_groups = {loan_id: g for loan_id, g in pays.groupby("loan_id", sort=False)}
    loans = loans.set_index("loan_id")
    out = []
    for loan_id, g in inst.sort_values(["loan_id", "seq"]).groupby("loan_id", sort=True):
        if loan_id not in loans.index:
            continue
        loan = loans.loc[loan_id]
        rounding = loan["rounding"]
        grace = timedelta(days=int(loan["grace_days"]))
        late_fee = int(loan["late_fee"])
        pen_bp = int(loan["penalty_rate_bp"])
        pen_den = 10_000 * int(loan["day_count"])
        order = loan["components"].split(",")
        lines = []
        for row in g.itertuples(index=False):
            due = row.due_date.date()
            lines.append(
                {
                    "seq": row.seq,
                    "due": due,
                    "deadline": due + grace,
                    "penalty": 0,
                    "fee": int(row.fee),
                    "interest": int(row.interest),
                    "principal": int(row.principal),
                }
            )
        prev = date.min

        paid_total = 0
        credit = 0
        last_paid = None
        loan_pays = pay_groups.get(loan_id)
        if loan_pays is not None:
            for p in loan_pays.itertuples(index=False):
                t = p.paid_on.date()
                left = int(p.amount)
                paid_total += left
                last_paid = t
                _advance(lines, t, prev, late_fee, pen_bp, pen_den, rounding)
                prev = t
                due_lines = [ln for ln in lines if ln["due"] <= t]
                # 提前还当期: the current instalment (first due after t) is owed too, after
                # the due ones, in the component order
                owed_lines = due_lines
                if loan["early_payment"] == "current_instalment":
                    owed_lines = lines[: len(due_lines) + 1]
                if loan["waterfall"] == "instalment_first":
                    steps = [(ln, c) for ln in due_lines for c in order]
                else:
                    steps = [(ln, c) for c in order for ln in due_lines]
                steps += [(ln, c) for ln in owed_lines[len(due_lines) :] for c in order]
                for ln, c in steps:
                    take = min(left, ln[c])
                    if take > 0:
                        ln[c] -= take
                        left -= take
                if left <= 0:
                    continue
                future = lines[len(owed_lines) :]
                owed = sum(ln["principal"] for ln in future)
                if left >= owed:
                    credit += left - owed
                    lines = owed_lines
                    continue
                method = loan["method"]
                balance, count = owed - left, len(future)
                shorten = loan["prepayment"] == "shorten_term" and method != "interest_only"
                if shorten:
                    level = _level(
                        method,
                        int(loan["principal"]),
                        int(loan["annual_rate_bp"]),
                        int(loan["term_months"]),
                        rounding,
                    )
                else:
                    level = _level(method, balance, int(loan["annual_rate_bp"]), count, rounding)
                rows = _amortise(
                    balance, level, method, int(loan["annual_rate_bp"]), count, rounding, shorten
                )
                for ln, (principal, interest) in zip(future, rows, strict=False):
                    ln["principal"] = principal
                    ln["interest"] = interest
                lines = owed_lines + future[: len(rows)]
        _advance(lines, as_of, prev, late_fee, pen_bp, pen_den, rounding)

        def unpaid(ln: dict[str, Any]) -> int:
            return ln["penalty"] + ln["fee"] + ln["interest"] + ln["principal"]

        behind = [ln["due"] for ln in lines if unpaid(ln) > 0 and ln["due"] < as_of]
        oldest = min(behind) if behind else None
        days = (as_of - oldest).days if oldest is not None else 0
        dpd = days if days > grace.days else 0
        late = [ln for ln in lines if ln["deadline"] < as_of]
        overdue = {c: sum(ln[c] for ln in late) for c in ("principal", "interest", "fee")}
        overdue["penalty"] = sum(ln["penalty"] for ln in late)
        upcoming = [ln for ln in lines if ln["due"] >= as_of and unpaid(ln) > 0]
        next_due = min((ln["due"] for ln in upcoming), default=None)
        next_amount = (
            sum(unpaid(ln) for ln in upcoming if ln["due"] == next_due)
            if next_due is not None
            else None
        )
        written_off = loan["written_off_on"]
        if not pd.isna(written_off) and written_off <= as_of_ts:
            status = "written_off"
        elif all(unpaid(ln) == 0 for ln in lines):
            status = "paid_off"
        else:
            status = "active"
        out.append(
            {
                "loan_id": int(loan_id),
                "status": status,
                "dpd": dpd,
                "bucket": _bucket(dpd, edges, labels),
                "overdue_principal": overdue["principal"],
                "overdue_interest": overdue["interest"],
                "overdue_fee": overdue["fee"],
                "overdue_penalty": overdue["penalty"],
                "overdue_total": sum(overdue.values()),
                "outstanding_principal": sum(ln["principal"] for ln in lines),
                "oldest_unpaid_due_date": oldest,
                "next_due_date": next_due,
                "next_due_amount": next_amount,
                "last_payment_date": last_paid,
                "paid_total": paid_total,
                "credit": credit,
            }
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------- child processes


def _read(workdir: Path, which: str) -> dict[str, pl.DataFrame]:
    names = ("products", "loans", "instalments", "payments")
    return {name: pl.read_parquet(workdir / f"{which}_{name}.parquet") for name in names}


def worker(role: str, workdir: Path, as_of: date, partitions: int = 1) -> dict[str, Any]:
    """Run one contender on the inputs in ``workdir``; write its states; return figures."""
    which = "full" if role in ("kernel", "kernel_parts", "kernel_before") else "sample"
    frames = _read(workdir, which)
    rows = frames["instalments"].height + frames["payments"].height
    loans = frames["loans"].height
    startup = time.process_time()
    if role == "baseline":
        import pandas  # noqa: F401  (import cost is not part of the work)
    else:
        from forbear.domain.ledger import account_states, account_states_partitioned

        compiled = "forbear.domain.ledger.allocation.compiled"  # imports numba
        if importlib.util.find_spec(compiled) is not None:  # not in the code before it
            importlib.import_module(compiled)
    startup = time.process_time() - startup
    before = memory()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if role == "baseline":
        states = pl.from_pandas(pandas_states(frames, as_of))
    else:
        inputs = (
            frames["loans"].lazy(),
            frames["products"].lazy(),
            frames["instalments"].lazy(),
            frames["payments"].lazy(),
            as_of,
        )
        if role == "kernel_parts":
            result = account_states_partitioned(*inputs, partitions=partitions)
        else:
            result = account_states(*inputs)
        states, allocations = pl.collect_all([result.states, result.allocations])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    after = memory()
    states.write_parquet(workdir / f"states_{role}.parquet")
    if role in ("kernel", "kernel_before"):
        allocations.write_parquet(workdir / f"allocations_{role}.parquet")
    return {
        "loans": loans,
        "rows": rows,
        "wall_s": wall,
        "cpu_s": cpu,
        "rows_per_s": rows / wall if wall > 0 else float("inf"),
        "peak_mb": after["peak_mb"],
        "inputs_mb": before["rss_mb"],
        "startup_cpu_s": startup,
    }


def run_child(
    role: str, workdir: Path, as_of: date, partitions: int = 1, src: Path | None = None
) -> dict[str, Any]:
    """Run ``worker(role)`` in a fresh interpreter, so that its peak memory is its own
    (``src``: that checkout's ``src`` first on the path, for the code before)."""
    out = workdir / f"figures_{role}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", role, str(workdir)]
    cmd += ["--as-of", as_of.isoformat(), "--partitions", str(partitions)]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(src.resolve()), *filter(None, [env.get("PYTHONPATH")])]
        )
    subprocess.run(cmd, check=True, env=env)
    return json.loads(out.read_text())


def same_ledger(workdir: Path) -> dict[str, Any]:
    """Do the ledger and the ledger before give the same states (row order included) and
    the same allocations (sorted: the order of allocations is not part of the contract)?"""
    order = ["loan_id", "payment_id", "seq", "component"]
    now, before = (
        (
            pl.read_parquet(workdir / f"states_{role}.parquet"),
            pl.read_parquet(workdir / f"allocations_{role}.parquet"),
        )
        for role in ("kernel", "kernel_before")
    )
    return {
        "states_identical": now[0].equals(before[0]),
        "allocations_identical": now[1]
        .sort(order, nulls_last=True)
        .equals(before[1].sort(order, nulls_last=True)),
        "allocations": now[1].height,
    }


# ------------------------------------------------------------------------- comparison, output


def compare(kernel: pl.DataFrame, baseline: pl.DataFrame) -> dict[str, Any]:
    """Loans of the baseline whose states differ from the kernel's, per column."""
    cols = list(COMPARED)
    base = baseline.select("loan_id", *cols).cast({c: kernel.schema[c] for c in cols}, strict=False)
    joined = base.join(kernel.select("loan_id", *cols), on="loan_id", how="left", suffix="_k")
    missing = joined.filter(pl.col("status_k").is_null()).height
    per_col = {
        c: int(joined.select((~pl.col(c).eq_missing(pl.col(f"{c}_k"))).sum()).item()) for c in cols
    }
    differs = pl.any_horizontal(*(~pl.col(c).eq_missing(pl.col(f"{c}_k")) for c in cols))
    mismatched = joined.filter(differs)
    return {
        "loans_compared": baseline.height,
        "kernel_loans_for_sample": kernel.height,
        "mismatches": mismatched.height,
        "missing_in_kernel": missing,
        "per_column": {c: n for c, n in per_col.items() if n},
        "examples": mismatched.head(5).to_dicts(),
    }


def _table(results: list[dict[str, Any]], title: str) -> None:
    headers = ["contender", "loans", "rows", "wall s", "CPU s", "rows/s", "peak MB", "inputs MB"]
    body = [
        [
            r["name"],
            f"{r['loans']:,}",
            f"{r['rows']:,}",
            f"{r['wall_s']:.2f}",
            f"{r['cpu_s']:.2f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['peak_mb']:,.0f}",
            f"{r['inputs_mb']:,.0f}",
        ]
        for r in results
    ]
    print_table(title, headers, body, width=140)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--baseline-loans", type=int, default=50_000)
    parser.add_argument("--smoke", action="store_true", help="2,000 loans, baseline on all")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--partitions",
        type=int,
        default=8,
        help="also run the kernel on loan_id mod N slices (1: skip that contender)",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run the ledger of this src directory (the code before) on the whole book",
    )
    parser.add_argument("--worker", nargs=2, metavar=("ROLE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        role, workdir = args.worker[0], Path(args.worker[1])
        figures = worker(role, workdir, args.as_of, args.partitions)
        (workdir / f"figures_{role}.json").write_text(json.dumps(figures))
        return figures

    n_loans = 2_000 if args.smoke else args.loans
    n_base = n_loans if args.smoke else min(args.baseline_loans, n_loans)
    sampled = n_base < n_loans
    print(f"Generating a synthetic book of {n_loans:,} loans (seed {args.seed}) ...", flush=True)
    t0 = time.perf_counter()
    book = generate_book(n_loans, args.seed, args.as_of)
    sizes = {name: frame.height for name, frame in book.items()}
    print(
        f"  {sizes['loans']:,} loans, {sizes['instalments']:,} instalments, "
        f"{sizes['payments']:,} payments (as of {args.as_of}; "
        f"{sizes['payments'] / sizes['loans']:.1f} payments a loan) "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    rng = np.random.default_rng(args.seed + 1)
    chosen = np.sort(rng.choice(book["loans"]["loan_id"].to_numpy(), n_base, replace=False))
    ids = pl.Series("loan_id", chosen).implode()
    sample = {
        "products": book["products"],
        **{
            name: book[name].filter(pl.col("loan_id").is_in(ids))
            for name in ("loans", "instalments", "payments")
        },
    }
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="forbear-bench-") as tmp:
        workdir = Path(tmp)
        for which, frames in (("full", book), ("sample", sample)):
            for name, frame in frames.items():
                frame.write_parquet(workdir / f"{which}_{name}.parquet")
        del book, sample, frames

        roles = [("kernel", KERNEL_NAME)]
        if args.baseline_src is not None:
            roles.append(("kernel_before", f"{BEFORE_NAME} ({args.baseline_src})"))
        if args.partitions > 1:
            roles.append(("kernel_parts", f"{KERNEL_NAME}, {args.partitions} partitions"))
        if sampled:
            roles.append(("kernel_sample", KERNEL_SAMPLE_NAME))
        roles.append(("baseline", BASELINE_NAME))
        for role, name in roles:
            print(f"Running {name} ...", flush=True)
            src = args.baseline_src if role == "kernel_before" else None
            figures_ = run_child(role, workdir, args.as_of, args.partitions, src)
            results.append({"name": name, "role": role, **figures_})
        against_before = same_ledger(workdir) if args.baseline_src is not None else None
        kernel_states = pl.read_parquet(workdir / "states_kernel.parquet")
        parts_identical = args.partitions <= 1 or kernel_states.equals(
            pl.read_parquet(workdir / "states_kernel_parts.parquet")
        )
        baseline_states = pl.read_parquet(workdir / "states_baseline.parquet")
    check = compare(kernel_states.filter(pl.col("loan_id").is_in(ids)), baseline_states)

    by_role = {r["role"]: r for r in results}
    kernel, base = by_role["kernel"], by_role["baseline"]
    equal = by_role.get("kernel_sample", kernel)
    ratios = {
        "time_equal_work": base["wall_s"] / equal["wall_s"],
        "cpu_equal_work": base["cpu_s"] / equal["cpu_s"],
        "throughput": kernel["rows_per_s"] / base["rows_per_s"],
        "baseline_projected_full_s": kernel["rows"] / base["rows_per_s"],
        "memory_equal_work": base["peak_mb"] / equal["peak_mb"],
    }
    ratios["time_full_book"] = ratios["baseline_projected_full_s"] / kernel["wall_s"]

    _table(results, f"Account states as of {args.as_of}: {KERNEL_NAME} vs {BASELINE_NAME}")
    if sampled:
        print(
            f"The baseline ran on a sample of {n_base:,} of the {n_loans:,} loans drawn from the "
            f"same book; its full-book time is a LINEAR projection from its rows/s: "
            f"{ratios['baseline_projected_full_s']:,.0f} s."
        )
    print(
        f"Ledger vs baseline on equal work ({n_base:,} loans): "
        f"the baseline takes {ratios['time_equal_work']:.1f}x the ledger's wall time and "
        f"{ratios['cpu_equal_work']:.1f}x its CPU; peak memory ledger "
        f"{equal['peak_mb']:,.0f} MB, baseline {base['peak_mb']:,.0f} MB "
        f"(baseline/ledger {ratios['memory_equal_work']:.2f}x)."
    )
    print(
        f"Throughput: ledger {kernel['rows_per_s']:,.0f} rows/s on {kernel['loans']:,} loans, "
        f"baseline {base['rows_per_s']:,.0f} rows/s: {ratios['throughput']:.1f}x; full book "
        f"{kernel['wall_s']:,.1f} s vs {ratios['baseline_projected_full_s']:,.0f} s "
        f"{'(projected) ' if sampled else ''}= {ratios['time_full_book']:.1f}x."
    )
    identical = check["mismatches"] == 0 and check["missing_in_kernel"] == 0
    print(
        f"states identical: {'yes' if identical else 'no'} ({check['mismatches']} mismatches "
        f"in {check['loans_compared']:,} loans compared"
        + (f"; by column {check['per_column']}" if check["per_column"] else "")
        + ")"
    )
    for example in check["examples"]:
        print(f"  mismatch: {example}")
    if against_before is not None:
        before_run = by_role["kernel_before"]
        ratios["cpu_before_over_now"] = before_run["cpu_s"] / kernel["cpu_s"]
        ratios["wall_before_over_now"] = before_run["wall_s"] / kernel["wall_s"]
        print(
            f"Against the code before ({args.baseline_src}), whole book: "
            f"{before_run['cpu_s']:,.2f} -> {kernel['cpu_s']:,.2f} CPU s "
            f"({ratios['cpu_before_over_now']:.1f}x), {before_run['wall_s']:,.2f} -> "
            f"{kernel['wall_s']:,.2f} s wall, peak {before_run['peak_mb']:,.0f} -> "
            f"{kernel['peak_mb']:,.0f} MB; states identical: "
            f"{'yes' if against_before['states_identical'] else 'NO'}, "
            f"{against_before['allocations']:,} allocations identical: "
            f"{'yes' if against_before['allocations_identical'] else 'NO'}"
        )
    load = os.getloadavg()
    print(f"Load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.partitions > 1:
        parts = by_role["kernel_parts"]
        print(
            f"Partitioned ledger ({args.partitions} slices by loan_id): "
            f"{parts['wall_s']:,.1f} s, peak {parts['peak_mb']:,.0f} MB against "
            f"{kernel['wall_s']:,.1f} s, {kernel['peak_mb']:,.0f} MB in one piece; "
            f"states identical to the one-piece ledger: {'yes' if parts_identical else 'no'}"
        )
    figures = {
        "as_of": args.as_of.isoformat(),
        "seed": args.seed,
        "sizes": sizes,
        "baseline": BASELINE_NAME,
        "baseline_sampled": sampled,
        "baseline_projection": "linear in rows" if sampled else None,
        "contenders": results,
        "ratios": ratios,
        "states_identical": identical,
        "partitioned_states_identical": parts_identical,
        "check": {k: v for k, v in check.items() if k != "examples"},
        "against_before": against_before,
        "cpus": os.cpu_count(),
        "load_average": load,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
