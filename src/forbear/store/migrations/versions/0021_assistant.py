"""The borrower assistant (issue 14): its conversations and their turns, and the outbox's
new origin ``assistant`` (the assistant's answers by SMS / app, sent as replies).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_CHANNELS = ("portal", "sms", "app", "api", "cli")
_VERIFIED_BY = ("portal_session", "app", "id_last4", "cli", "api")
_STATUSES = ("bot", "waiting", "agent", "closed")
_REASONS = ("crisis", "abusive", "asked", "not_understood", "dispute", "complaint", "other")
_ROLES = ("borrower", "assistant", "agent", "system")


def upgrade() -> None:
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=True),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("sender_bidx", sa.String(length=64), nullable=True),
        sa.Column("owner_type", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("slots_enc", sa.LargeBinary(), nullable=True),
        _utc("verified_at"),
        sa.Column("verified_by", sa.String(length=16), nullable=True),
        sa.Column("verify_failures", sa.Integer(), nullable=False, server_default="0"),
        _utc("verify_window_start"),
        sa.Column("misses", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("handoff_reason", sa.String(length=32), nullable=True),
        sa.Column("handoff_intent", sa.String(length=64), nullable=True),
        _utc("handoff_at"),
        _utc("agent_joined_at"),
        sa.Column("vulnerable", sa.Boolean(), nullable=False, server_default=sa.false()),
        _utc("started_at", nullable=False),
        _utc("updated_at", nullable=False),
        _utc("closed_at"),
        sa.CheckConstraint(
            _in("channel", _CHANNELS), name=op.f("ck_assistant_conversations_channel")
        ),
        sa.CheckConstraint(
            _in("verified_by", _VERIFIED_BY), name=op.f("ck_assistant_conversations_verified_by")
        ),
        sa.CheckConstraint(
            _in("status", _STATUSES), name=op.f("ck_assistant_conversations_status")
        ),
        sa.CheckConstraint(
            _in("handoff_reason", _REASONS),
            name=op.f("ck_assistant_conversations_handoff_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.id"],
            name=op.f("fk_assistant_conversations_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_points.id"],
            name=op.f("fk_assistant_conversations_contact_point_id_contact_points"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_conversations")),
    )
    op.create_index(
        "ix_assistant_conversations_borrower_id_channel_status",
        "assistant_conversations",
        ["borrower_id", "channel", "status"],
        unique=False,
    )
    op.create_index(
        "ix_assistant_conversations_sender_bidx_channel_status",
        "assistant_conversations",
        ["sender_bidx", "channel", "status"],
        unique=False,
    )
    op.create_index(
        "ix_assistant_conversations_status_handoff_at",
        "assistant_conversations",
        ["status", "handoff_at"],
        unique=False,
    )
    op.create_index(
        "ix_assistant_conversations_updated_at",
        "assistant_conversations",
        ["updated_at"],
        unique=False,
    )
    op.create_table(
        "assistant_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        _utc("created_at", nullable=False),
        sa.CheckConstraint(_in("role", _ROLES), name=op.f("ck_assistant_turns_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["assistant_conversations.id"],
            name=op.f("fk_assistant_turns_conversation_id_assistant_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_turns")),
        sa.UniqueConstraint(
            "conversation_id", "seq", name=op.f("uq_assistant_turns_conversation_id_seq")
        ),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_origin"), type_="check")
        batch.create_check_constraint("origin", "origin IN ('run', 'agent', 'system', 'assistant')")


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE origin = 'assistant'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_origin"), type_="check")
        batch.create_check_constraint("origin", "origin IN ('run', 'agent', 'system')")
    op.drop_table("assistant_turns")
    op.drop_index("ix_assistant_conversations_updated_at", table_name="assistant_conversations")
    op.drop_index(
        "ix_assistant_conversations_status_handoff_at", table_name="assistant_conversations"
    )
    op.drop_index(
        "ix_assistant_conversations_sender_bidx_channel_status",
        table_name="assistant_conversations",
    )
    op.drop_index(
        "ix_assistant_conversations_borrower_id_channel_status",
        table_name="assistant_conversations",
    )
    op.drop_table("assistant_conversations")
