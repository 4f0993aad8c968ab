"""Which accounts go to the legal review queue, and why.

One pure function over a frame of accounts (:data:`LEGAL_ACCOUNTS`), used by the daily
refresh of the queue on the whole book and, on a one-row frame, when a case is opened
(DESIGN.md "The one idea"). An account is eligible when **all** of these hold (defaults in
``legal_default.yaml``):

- ``dpd``: at least ``min_dpd`` days past due;
- ``engagement``: at least ``min_broken_promises`` broken promises in the last 90 days,
  **or** no conversation with the debtor for ``no_contact_days`` (never counts as none);
- ``balance``: the claimable amount (outstanding principal plus overdue interest, penalty
  and fees) at least ``min_balance`` fen;
- ``status``: the loan is not paid off (a written-off debt is still owed);
- ``no_hold``: no open hold that stops collection (dispute, complaint, cease, lawyer,
  deceased, ...), and no vulnerable-customer flag;
- ``no_plan``: no active repayment plan;
- ``limitation``: the limitation period has not run (CN.LIMITATION; 民法典 art. 188).

Eligibility only puts an account in front of a person: a case is opened by someone with
``legal.manage``, never automatically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from forbear.domain.legal.config import Eligibility

# One row per account; built by the service from the ledger state, holds, limitation,
# promises, plans and the contact history.
LEGAL_ACCOUNTS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "status": pl.String(),  # active | paid_off | written_off
    "dpd": pl.Int32(),
    "outstanding_principal": pl.Int64(),
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "overdue_penalty": pl.Int64(),
    "overdue_fee": pl.Int64(),
    "broken_promises_90d": pl.Int32(),
    "days_since_last_contact": pl.Int32(),  # null: no conversation with the debtor, ever
    "hold_any": pl.Boolean(),
    "hardship": pl.Boolean(),  # a vulnerable-customer hold
    "active_plan": pl.Boolean(),
    "limitation_expired": pl.Boolean(),
}

# The criteria, in the order they are reported.
CRITERIA = ("dpd", "engagement", "balance", "status", "no_hold", "no_plan", "limitation")

# Columns added by :func:`assess`.
ASSESSED: dict[str, pl.DataType] = {
    "claimable": pl.Int64(),
    **{f"ok_{name}": pl.Boolean() for name in CRITERIA},
    "eligible": pl.Boolean(),
    "failed": pl.List(pl.String()),
}


def claimable() -> pl.Expr:
    """Outstanding principal plus overdue interest, penalty and fees (fen)."""
    return (
        pl.col("outstanding_principal")
        + pl.col("overdue_interest")
        + pl.col("overdue_penalty")
        + pl.col("overdue_fee")
    )


def assess(accounts: pl.LazyFrame, rules: Eligibility) -> pl.LazyFrame:
    """``accounts`` (LEGAL_ACCOUNTS) with one ``ok_<criterion>`` column per criterion, the
    claimable amount, ``eligible`` and the names of the ``failed`` criteria."""
    no_contact = pl.col("days_since_last_contact").is_null() | (
        pl.col("days_since_last_contact") >= rules.no_contact_days
    )
    hold = pl.col("hold_any").fill_null(False)
    if rules.exclude_vulnerable:
        hold = hold | pl.col("hardship").fill_null(False)
    checks: dict[str, pl.Expr] = {
        "dpd": pl.col("dpd").fill_null(0) >= rules.min_dpd,
        "engagement": (pl.col("broken_promises_90d").fill_null(0) >= rules.min_broken_promises)
        | no_contact,
        "balance": pl.col("claimable") >= rules.min_balance,
        "status": pl.col("status") != "paid_off",
        "no_hold": ~hold if rules.require_no_hold else pl.lit(True),
        "no_plan": (
            ~pl.col("active_plan").fill_null(False)
            if rules.require_no_active_plan
            else pl.lit(True)
        ),
        "limitation": (
            ~pl.col("limitation_expired").fill_null(False)
            if rules.require_limitation_not_expired
            else pl.lit(True)
        ),
    }
    failed = pl.concat_list(
        [pl.when(~pl.col(f"ok_{name}")).then(pl.lit(name)).otherwise(None) for name in CRITERIA]
    ).list.drop_nulls()
    return (
        accounts.select(pl.col(c).cast(t) for c, t in LEGAL_ACCOUNTS.items())
        .with_columns(claimable().alias("claimable"))
        .with_columns(checks[name].fill_null(False).alias(f"ok_{name}") for name in CRITERIA)
        .with_columns(pl.all_horizontal(f"ok_{name}" for name in CRITERIA).alias("eligible"))
        .with_columns(failed.alias("failed"))
    )


def reasons(row: Mapping[str, Any], rules: Eligibility) -> list[dict[str, Any]]:
    """The criteria of one assessed row, each with whether it held and the values behind it
    (what is stored with a queue entry). Reads the ``ok_*`` columns: never re-decides."""
    broken = int(row["broken_promises_90d"] or 0)
    silent = row["days_since_last_contact"]
    return [
        {"criterion": "dpd", "held": row["ok_dpd"], "value": row["dpd"], "min": rules.min_dpd},
        {
            "criterion": "engagement",
            "held": row["ok_engagement"],
            "broken_promises_90d": broken,
            "min_broken_promises": rules.min_broken_promises,
            "days_since_last_contact": silent,
            "no_contact_days": rules.no_contact_days,
        },
        {
            "criterion": "balance",
            "held": row["ok_balance"],
            "value": row["claimable"],
            "min": rules.min_balance,
        },
        {"criterion": "status", "held": row["ok_status"], "value": row["status"]},
        {
            "criterion": "no_hold",
            "held": row["ok_no_hold"],
            "hold_any": bool(row["hold_any"]),
            "vulnerable": bool(row["hardship"]),
        },
        {
            "criterion": "no_plan",
            "held": row["ok_no_plan"],
            "active_plan": bool(row["active_plan"]),
        },
        {
            "criterion": "limitation",
            "held": row["ok_limitation"],
            "expired": bool(row["limitation_expired"]),
        },
    ]


def summary(reasons_: list[dict[str, Any]]) -> str:
    """A short English line for operators: which criteria held, with their values."""
    parts = []
    for item in reasons_:
        name = item["criterion"]
        mark = "" if item["held"] else "NOT "
        if name == "dpd":
            parts.append(f"{mark}dpd {item['value']}>={item['min']}")
        elif name == "engagement":
            silent = item["days_since_last_contact"]
            contact = "never contacted" if silent is None else f"{silent}d since contact"
            parts.append(f"{mark}broken promises {item['broken_promises_90d']} / {contact}")
        elif name == "balance":
            parts.append(f"{mark}balance {item['value'] / 100:,.2f}>={item['min'] / 100:,.2f}")
        elif not item["held"]:
            parts.append(f"NOT {name}")
    return "; ".join(parts)
