"""Time the contact gate on a synthetic day: N planned contacts against M history rows.

python benchmarks/compliance_gate.py --plan 1000000 --history 30000000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from forbear.domain.compliance.config import default_rules
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import FLAGS, HOLDS


def synth(n_plan: int, n_hist: int, seed: int = 1) -> tuple[pl.LazyFrame, ...]:
    rng = np.random.default_rng(seed)
    borrowers = max(n_plan // 2, 1)
    day = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1e6)
    b = rng.integers(0, borrowers, n_plan)
    plan = pl.DataFrame(
        {
            "contact_id": np.arange(n_plan),
            "loan_id": b,
            "borrower_id": b,
            "contact_point_id": b * 10 + rng.integers(0, 3, n_plan),
            "channel": rng.choice(["call", "ai_call", "sms", "emergency"], n_plan),
            "provenance": rng.choice(
                ["contract", "supplied_by_debtor", "address_book"], n_plan, p=[0.6, 0.39, 0.01]
            ),
            "at": day + rng.integers(0, 86_400_000_000, n_plan),
            "agency_id": np.where(rng.random(n_plan) < 0.2, 7, -1),
            "discloses_debt": rng.random(n_plan) < 0.5,
            "is_demand": rng.random(n_plan) < 0.5,
        }
    ).with_columns(
        party=pl.when(pl.col("channel") == "emergency")
        .then(pl.lit("emergency_contact"))
        .otherwise(pl.lit("debtor")),
        channel=pl.when(pl.col("channel") == "emergency").then(pl.lit("call")).otherwise("channel"),
        at=pl.col("at").cast(pl.Datetime("us", "UTC")),
        timezone=pl.lit("Asia/Shanghai"),
        agency_id=pl.when(pl.col("agency_id") >= 0).then(pl.col("agency_id")),
    )
    hb = rng.integers(0, borrowers * 10, n_hist)  # most history rows are other borrowers'
    hist = pl.DataFrame(
        {
            "borrower_id": hb,
            "loan_id": hb,
            "contact_point_id": hb * 10 + rng.integers(0, 3, n_hist),
            "channel": rng.choice(["call", "ai_call", "sms"], n_hist),
            "party": rng.choice(["debtor", "emergency_contact"], n_hist, p=[0.9, 0.1]),
            "at": day - rng.integers(0, 365 * 86_400_000_000, n_hist),
            "outcome": rng.choice(
                ["connected", "no_answer", "busy", "delivered", "refused"], n_hist
            ),
            "agency_id": np.full(n_hist, -1),
        }
    ).with_columns(
        pl.col("at").cast(pl.Datetime("us", "UTC")), pl.lit(None, dtype=pl.Int64).alias("agency_id")
    )
    loans = np.arange(borrowers)
    flags = (
        pl.DataFrame({"loan_id": loans, "borrower_id": loans})
        .with_columns(
            *(
                pl.lit(None, dtype=t).alias(k)
                for k, t in FLAGS.items()
                if k not in ("loan_id", "borrower_id")
            )
        )
        .with_columns(
            agency_id=pl.lit(7, dtype=pl.Int64),
            agency_notified_at=pl.lit(datetime(2026, 1, 1, tzinfo=UTC)),
        )
    )
    holds = pl.DataFrame(schema=HOLDS)
    return plan.lazy(), hist.lazy(), flags.lazy(), holds.lazy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", type=int, default=100_000)
    ap.add_argument("--history", type=int, default=3_000_000)
    a = ap.parse_args()
    frames = [f.collect().lazy() for f in synth(a.plan, a.history)]
    rules = default_rules("CN")
    for name, r in (("CN", rules), ("US", default_rules("US"))):
        t = time.perf_counter()
        out = gate(*frames, r).collect()
        dt = time.perf_counter() - t
        print(
            f"{name}: {a.plan:,} planned x {a.history:,} history: {dt:.2f} s, "
            f"allowed {out['allowed'].sum():,}"
        )
    one = frames[0].head(1)
    t = time.perf_counter()
    for _ in range(20):
        gate(one, *frames[1:], rules).collect()
    print(f"one-row plan against the same frames: {(time.perf_counter() - t) / 20 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
