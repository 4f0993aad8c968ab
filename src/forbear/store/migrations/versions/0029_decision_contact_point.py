"""The daily run plans location contacts (issue 17, item 3): a decision and a work queue
item name the contact point the run planned the contact for (a location contact goes to
the debtor's emergency contact, not to the debtor's own number). Null for actions that
are not contacts and for rows written before this change.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("contact_point_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("work_queue") as batch:
        batch.add_column(sa.Column("contact_point_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_queue") as batch:
        batch.drop_column("contact_point_id")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("contact_point_id")
