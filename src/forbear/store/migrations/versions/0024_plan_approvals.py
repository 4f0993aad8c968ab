"""Beyond-authority plan approvals (issue 15, item 2): submission, reason, decision.

``plan_approvals``: a plan an agent may not offer, submitted with a reason for a
supervisor's decision (pending -> approved | adjusted | refused | superseded); at most one
pending submission per loan (a partial unique index, SQLite and PostgreSQL). The typed
reasons are encrypted with the vault.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "status = 'pending'"


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("CURRENT_TIMESTAMP"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "plan_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_type", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.CheckConstraint(
            "plan_type IN ('deferral', 'restructure', 'settlement', 'hardship')",
            name=op.f("ck_plan_approvals_plan_type"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'adjusted', 'refused', 'superseded')",
            name=op.f("ck_plan_approvals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_plan_approvals_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_approvals_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_approvals")),
    )
    op.create_index("ix_plan_approvals_status_id", "plan_approvals", ["status", "id"], unique=False)
    op.create_index(
        "ux_plan_approvals_one_pending_per_loan",
        "plan_approvals",
        ["loan_id"],
        unique=True,
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ux_plan_approvals_one_pending_per_loan", table_name="plan_approvals")
    op.drop_index("ix_plan_approvals_status_id", table_name="plan_approvals")
    op.drop_table("plan_approvals")
