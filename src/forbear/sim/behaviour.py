"""How demo borrowers repay: payments generated from each loan's instalments.

Every borrower has a latent risk class (``good``, ``slow``, ``bad``). Per loan it decides:

- whether and when the borrower stops paying (mostly ``bad``, some ``slow``), and what
  follows: a *cure* (the arrears paid in one go, penalty included, then normal payments),
  a *roll* (nothing more) or *partial* payments (a share of an instalment now and then);
- whether a borrower prepays the whole balance early (mostly ``good``);
- per instalment: paid on the due date by withholding (most), through the app or a
  transfer on the due date or up to three days before it (the ledger takes that as
  paying the current instalment, 提前还当期), or late (``slow`` and ``bad`` often,
  ``good`` rarely).

A late payment carries an estimate of the penalty (罚息) and late fee that errs on the
high side (penalty from the due date on the whole instalment, rounded up to the yuan), so
that a borrower who means to cure really does; any excess goes to principal.

All draws are numpy arrays over loans or over a (loan x instalment) matrix: no per-row
Python.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from forbear.domain.products import EarlyPayment

GOOD, SLOW, BAD = 0, 1, 2
NEVER = np.int64(1 << 40)  # a day number later than any real one

# per risk class (good, slow, bad)
P_STOP = np.array([0.006, 0.12, 0.85])
P_CURE = np.array([0.70, 0.55, 0.28])  # of stopped loans
P_PARTIAL = np.array([0.10, 0.15, 0.20])  # of stopped loans (the rest roll forward)
P_PREPAY = np.array([0.08, 0.03, 0.0])
P_LATE = np.array([0.08, 0.55, 0.50])  # per instalment, before any stop
P_EARLY = 0.25  # per instalment paid on time: app or transfer, 0-3 days before the due date
EARLY_MAX_DAYS = 3
LATE_GEOMETRIC_P = np.array([0.12, 0.06, 0.06])  # days late ~ 1 + geometric
P_WRITE_OFF = 0.6  # of loans 180+ days behind with no cure

PAYMENT_COLUMNS = ("loan_id", "paid_day", "amount", "kind")

CHANNELS = np.array(["withhold", "transfer", "app", "counter", "other"])
# channel shares by kind of payment: on_time, early, late, cure, partial, prepay
_CHANNEL_P = {
    "on_time": [0.92, 0.02, 0.06, 0.0, 0.0],
    "early": [0.0, 0.25, 0.74, 0.01, 0.0],
    "late": [0.45, 0.15, 0.38, 0.01, 0.01],
    "cure": [0.10, 0.45, 0.42, 0.02, 0.01],
    "partial": [0.05, 0.45, 0.48, 0.01, 0.01],
    "prepay": [0.0, 0.45, 0.54, 0.01, 0.0],
}
KINDS = tuple(_CHANNEL_P)


def _matrix(inst: pl.DataFrame, n_loans: int, col: str, fill: int) -> np.ndarray:
    k_max = int(inst["seq"].max() or 1)  # type: ignore[arg-type]
    out = np.full((n_loans, k_max), fill, dtype=np.int64)
    rows = inst["loan_id"].to_numpy()
    cols = inst["seq"].to_numpy().astype(np.int64) - 1
    out[rows, cols] = inst[col].to_numpy().astype(np.int64)
    return out


def _penalty_estimate(
    amount: np.ndarray, days_late: np.ndarray, rate_bp: np.ndarray, basis: np.ndarray
) -> np.ndarray:
    """Penalty from the due date on the whole instalment, rounded up to the fen."""
    num = amount * rate_bp * (days_late + 1)
    den = 10_000 * basis
    return np.asarray(-(-num // den), dtype=np.int64)


def _ceil_yuan(fen: np.ndarray) -> np.ndarray:
    return -(-fen // 100) * 100


def _ceil_ten_yuan(fen: np.ndarray) -> np.ndarray:
    return -(-fen // 1000) * 1000


def simulate_payments(
    loans: pl.DataFrame, instalments: pl.DataFrame, as_of: date, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Payments and outcomes of ``loans``.

    ``loans`` has ``loan_id`` (0..n-1, in order), ``risk`` (0 good, 1 slow, 2 bad),
    ``term_months``, ``penalty_rate_bp``, ``day_count``, ``grace_days``, ``late_fee``,
    ``early_payment`` (``EarlyPayment`` value);
    ``instalments`` is the ledger's ``schema.INSTALMENTS`` frame for them.

    Returns ``(payments, outcomes)``: payments with ``loan_id, paid_day`` (days since
    1970-01-01, on or before ``as_of``), ``amount`` (fen), ``kind``; outcomes with
    ``loan_id, behaviour, written_off_day`` (null when not written off).
    """
    n = loans.height
    today = int(np.datetime64(as_of, "D").astype(np.int64))
    inst = instalments.with_columns(
        day=pl.col("due_date").cast(pl.Int32).cast(pl.Int64),
        total=pl.col("principal") + pl.col("interest") + pl.col("fee"),
    )
    due = _matrix(inst, n, "day", int(NEVER))
    amt = _matrix(inst, n, "total", 0)
    prin = _matrix(inst, n, "principal", 0)
    k_max = due.shape[1]
    exists = due < NEVER
    seq = np.arange(1, k_max + 1)[None, :]

    risk = loans["risk"].to_numpy().astype(np.int64)
    term = loans["term_months"].to_numpy().astype(np.int64)
    rate = loans["penalty_rate_bp"].to_numpy().astype(np.int64)[:, None]
    basis = loans["day_count"].to_numpy().astype(np.int64)[:, None]
    grace = loans["grace_days"].to_numpy().astype(np.int64)[:, None]
    late_fee = loans["late_fee"].to_numpy().astype(np.int64)[:, None]
    current_rule = (loans["early_payment"] == EarlyPayment.CURRENT_INSTALMENT.value).to_numpy()

    # -- per loan: stop, what follows, prepayment
    stops = rng.random(n) < P_STOP[risk]
    # early defaults are the most common: the stop falls early in the term more often
    stop_at = 1 + (term * rng.random(n) ** 1.6).astype(np.int64)
    stop_seq = np.where(stops, np.minimum(stop_at, term), k_max + 1)
    u = rng.random(n)
    cure = stops & (u < P_CURE[risk])
    partial = stops & ~cure & (u < P_CURE[risk] + P_PARTIAL[risk])
    roll = stops & ~cure & ~partial
    rows = np.arange(n)
    stop_idx = np.minimum(stop_seq, term) - 1
    stop_due = np.where(stops, due[rows, stop_idx], NEVER)
    cure_day = np.where(cure, stop_due + rng.integers(8, 100, n), NEVER)

    prepays = (rng.random(n) < P_PREPAY[risk]) & (term >= 3)
    prepay_seq = np.where(prepays, rng.integers(2, np.maximum(term, 3)), k_max + 1)
    prepays &= prepay_seq < stop_seq  # nobody prepays after falling behind
    prepay_seq = np.where(prepays, prepay_seq, k_max + 1)
    prev_due = due[rows, np.clip(prepay_seq - 2, 0, k_max - 1)]
    prepay_day = np.where(prepays, prev_due + rng.integers(3, 26, n), NEVER)

    # -- per instalment: regular payments (before the stop, or after a cure)
    lumped = (seq >= stop_seq[:, None]) & (due <= cure_day[:, None])
    regular = (
        exists
        & (seq < prepay_seq[:, None])
        & ((seq < stop_seq[:, None]) | (cure[:, None] & (due > cure_day[:, None])))
    )
    late = rng.random(due.shape) < P_LATE[risk][:, None]
    days_late = np.minimum(1 + rng.geometric(LATE_GEOMETRIC_P[risk][:, None], due.shape), 75)
    # "early" payers pay through the app or a transfer on the due date, before the
    # withholding run, or up to three days before it. Under the current_instalment rule
    # the ledger takes that as paying the current instalment (提前还当期); under the
    # prepayment rule it would prepay principal and leave the instalment due, so those
    # products' early payers pay on the due date.
    early = rng.random(due.shape) < P_EARLY
    days_early = np.where(current_rule[:, None], rng.integers(0, EARLY_MAX_DAYS + 1, due.shape), 0)
    paid_day = np.where(late, due + days_late, np.where(early, due - days_early, due))
    # A payment more than a month late also meets the next instalment's deadline (the
    # next one's own payment went to this one's arrears first): one late fee for each.
    # Late payers round up to ten yuan; what is over becomes a small prepayment.
    fees_met = np.where(days_late > grace, 1 + (days_late - grace) // 28, 0)
    extra = np.where(
        late,
        _ceil_ten_yuan(_penalty_estimate(amt, days_late, rate, basis) + fees_met * late_fee),
        0,
    )
    kind = np.where(late, KINDS.index("late"), np.where(early, 1, 0))
    keep = regular & (paid_day <= today) & (paid_day < prepay_day[:, None])
    li, ki = np.nonzero(keep)
    parts = [
        (li, paid_day[li, ki], amt[li, ki] + extra[li, ki], kind[li, ki]),
    ]

    # -- cure: everything due by the cure day, with penalty, in one payment
    lump_cells = exists & lumped & cure[:, None] & (cure_day[:, None] <= today)
    days = np.where(lump_cells, cure_day[:, None] - due, 0)
    owed = amt + _penalty_estimate(amt, days, rate, basis) + np.where(days > grace, late_fee, 0)
    lump = np.where(lump_cells, owed, 0).sum(axis=1)
    has_lump = lump > 0
    parts.append(
        (
            rows[has_lump],
            cure_day[has_lump],
            _ceil_yuan(lump[has_lump]),
            np.full(has_lump.sum(), KINDS.index("cure")),
        )
    )

    # -- partial payers: 20-60% of an instalment every month or so, rounded to 10 yuan
    j = np.arange(6)[None, :]
    p_day = stop_due[:, None] + rng.integers(10, 25, (n, 1)) + 30 * j + rng.integers(0, 8, (n, 6))
    share = rng.uniform(0.2, 0.6, (n, 6))
    p_amt = np.maximum((amt[rows, stop_idx][:, None] * share // 1000) * 1000, 5000).astype(np.int64)
    p_keep = partial[:, None] & (p_day <= today) & (rng.random((n, 6)) < 0.8)
    pi, pj = np.nonzero(p_keep)
    parts.append((pi, p_day[pi, pj], p_amt[pi, pj], np.full(len(pi), KINDS.index("partial"))))

    # -- prepayment: the principal not yet due (the ledger then waives what interest and
    #    fees of those instalments remain), plus any instalment still owed; under the
    #    current_instalment rule also the running instalment's interest and fee (its
    #    period has begun: 提前还款 pays the current period's interest in full)
    after = exists & (seq >= prepay_seq[:, None])
    balance = np.where(after, prin, 0).sum(axis=1)
    running = np.where(after & (seq == prepay_seq[:, None]), amt - prin, 0).sum(axis=1)
    balance += np.where(current_rule, running, 0)
    # an instalment still unpaid (paid late, after the prepayment day) is settled with it
    folded = regular & (paid_day >= prepay_day[:, None])
    balance += np.where(folded, amt + extra, 0).sum(axis=1)
    pre = prepays & (prepay_day <= today)
    parts.append(
        (
            rows[pre],
            prepay_day[pre],
            balance[pre],
            np.full(pre.sum(), KINDS.index("prepay")),
        )
    )

    loan_id = np.concatenate([p[0] for p in parts]).astype(np.int64)
    payments = pl.DataFrame(
        {
            "loan_id": loan_id,
            "paid_day": np.concatenate([p[1] for p in parts]).astype(np.int64),
            "amount": np.concatenate([p[2] for p in parts]).astype(np.int64),
            "kind": np.array(KINDS)[np.concatenate([p[3] for p in parts]).astype(np.int64)],
        }
    )

    # -- write-offs: no cure, 180+ days past the first missed due date
    behind_since = np.where(roll | partial | (cure & (cure_day > today)), stop_due, NEVER)
    wo_day = behind_since + 181 + rng.integers(0, 60, n)
    written_off = (wo_day <= today) & (rng.random(n) < P_WRITE_OFF)
    behaviour = np.select(
        [cure, partial, roll, prepays],
        ["cure", "partial", "roll", "prepay"],
        default=np.array(["good", "slow", "slow"])[risk],
    )
    outcomes = pl.DataFrame(
        {
            "loan_id": np.arange(n, dtype=np.int64),
            "behaviour": behaviour,
            "written_off_day": pl.Series(wo_day).scatter(np.nonzero(~written_off)[0], None),
        }
    )
    return payments, outcomes
