"""The simulated population: one row per loan, as numpy arrays, drawn from the book (or
made up for tests and benchmarks).

Money is integer fen. ``balance`` is what the borrower still owes in all (the simulator
does not split principal, interest and fees, and charges no penalty interest while it
runs); ``overdue`` is the part of it past due; ``instalment`` is what falls due every 30
days; ``days_to_due`` counts the days to the next due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from forbear.domain.compliance import schema as gate_schema
from forbear.sim.borrowers.parameters import TIERS

DEFAULT_ZONE = "Asia/Shanghai"
CYCLE_DAYS = 30  # the simulated due-date cycle

# The synthetic contact points: borrower_id * 10 + offset, by kind.
POINT_KINDS = {"phone": 1, "email": 2, "address": 3}


def tier_index(tiers: np.ndarray) -> np.ndarray:
    """Index 0 (A) ... 4 (E) of each tier; unscored (null or unknown) counts as C."""
    out = np.full(len(tiers), TIERS.index("C"), dtype=np.int64)
    for i, t in enumerate(TIERS):
        out[tiers == t] = i
    return out


@dataclass(frozen=True)
class Population:
    loan_id: np.ndarray  # int64, ascending
    borrower_id: np.ndarray  # int64
    tier: np.ndarray  # object: behaviour tier A..E or None (unscored)
    ew_tier: np.ndarray  # object: early-warning tier or None
    ew_pd: np.ndarray  # float64, NaN = unscored
    propensity: np.ndarray  # float64, NaN = unscored
    hardship: np.ndarray  # bool
    dpd: np.ndarray  # int64
    overdue: np.ndarray  # int64 fen
    balance: np.ndarray  # int64 fen, >= overdue
    instalment: np.ndarray  # int64 fen
    days_to_due: np.ndarray  # int64, 1..CYCLE_DAYS
    points: pl.DataFrame  # kernel.POINTS: the debtor's contact points
    zones: pl.DataFrame  # kernel.ZONES
    holds: pl.DataFrame  # gate HOLDS open at the start

    def __post_init__(self) -> None:
        n = len(self.loan_id)
        for name in (
            "borrower_id",
            "tier",
            "ew_tier",
            "ew_pd",
            "propensity",
            "hardship",
            "dpd",
            "overdue",
            "balance",
            "instalment",
            "days_to_due",
        ):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Population.{name} has {len(getattr(self, name))} rows, not {n}")
        if n and np.any(np.diff(self.loan_id) <= 0):
            raise ValueError("Population.loan_id must be strictly ascending")

    @property
    def size(self) -> int:
        return len(self.loan_id)

    def frame(self) -> pl.DataFrame:
        """The population as a frame (for reports and tests)."""
        return pl.DataFrame(
            {
                "loan_id": self.loan_id,
                "borrower_id": self.borrower_id,
                "tier": pl.Series(self.tier.tolist(), dtype=pl.String),
                "propensity": self.propensity,
                "hardship": self.hardship,
                "dpd": self.dpd,
                "overdue": self.overdue,
                "balance": self.balance,
                "instalment": self.instalment,
                "days_to_due": self.days_to_due,
            }
        )

    # --- made up -------------------------------------------------------------------------

    @classmethod
    def synthetic(cls, n: int, seed: int, *, overdue_share: float = 0.45) -> Population:
        """``n`` loans of about ``n / 1.1`` borrowers: tiers, scores, arrears and amounts
        drawn from fixed distributions (the same ``n`` and ``seed``, the same population)."""
        if n < 1:
            raise ValueError("a population needs at least one loan")
        rng = np.random.default_rng(seed)
        loan_id = np.arange(1, n + 1, dtype=np.int64)
        n_borrowers = max(1, int(n / 1.1))
        borrower_id = np.sort(
            np.concatenate(
                [np.arange(1, n_borrowers + 1), rng.integers(1, n_borrowers + 1, n - n_borrowers)]
            )
        ).astype(np.int64)
        t = rng.choice(5, n, p=[0.25, 0.3, 0.22, 0.14, 0.09])
        tier = np.array(TIERS, dtype=object)[t]
        # propensity: higher for better tiers; a few unscored
        propensity = np.clip(rng.beta(4.0 - 0.6 * t, 2.0 + 0.6 * t), 0.0, 1.0)
        ew_pd = np.clip(rng.beta(1.0 + 0.5 * t, 12.0 - 1.8 * t), 0.0, 1.0)
        ew_tier = np.array(TIERS, dtype=object)[np.clip(t + rng.integers(-1, 2, n), 0, 4)]
        unscored = rng.random(n) < 0.03
        tier[unscored] = None
        ew_tier[unscored] = None
        propensity[unscored] = np.nan
        ew_pd[unscored] = np.nan
        hardship = rng.random(n) < 0.02 + 0.03 * t
        instalment = (rng.integers(30, 300, n) * 1000).astype(np.int64)  # 300 - 3,000 yuan
        behind = rng.random(n) < overdue_share * (0.5 + 0.25 * t)
        band = rng.choice(4, n, p=[0.5, 0.2, 0.15, 0.15])
        lo = np.array([1, 31, 61, 91])[band]
        hi = np.array([30, 60, 90, 180])[band]
        dpd = np.where(behind, rng.integers(lo, hi + 1), 0).astype(np.int64)
        cycles = -(-dpd // CYCLE_DAYS)
        overdue = (instalment * cycles).astype(np.int64)
        remaining = rng.integers(1, 12, n)
        balance = overdue + instalment * remaining
        days_to_due = np.where(
            dpd > 0, CYCLE_DAYS - (dpd % CYCLE_DAYS), rng.integers(1, CYCLE_DAYS + 1, n)
        ).astype(np.int64)
        days_to_due = np.where(days_to_due == 0, CYCLE_DAYS, days_to_due)
        borrowers = np.unique(borrower_id)
        has_email = rng.random(len(borrowers)) < 0.6
        points = pl.concat(
            [
                pl.DataFrame(
                    {
                        "borrower_id": b,
                        "kind": kind,
                        "contact_point_id": b * 10 + off,
                        "provenance": "contract",
                    }
                )
                for kind, off in POINT_KINDS.items()
                for b in [borrowers if kind != "email" else borrowers[has_email]]
            ]
        ).sort("borrower_id", "kind")
        zones = pl.DataFrame({"borrower_id": borrowers, "timezone": DEFAULT_ZONE})
        return cls(
            loan_id=loan_id,
            borrower_id=borrower_id,
            tier=tier,
            ew_tier=ew_tier,
            ew_pd=ew_pd,
            propensity=propensity,
            hardship=hardship,
            dpd=dpd,
            overdue=overdue,
            balance=balance,
            instalment=instalment,
            days_to_due=days_to_due,
            points=points,
            zones=zones,
            holds=pl.DataFrame(schema=gate_schema.HOLDS),
        )

    # --- from the book ------------------------------------------------------------------

    @classmethod
    def from_book(cls, conn: Any, as_of: date) -> Population:
        """The active loans of the book on ``as_of``: the ACCOUNT frame the daily run
        builds (ledger states, scores, holds, plans, promises), each loan's next due
        amount, and the debtors' contact points, zones and holds, all read set-wise."""
        from forbear.batch.contacts import borrower_zones, contact_points
        from forbear.services.accounts import build_accounts, day_end, day_facts

        facts = day_facts(conn, as_of)
        accounts = build_accounts(conn, as_of, facts=facts).filter(pl.col("status") == "active")
        states = facts.states.select(
            "loan_id", "next_due_date", "next_due_amount", "outstanding_principal"
        )
        a = accounts.join(states, on="loan_id", how="left").sort("loan_id")
        overdue = a["overdue_total"].fill_null(0).to_numpy().astype(np.int64)
        principal = a["outstanding"].fill_null(0).to_numpy().astype(np.int64)
        balance = np.maximum(principal, overdue)
        due_amount = a["next_due_amount"].fill_null(0).to_numpy().astype(np.int64)
        # a loan with nothing more to fall due still owes its arrears; one instalment is
        # then the arrears themselves (they are due at once)
        instalment = np.where(due_amount > 0, due_amount, np.maximum(overdue, 1)).astype(np.int64)
        dtd = a["days_to_due"].to_numpy()
        days_to_due = np.where(
            np.isnan(dtd.astype(float)) | (dtd.astype(float) <= 0), CYCLE_DAYS, dtd
        ).astype(np.int64)
        days_to_due = np.minimum(days_to_due, CYCLE_DAYS)
        borrowers = a["borrower_id"].unique()
        mine = pl.col("borrower_id").is_in(borrowers.implode())
        return cls(
            loan_id=a["loan_id"].to_numpy().astype(np.int64),
            borrower_id=a["borrower_id"].to_numpy().astype(np.int64),
            tier=np.array(a["behaviour_tier"].to_list(), dtype=object),
            ew_tier=np.array(a["ew_tier"].to_list(), dtype=object),
            ew_pd=a["ew_pd"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
            propensity=a["propensity"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
            hardship=a["hardship"].fill_null(False).to_numpy(),
            dpd=a["dpd"].fill_null(0).to_numpy().astype(np.int64),
            overdue=overdue,
            balance=balance,
            instalment=instalment,
            days_to_due=days_to_due,
            points=contact_points(conn).filter(mine),
            zones=borrower_zones(conn).filter(mine),
            holds=facts.holds.filter(
                mine & (pl.col("until").is_null() | (pl.col("until") > day_end(as_of)))
            ),
        )
