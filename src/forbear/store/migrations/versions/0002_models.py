"""Model versions (trained artefacts and their life cycle) and account scores.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('application', 'behaviour', 'early_warning', 'propensity')"


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("artefact", sa.Text(), nullable=False),
        sa.Column("artefact_sha256", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_model_versions_kind")),
        sa.CheckConstraint(
            "status IN ('candidate', 'active', 'retired')", name=op.f("ck_model_versions_status")
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_model_versions_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_model_versions_kind_version")),
    )
    op.create_index(
        "uq_model_versions_active_kind",
        "model_versions",
        ["kind"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "account_scores",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_int", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=True),
        sa.Column("pd", sa.Float(), nullable=True),
        sa.Column("reason_codes", sa.Text(), server_default="[]", nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_account_scores_kind")),
        sa.ForeignKeyConstraint(
            ["loan_id"],
            ["loans.id"],
            name=op.f("fk_account_scores_loan_id_loans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_account_scores_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("as_of", "loan_id", "kind", name=op.f("pk_account_scores")),
    )
    op.create_index(
        "ix_account_scores_as_of_kind_tier", "account_scores", ["as_of", "kind", "tier"]
    )
    op.create_index(
        op.f("ix_account_scores_model_version_id"), "account_scores", ["model_version_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_scores_model_version_id"), table_name="account_scores")
    op.drop_index("ix_account_scores_as_of_kind_tier", table_name="account_scores")
    op.drop_table("account_scores")
    op.drop_index("uq_model_versions_active_kind", table_name="model_versions")
    op.drop_table("model_versions")
