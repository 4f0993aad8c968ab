"""Lawful third-party location (issue 17, item 3): a contact attempt has a purpose,
``collect`` (discuss the debt; the default) or ``locate`` (ask an emergency contact or other
third party to have the debtor call back, without mentioning the debt; CN.3P.*).

Existing attempts are ``collect``, except those to a third party that were recorded as no
demand (``is_demand`` false), which can only have been location contacts.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempts") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(16), nullable=False, server_default="collect")
        )
        batch.create_check_constraint("purpose", "purpose IN ('collect', 'locate')")
    op.execute(
        "UPDATE contact_attempts SET purpose = 'locate' WHERE NOT is_demand "
        "AND party IN ('emergency_contact', 'other_third_party')"
    )


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts") as batch:
        batch.drop_constraint(op.f("ck_contact_attempts_purpose"), type_="check")
        batch.drop_column("purpose")
