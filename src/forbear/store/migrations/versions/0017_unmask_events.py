"""The unmask throttle: one row per unmasking by a staff member (who, which borrower id,
when), counted per user and window (forbear.web.unmasking).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmask_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_unmask_events_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmask_events")),
    )
    op.create_index("ix_unmask_events_user_id_at", "unmask_events", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_unmask_events_user_id_at", table_name="unmask_events")
    op.drop_table("unmask_events")
