"""Promises to pay (issue 6).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "('agent', 'portal', 'assistant', 'import')"
STATUSES = "('open', 'kept', 'partly_kept', 'broken', 'cancelled')"


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_promises_{column}_{target}")
    )


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "promises",
        sa.Column("id", big_id, nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("taken_by", sa.String(length=100), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("contact_attempt_id", big_id, nullable=True),
        sa.Column("replaces_id", big_id, nullable=True),
        sa.Column("amount_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_promises_amount_positive")),
        sa.CheckConstraint("amount_paid >= 0", name=op.f("ck_promises_amount_paid_not_negative")),
        sa.CheckConstraint(
            "promised_on >= taken_on", name=op.f("ck_promises_promised_after_taken")
        ),
        sa.CheckConstraint(f"source IN {SOURCES}", name=op.f("ck_promises_source")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_promises_status")),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_on IS NULL)",
            name=op.f("ck_promises_resolved_unless_open"),
        ),
        _fk("loan_id", "loans"),
        _fk("borrower_id", "borrowers"),
        _fk("contact_attempt_id", "contact_attempts"),
        _fk("replaces_id", "promises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index(op.f("ix_promises_loan_id"), "promises", ["loan_id"])
    op.create_index(op.f("ix_promises_borrower_id"), "promises", ["borrower_id"])
    op.create_index("ix_promises_status_promised_on", "promises", ["status", "promised_on"])
    op.create_index("ix_promises_promised_on", "promises", ["promised_on"])
    # At most one open promise per loan, on both backends.
    op.create_index(
        "uq_promises_open_loan_id",
        "promises",
        ["loan_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("uq_promises_open_loan_id", table_name="promises")
    op.drop_index("ix_promises_promised_on", table_name="promises")
    op.drop_index("ix_promises_status_promised_on", table_name="promises")
    op.drop_index(op.f("ix_promises_borrower_id"), table_name="promises")
    op.drop_index(op.f("ix_promises_loan_id"), table_name="promises")
    op.drop_table("promises")
