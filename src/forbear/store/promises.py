"""Promises to pay (issue 6): the ``promises`` table and its bulk readers; imported by
:mod:`forbear.store.area_models`.

At most one promise per loan is open at a time: a partial unique index enforces it on
both backends, so two agents racing to record a promise cannot both succeed. A promise
that supersedes another points back at it (``replaces_id``); the old one is cancelled.
Readers return the frame contracts of :mod:`forbear.domain.promises` and work inside the
caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    and_,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.domain import promises as contracts
from forbear.domain.ledger import schema as ledger
from forbear.domain.promises import PromiseSource, PromiseStatus
from forbear.store.bulk import read_frame
from forbear.store.models import (
    Base,
    Instalment,
    Loan,
    Payment,
    Product,
    UTCDateTime,
    _created_at,
    _one_of,
    utcnow,
)

BIG_ID = BigInteger().with_variant(Integer, "sqlite")
OPEN_ONLY = text("status = 'open'")


class Promise(Base):
    """A promise to pay ``amount`` fen by ``promised_on``, and what came of it."""

    __tablename__ = "promises"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_paid >= 0", name="amount_paid_not_negative"),
        CheckConstraint("promised_on >= taken_on", name="promised_after_taken"),
        CheckConstraint(_one_of("source", PromiseSource), name="source"),
        CheckConstraint(_one_of("status", PromiseStatus), name="status"),
        CheckConstraint("(status = 'open') = (resolved_on IS NULL)", name="resolved_unless_open"),
        Index(
            "uq_promises_open_loan_id",
            "loan_id",
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        ),
        Index("ix_promises_status_promised_on", "status", "promised_on"),
        Index("ix_promises_promised_on", "promised_on"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    promised_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    taken_by: Mapped[str] = mapped_column(String(100))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_on: Mapped[date] = mapped_column(Date)  # business date of taken_at
    contact_attempt_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("contact_attempts.id")
    )
    replaces_id: Mapped[int | None] = mapped_column(BIG_ID, ForeignKey("promises.id"))
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    resolved_on: Mapped[date | None] = mapped_column(Date)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))  # code: cancelled, superseded
    cancel_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # vault: typed reason
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


# --- bulk readers -------------------------------------------------------------------------

_P = Promise


def read_records(
    conn: Connection,
    *,
    promised_from: date | None = None,
    promised_to: date | None = None,
    taken_by_day: date | None = None,
) -> pl.DataFrame:
    """Stored promises as ``RECORDS``, ordered by ``promise_id``; optionally only those
    promised in ``[promised_from, promised_to]`` or taken on or before ``taken_by_day``."""
    stmt = select(
        _P.id.label("promise_id"),
        _P.loan_id,
        _P.source,
        _P.amount,
        _P.taken_on,
        _P.promised_on,
        _P.status,
        _P.amount_paid,
        _P.resolved_on,
    ).order_by(_P.id)
    if promised_from is not None:
        stmt = stmt.where(_P.promised_on >= promised_from)
    if promised_to is not None:
        stmt = stmt.where(_P.promised_on <= promised_to)
    if taken_by_day is not None:
        stmt = stmt.where(_P.taken_on <= taken_by_day)
    return read_frame(conn, stmt, contracts.RECORDS)


# What the daily update reads: the promises to decide with what is stored about them.
CANDIDATES: dict[str, pl.DataType] = {
    **contracts.PROMISES,
    "status": pl.String(),
    "amount_paid": pl.Int64(),
}


def candidates_filter(as_of: date, recheck_from: date) -> ColumnElement[bool]:
    """Promises a run for ``as_of`` decides: open ones taken by then, and broken or partly
    kept ones promised on or after ``recheck_from`` (a late-posted payment may revise them)."""
    return (_P.taken_on <= as_of) & (
        (_P.status == PromiseStatus.OPEN.value)
        | (
            _P.status.in_([PromiseStatus.BROKEN.value, PromiseStatus.PARTLY_KEPT.value])
            & (_P.promised_on >= recheck_from)
        )
    )


def read_candidates(
    conn: Connection, where: ColumnElement[bool], *, loan_id: int | None = None
) -> pl.DataFrame:
    """Promises matching ``where`` as ``CANDIDATES``, ordered by ``promise_id``."""
    stmt = (
        select(
            _P.id.label("promise_id"),
            _P.loan_id,
            _P.amount,
            _P.taken_at,
            _P.taken_on,
            _P.promised_on,
            _P.status,
            _P.amount_paid,
        )
        .where(where)
        .order_by(_P.id)
    )
    if loan_id is not None:
        stmt = stmt.where(_P.loan_id == loan_id)
    return read_utc(conn, stmt, CANDIDATES, order_by=["promise_id"])


def read_promise_payments(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    since: date,
    up_to: date,
    loan_id: int | None = None,
) -> pl.DataFrame:
    """``PROMISE_PAYMENTS`` paid ``since``..``up_to`` on the loans of the promises matching
    ``where`` (a subquery, not a list of ids), ordered by loan, day and payment id."""
    loans = select(_P.loan_id).where(where)
    if loan_id is not None:
        loans = loans.where(_P.loan_id == loan_id)
    stmt = (
        select(
            Payment.id.label("payment_id"),
            Payment.loan_id,
            Payment.paid_on,
            Payment.paid_at,
            Payment.amount,
        )
        .where(
            Payment.loan_id.in_(loans.scalar_subquery()),
            Payment.paid_on >= since,
            Payment.paid_on <= up_to,
        )
        .order_by(Payment.loan_id, Payment.paid_on, Payment.id)
    )
    return read_utc(
        conn, stmt, contracts.PROMISE_PAYMENTS, order_by=["loan_id", "paid_on", "payment_id"]
    )


def read_loan_book(conn: Connection, loan_id: int, up_to: date) -> tuple[pl.DataFrame, ...]:
    """One loan's ``LOANS`` and ``PAYMENTS`` (paid by ``up_to``) frames, for running the
    ledger on that loan alone (the online path)."""
    loans = read_frame(
        conn,
        select(
            Loan.id.label("loan_id"),
            Product.code.label("product_code"),
            Loan.principal,
            Loan.term_months,
            Loan.annual_rate_bp,
            Loan.start_date,
            Loan.first_due_date,
            Loan.written_off_on,
        )
        .join(Product, Product.id == Loan.product_id)
        .where(Loan.id == loan_id),
        ledger.LOANS,
    )
    payments = read_frame(
        conn,
        select(Payment.id.label("payment_id"), Payment.loan_id, Payment.paid_on, Payment.amount)
        .where(Payment.loan_id == loan_id, Payment.paid_on <= up_to)
        .order_by(Payment.paid_on, Payment.id),
        ledger.PAYMENTS,
    )
    return loans, payments


WINDOW_PAYMENTS: dict[str, pl.DataType] = {
    "payment_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "paid_on": pl.Date(),
    "amount": pl.Int64(),
}
LOAN_SUMS: dict[str, pl.DataType] = {"loan_id": pl.Int64(), "total": pl.Int64()}
DUES: dict[str, pl.DataType] = {"loan_id": pl.Int64(), "due_date": pl.Date(), "due": pl.Int64()}


@dataclass(frozen=True)
class ArrearsWindow:
    """What it takes to tell which payments of a window were made while the loan was
    behind, read with the sums done by the database (the demo's promises): the payments
    paid in ``[since, until)``; per loan, what was paid before ``since`` and what fell due
    before ``dues_from``; and the instalments due in ``[dues_from, until)``."""

    payments: pl.DataFrame  # WINDOW_PAYMENTS
    paid_before: pl.DataFrame  # LOAN_SUMS
    due_before: pl.DataFrame  # LOAN_SUMS
    dues: pl.DataFrame  # DUES


def read_arrears_window(
    conn: Connection, *, since: date, until: date, dues_from: date
) -> ArrearsWindow:
    in_window = and_(Payment.paid_on >= since, Payment.paid_on < until)
    loans = select(Payment.loan_id).where(in_window).distinct().scalar_subquery()
    due = Instalment.principal + Instalment.interest + Instalment.fee
    return ArrearsWindow(
        payments=read_frame(
            conn,
            select(Payment.id.label("payment_id"), Payment.loan_id, Payment.paid_on, Payment.amount)
            .where(in_window)
            .order_by(Payment.loan_id, Payment.paid_on, Payment.id),
            WINDOW_PAYMENTS,
        ),
        paid_before=read_frame(
            conn,
            select(Payment.loan_id, func.sum(Payment.amount).label("total"))
            .where(Payment.paid_on < since, Payment.loan_id.in_(loans))
            .group_by(Payment.loan_id)
            .order_by(Payment.loan_id),
            LOAN_SUMS,
        ),
        due_before=read_frame(
            conn,
            select(Instalment.loan_id, func.sum(due).label("total"))
            .where(Instalment.due_date < dues_from, Instalment.loan_id.in_(loans))
            .group_by(Instalment.loan_id)
            .order_by(Instalment.loan_id),
            LOAN_SUMS,
        ),
        dues=read_frame(
            conn,
            select(Instalment.loan_id, Instalment.due_date, due.label("due"))
            .where(
                Instalment.due_date >= dues_from,
                Instalment.due_date < until,
                Instalment.loan_id.in_(loans),
            )
            .order_by(Instalment.loan_id, Instalment.due_date),
            DUES,
        ),
    )


def read_utc(
    conn: Connection,
    stmt: Select[*tuple[Any, ...]],
    schema: dict[str, pl.DataType],
    *,
    order_by: list[str],
) -> pl.DataFrame:
    """:func:`forbear.store.bulk.read_frame` for frames with UTC timestamps: on PostgreSQL
    they are rendered as UTC text first (COPY writes them in the session's zone with an
    offset, which the CSV reader would not parse to the contract)."""
    if conn.dialect.name != "postgresql":
        return read_frame(conn, stmt, schema)
    moments = [name for name, dtype in schema.items() if isinstance(dtype, pl.Datetime)]
    sub = stmt.subquery()
    outer = select(
        *(
            func.to_char(
                func.timezone("UTC", sub.c[name]), literal("YYYY-MM-DD HH24:MI:SS.US")
            ).label(name)
            if name in moments
            else sub.c[name]
            for name in schema
        )
    ).order_by(*(sub.c[name] for name in order_by))
    as_text = {name: (pl.String() if name in moments else dtype) for name, dtype in schema.items()}
    frame = read_frame(conn, outer, as_text)
    return frame.with_columns(
        pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        for name in moments
    ).select(pl.col(name).cast(dtype) for name, dtype in schema.items())


__all__ = [
    "CANDIDATES",
    "ArrearsWindow",
    "Promise",
    "candidates_filter",
    "read_arrears_window",
    "read_candidates",
    "read_loan_book",
    "read_promise_payments",
    "read_records",
    "read_utc",
]
