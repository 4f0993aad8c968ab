"""The daily run reads every payment of the book ordered by ``(loan_id, paid_on, id)``
with its amount: an index holding those four columns answers it from the index alone
(on the 100,000-borrower SQLite book: 1.3 -> 0.3 CPU s for 1M payments, the table's rows
no longer fetched one by one). It replaces the ``(loan_id, paid_on)`` index, of which it
is an extension (every query that used that one can use this).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payments_loan_id_paid_on_id_amount",
        "payments",
        ["loan_id", "paid_on", "id", "amount"],
        unique=False,
    )
    op.drop_index("ix_payments_loan_id_paid_on", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_loan_id_paid_on", "payments", ["loan_id", "paid_on"], unique=False)
    op.drop_index("ix_payments_loan_id_paid_on_id_amount", table_name="payments")
