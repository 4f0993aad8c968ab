"""The assistant answers an SMS sender who is on no file (issue 14): an outbox row of
origin ``assistant`` may have no borrower and no loan, and then carries its destination
sealed in ``to_enc``; the conversation keeps such a sender's number sealed in
``assistant_conversations.sender_enc`` (for the answers an agent writes later).
Otherwise a stranger would get no answer where a borrower's number gets one, and that
would tell anyone whether a number belongs to a borrower.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHOSE = (
    "(borrower_id IS NOT NULL AND loan_id IS NOT NULL) "
    "OR (origin = 'assistant' AND to_enc IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("to_enc", sa.LargeBinary(), nullable=True))
        batch.alter_column("loan_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("borrower_id", existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint("whose", WHOSE)
    with op.batch_alter_table("assistant_conversations") as batch:
        batch.add_column(sa.Column("sender_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assistant_conversations") as batch:
        batch.drop_column("sender_enc")
    op.execute("DELETE FROM outbox WHERE borrower_id IS NULL OR loan_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_whose"), type_="check")
        batch.alter_column("borrower_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("loan_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("to_enc")
