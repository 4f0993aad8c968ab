"""Free text encrypted at rest: columns for the vault's ciphertext of the free text that
borrowers and staff type (complaint descriptions, resolutions, extension reasons, case
lessons, hold reasons, promise and plan cancel reasons, legal case notes and closing
reasons).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, encrypted column)
ENCRYPTED_TEXT: tuple[tuple[str, str], ...] = (
    ("complaints", "description_enc"),
    ("complaints", "extension_reason_enc"),
    ("complaints", "resolution_enc"),
    ("case_library", "lesson_enc"),
    ("holds", "reason_enc"),
    ("promises", "cancel_reason_enc"),
    ("plans", "cancel_reason_enc"),
    ("legal_cases", "closed_reason_enc"),
    ("legal_case_events", "notes_enc"),
)


def upgrade() -> None:
    for table, column in ENCRYPTED_TEXT:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(ENCRYPTED_TEXT):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
