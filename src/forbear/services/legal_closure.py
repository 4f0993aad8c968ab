"""Whether a loan's legal case closes it to a repayment plan of collections' own.

Asked by :func:`forbear.services.plans.offer_plan` (and plan acceptance); the legal
services re-export it. It lives here, under both, so plans need not import the legal
services (which read the ACCOUNT frame, which reads the plans' flags): no import circle.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, select

from forbear.domain.legal.lifecycle import Stage
from forbear.store.legal import LegalCase


def legal_closure(conn: Connection, loan_id: int, as_of: date) -> str | None:
    """Why a loan may not get a repayment plan from collections because of its legal case
    (asked by :func:`forbear.services.plans.offer_plan`): a settlement reached through a
    case fixes the terms, and after a judgment the court's decision governs repayment, so any new
    arrangement goes through the legal team. ``None`` when the legal area has no
    objection (no case, or a case in review, demand or filing, or closed)."""
    c = LegalCase
    row = conn.execute(
        select(c.id, c.stage, c.stage_on)
        .where(
            c.loan_id == loan_id,
            c.stage.in_([Stage.SETTLED.value, Stage.JUDGMENT.value, Stage.ENFORCEMENT.value]),
            c.stage_on <= as_of,
        )
        .order_by(c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    if row.stage == Stage.SETTLED.value:
        return f"settled through legal case {row.id} on {row.stage_on.isoformat()}"
    return f"legal case {row.id} is at {row.stage} since {row.stage_on.isoformat()}: ask legal"
