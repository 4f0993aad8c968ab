"""The daily run: run records, decisions, agent work queues and the outbox.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("strategy_version_id", sa.Integer(), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("started_at"),
        _utc("finished_at", nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'superseded')", name=op.f("ck_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(
        "ux_runs_one_completed_per_date",
        "runs",
        ["as_of"],
        unique=True,
        sqlite_where=sa.text("status = 'completed'"),
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_table(
        "decisions",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("strategy_version_id", sa.Integer(), nullable=True),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("arm", sa.String(length=100), nullable=True),
        sa.Column("treatment", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("is_demand", sa.Boolean(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("behaviour_tier", sa.String(length=16), nullable=True),
        sa.Column("ew_pd", sa.Float(), nullable=True),
        sa.Column("propensity", sa.Float(), nullable=True),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=True),
        sa.Column("blocked_by", sa.Text(), nullable=False),
        _utc("earliest_allowed_at", nullable=True),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("carried", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_decisions_run_id_runs")),
        sa.PrimaryKeyConstraint("as_of", "loan_id", "action_index", name=op.f("pk_decisions")),
    )
    op.create_index("ix_decisions_run_id", "decisions", ["run_id"])
    op.create_table(
        "work_queue",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("carried", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_work_queue_run_id_runs")),
        sa.PrimaryKeyConstraint("as_of", "loan_id", "action_index", name=op.f("pk_work_queue")),
    )
    op.create_index(
        "ix_work_queue_as_of_agent_id_rank", "work_queue", ["as_of", "agent_id", "rank"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("created_at"),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_outbox_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index("ix_outbox_as_of", "outbox", ["as_of"])


def downgrade() -> None:
    op.drop_index("ix_outbox_as_of", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_work_queue_as_of_agent_id_rank", table_name="work_queue")
    op.drop_table("work_queue")
    op.drop_index("ix_decisions_run_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ux_runs_one_completed_per_date", table_name="runs")
    op.drop_table("runs")
