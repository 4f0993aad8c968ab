"""The outbox remembers the agency an agency agent's message was sent for (the gate applies
the agency rules again at the moment of sending), and counts by day, channel and status
read from an index alone (the dashboard's outreach figures, the metrics).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch.create_index(
            "ix_outbox_as_of_channel_status", ["as_of", "channel", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_as_of_channel_status")
        batch.drop_column("agency_id")
