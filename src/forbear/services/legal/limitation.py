"""The limitation watch: open cases and queued accounts whose limitation date is near or past."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import polars as pl
from sqlalchemy import Connection, select

from forbear.domain.errors import ValidationError
from forbear.domain.legal.lifecycle import FINAL
from forbear.domain.legal.limitation import expiring, limitation_date_expr
from forbear.services.legal.configuration import config_in_force
from forbear.services.situation import limitation_years
from forbear.store.contacts import read_flags
from forbear.store.legal import (
    LegalCase,
    LegalQueueEntry,
)
from forbear.store.models import Loan

# ----------------------------------------------------------------------- limitation


def limitation_watch(conn: Connection, as_of: date, within_days: int | None = None) -> pl.DataFrame:
    """Open cases and queued accounts whose limitation date is within ``within_days``
    (default: the configuration's ``expiring_within_days``) or already past, soonest
    first: ``loan_id, loan_ref, case_id, stage, limitation_date, days_left, expired``."""
    days = (
        within_days
        if within_days is not None
        else config_in_force(conn).eligibility.expiring_within_days
    )
    if days < 0:
        raise ValidationError("within", "a number of days, 0 or more")
    q, c = LegalQueueEntry, LegalCase
    rows = conn.execute(
        select(q.loan_id, Loan.external_ref, c.id, c.stage)
        .join(Loan, Loan.id == q.loan_id)
        .outerjoin(c, (c.queue_entry_id == q.id) & c.stage.not_in([s.value for s in FINAL]))
        .where(q.status.in_(["queued", "case_opened"]))
    ).all()
    watched = pl.DataFrame(
        [(int(r[0]), str(r[1]), r[2], r[3]) for r in rows],
        schema={
            "loan_id": pl.Int64,
            "loan_ref": pl.String,
            "case_id": pl.Int64,
            "stage": pl.String,
        },
        orient="row",
    )
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    limits = (
        read_flags(conn, at=at).lazy().select("loan_id", limitation_date_expr(limitation_years()))
    )
    return (
        expiring(watched.lazy().join(limits, on="loan_id", how="left"), as_of, days)
        .select(
            "loan_id", "loan_ref", "case_id", "stage", "limitation_date", "days_left", "expired"
        )
        .collect()
    )
