"""Which business day a reader sees: the book's latest stored states and the latest
completed daily run, never after the caller's ``today`` (the lender's business day from
the front end's clock)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, func, select

from forbear.store.models import AccountState
from forbear.store.runs import Run, RunStatus


def book_date(conn: Connection, today: date) -> date | None:
    """The latest date with stored account states, not after ``today``."""
    return conn.execute(
        select(func.max(AccountState.as_of)).where(AccountState.as_of <= today)
    ).scalar()


def queue_date(conn: Connection, today: date) -> date | None:
    """The latest business date, not after ``today``, with a completed daily run."""
    return conn.execute(
        select(func.max(Run.as_of)).where(
            Run.as_of <= today, Run.status == RunStatus.COMPLETED.value
        )
    ).scalar()
