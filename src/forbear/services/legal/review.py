"""The legal review queue as a legal officer works it: one page at a time, sorted by the
claim amount or the limitation date, filtered by stage, amount range and "limitation
within N days".

The queue itself (who is eligible, refreshed by the daily run) is :mod:`.queue`; this
module only reads it, with each entry's claim (the ledger state of the business day:
outstanding principal plus overdue interest, penalty interest and fees, as the documents
claim it, :mod:`forbear.domain.legal.amounts`) and its limitation date
(:mod:`forbear.domain.legal.limitation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

import polars as pl
from sqlalchemy import Connection, select

from forbear.domain.legal.limitation import limitation_date_expr
from forbear.domain.legal.refusals import LegalRefused
from forbear.services.legal.queue import QueueItem, queue
from forbear.services.situation import limitation_years
from forbear.store import bulk
from forbear.store.contacts import read_flags
from forbear.store.models import Loan

Sort = Literal["queued", "amount", "-amount", "limitation", "-limitation"]
SORTS: tuple[str, ...] = ("queued", "amount", "-amount", "limitation", "-limitation")
WAITING = "waiting"  # the stage filter of entries without a case yet
PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page asks for; amounts in fen, ``within`` in days."""

    sort: str = "queued"
    stage: str | None = None  # "waiting", or a case stage
    min_amount: int | None = None
    max_amount: int | None = None
    within: int | None = None  # limitation date at most this many days away (or past)
    page: int = 1
    per_page: int = PER_PAGE

    def check(self) -> QueueFilter:
        if self.sort not in SORTS:
            raise LegalRefused("sort", f"unknown sort {self.sort!r}", "legal.queue.sort")
        if self.page < 1:
            raise LegalRefused("page", "pages start at 1", "legal.queue.page")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise LegalRefused(
                "per_page",
                f"1 to {MAX_PER_PAGE} rows a page",
                "legal.queue.per_page",
                max=MAX_PER_PAGE,
            )
        for field, value in (("min_amount", self.min_amount), ("max_amount", self.max_amount)):
            if value is not None and value < 0:
                raise LegalRefused(field, "an amount is 0 or more", "legal.queue.amount_negative")
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            raise LegalRefused(
                "max_amount", "the upper amount is below the lower one", "legal.queue.amount_order"
            )
        if self.within is not None and not 0 <= self.within <= 3660:
            raise LegalRefused("within", "0 to 3660 days", "legal.queue.within")
        return self


@dataclass(frozen=True)
class QueueRow:
    entry_id: int
    loan_id: int
    loan_ref: str
    queued_on: date
    status: str
    reasons: list[dict[str, Any]]
    case_id: int | None
    stage: str | None
    claim: int | None  # fen; None without a ledger state on the day
    overdue: int | None  # fen
    dpd: int | None
    limitation_date: date | None
    days_left: int | None


@dataclass(frozen=True)
class QueuePage:
    as_of: date
    rows: list[QueueRow]
    total: int  # entries that pass the filter
    page: int
    pages: int
    per_page: int
    filter: QueueFilter


_FRAME = {
    "entry_id": pl.Int64,
    "loan_id": pl.Int64,
    "queued_on": pl.Date,
    "stage": pl.String,
}


def queue_page(
    conn: Connection, day: date, wanted: QueueFilter, *, seen: set[int] | None
) -> QueuePage:
    """One page of the open queue entries of ``day`` (loans in ``seen`` only, unless
    None), filtered and sorted as ``wanted`` says (ties by queue order)."""
    wanted = wanted.check()
    items = [i for i in queue(conn, day) if seen is None or i.loan_id in seen]
    by_entry: dict[int, QueueItem] = {i.entry_id: i for i in items}
    frame = pl.DataFrame(
        [(i.entry_id, i.loan_id, i.queued_on, i.stage) for i in items],
        schema=_FRAME,
        orient="row",
    ).with_row_index("order")
    facts = _facts(conn, day, [i.loan_id for i in items])
    frame = frame.join(facts, on="loan_id", how="left").with_columns(
        (pl.col("limitation_date") - pl.lit(day)).dt.total_days().cast(pl.Int32).alias("days_left")
    )
    if wanted.stage == WAITING:
        frame = frame.filter(pl.col("stage").is_null())
    elif wanted.stage:
        frame = frame.filter(pl.col("stage") == wanted.stage)
    if wanted.min_amount is not None:
        frame = frame.filter(pl.col("claim") >= wanted.min_amount)
    if wanted.max_amount is not None:
        frame = frame.filter(pl.col("claim") <= wanted.max_amount)
    if wanted.within is not None:
        frame = frame.filter(pl.col("days_left") <= wanted.within)
    column = {"amount": "claim", "limitation": "days_left"}.get(wanted.sort.lstrip("-"))
    if column is None:
        frame = frame.sort("order")
    else:
        frame = frame.sort(
            [column, "order"], descending=[wanted.sort.startswith("-"), False], nulls_last=True
        )
    total = frame.height
    pages = max(1, -(-total // wanted.per_page))
    page = min(wanted.page, pages)
    shown = frame.slice((page - 1) * wanted.per_page, wanted.per_page)
    rows = []
    for r in shown.iter_rows(named=True):
        item = by_entry[r["entry_id"]]
        rows.append(
            QueueRow(
                entry_id=item.entry_id,
                loan_id=item.loan_id,
                loan_ref=item.loan_ref,
                queued_on=item.queued_on,
                status=item.status,
                reasons=item.reasons,
                case_id=item.case_id,
                stage=item.stage,
                claim=r["claim"],
                overdue=r["overdue"],
                dpd=r["dpd"],
                limitation_date=r["limitation_date"],
                days_left=r["days_left"],
            )
        )
    return QueuePage(day, rows, total, page, pages, wanted.per_page, wanted)


def _facts(conn: Connection, day: date, loan_ids: list[int]) -> pl.DataFrame:
    """``loan_id, claim, overdue, dpd, limitation_date`` of the queued loans on ``day``."""
    schema = {
        "loan_id": pl.Int64,
        "claim": pl.Int64,
        "overdue": pl.Int64,
        "dpd": pl.Int32,
        "limitation_date": pl.Date,
    }
    if not loan_ids:
        return pl.DataFrame(schema=schema)
    wanted = pl.DataFrame({"loan_id": loan_ids}, schema={"loan_id": pl.Int64})
    states = bulk.read_states(
        conn,
        day,
        (
            "loan_id",
            "dpd",
            "outstanding_principal",
            "overdue_interest",
            "overdue_penalty",
            "overdue_fee",
            "overdue_total",
        ),
    ).join(wanted, on="loan_id", how="semi")
    claims = states.select(
        "loan_id",
        (
            pl.col("outstanding_principal").fill_null(0)
            + pl.col("overdue_interest").fill_null(0)
            + pl.col("overdue_penalty").fill_null(0)
            + pl.col("overdue_fee").fill_null(0)
        )
        .cast(pl.Int64)
        .alias("claim"),
        pl.col("overdue_total").cast(pl.Int64).alias("overdue"),
        pl.col("dpd").cast(pl.Int32),
    )
    borrowers = [
        int(b)
        for b in conn.execute(
            select(Loan.borrower_id).where(Loan.id.in_(loan_ids)).distinct()
        ).scalars()
    ]
    at = datetime.combine(day, time(23, 59, 59), UTC)
    limits = (
        read_flags(conn, at=at, borrower_ids=borrowers)
        .join(wanted, on="loan_id", how="semi")
        .select(pl.col("loan_id").cast(pl.Int64), limitation_date_expr(limitation_years()))
    )
    return (
        wanted.join(claims, on="loan_id", how="left")
        .join(limits, on="loan_id", how="left")
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )
