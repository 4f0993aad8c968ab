"""Validation of imported loan-book rows: string frames in, typed frames and row errors out.

Pure functions over Polars frames (no file or database access): the import service
reads a file into an all-string frame with a ``_line`` column, and these functions
parse every column, collect every problem as a :class:`~forbear.domain.errors.RowError`
and return the rows that passed, typed. The column contract is ``docs/import.md``.
"""

from forbear.domain.intake.columns import ColumnSpec, normalise_headers
from forbear.domain.intake.loans import LOAN_COLUMNS, validate_loans
from forbear.domain.intake.payments import PAYMENT_COLUMNS, validate_payments
from forbear.domain.intake.result import Checked

__all__ = [
    "LOAN_COLUMNS",
    "PAYMENT_COLUMNS",
    "Checked",
    "ColumnSpec",
    "normalise_headers",
    "validate_loans",
    "validate_payments",
]
