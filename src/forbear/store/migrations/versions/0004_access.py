"""Access and retention: borrowers' personal data may be erased (CN.RECORD.RETAIN).

A borrower anonymised by ``forbear retention purge`` keeps its row (loans and payments
still point at it for accounting) but loses its national ID, mobile and their blind
indexes, so those columns become nullable; ``anonymised_at`` records when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ERASABLE = (
    ("national_id_enc", sa.LargeBinary()),
    ("national_id_bidx", sa.String(length=64)),
    ("mobile_enc", sa.LargeBinary()),
    ("mobile_bidx", sa.String(length=64)),
)


def upgrade() -> None:
    with op.batch_alter_table("borrowers") as batch:
        for name, type_ in _ERASABLE:
            batch.alter_column(name, existing_type=type_, nullable=True)
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Refuses (NOT NULL violation) once any borrower has been anonymised: erased data
    # cannot come back, and a downgrade must not pretend otherwise.
    with op.batch_alter_table("borrowers") as batch:
        batch.drop_column("anonymised_at")
        for name, type_ in _ERASABLE:
            batch.alter_column(name, existing_type=type_, nullable=False)
