"""Plain data of the scalar ledger: one loan, its instalments, payments and state.

The scalar path is the executable specification of the ledger; the whole-book path (the
compiled walk in :mod:`.allocation`) must give the same integers for every loan of a book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """One row of ``schema.LOANS``."""

    loan_id: int
    product_code: str
    principal: int
    term_months: int
    annual_rate_bp: int
    start_date: date
    first_due_date: date
    written_off_on: date | None = None


@dataclass(frozen=True, slots=True)
class Instalment:
    """One row of ``schema.INSTALMENTS`` (contract amounts, fen)."""

    loan_id: int
    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int


@dataclass(frozen=True, slots=True)
class Payment:
    """One row of ``schema.PAYMENTS``."""

    payment_id: int
    loan_id: int
    paid_on: date
    amount: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """One row of ``schema.ALLOCATIONS``; ``seq`` is None for prepaid principal and credit."""

    payment_id: int
    loan_id: int
    seq: int | None
    component: str
    amount: int


@dataclass(frozen=True, slots=True)
class AccountState:
    """One row of ``schema.STATES``."""

    loan_id: int
    as_of: date
    status: str
    dpd: int
    bucket: str
    overdue_principal: int
    overdue_interest: int
    overdue_fee: int
    overdue_penalty: int
    overdue_total: int
    outstanding_principal: int
    oldest_unpaid_due_date: date | None
    next_due_date: date | None
    next_due_amount: int | None
    last_payment_date: date | None
    paid_total: int
    credit: int


@dataclass(frozen=True, slots=True)
class LedgerResult:
    state: AccountState
    allocations: list[Allocation]
