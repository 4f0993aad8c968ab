"""Outreach, the paths back (issue 13): the signed callbacks accepted (replay and duplicate
refusal) and the borrowers' replies (encrypted, routed to agents).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "channel_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=160), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        _utc("signed_at", nullable=False),
        _utc("received_at", nullable=False),
        sa.CheckConstraint(
            "kind IN ('receipt', 'reply', 'payment')", name=op.f("ck_channel_callbacks_kind")
        ),
        sa.CheckConstraint(
            "result IN ('applied', 'duplicate')", name=op.f("ck_channel_callbacks_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_callbacks")),
        sa.UniqueConstraint(
            "provider",
            "kind",
            "event_key",
            name=op.f("uq_channel_callbacks_provider_kind_event_key"),
        ),
        sa.UniqueConstraint("signature_sha256", name=op.f("uq_channel_callbacks_signature_sha256")),
    )
    op.create_index(
        "ix_channel_callbacks_received_at", "channel_callbacks", ["received_at"], unique=False
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("sender_enc", sa.LargeBinary(), nullable=False),
        sa.Column("sender_bidx", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=True),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        _utc("sent_at"),
        _utc("received_at", nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("routed_to", sa.String(length=16), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        _utc("handled_at"),
        sa.Column("handled_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "classification IN ('opt_out', 'other')",
            name=op.f("ck_inbound_messages_classification"),
        ),
        sa.CheckConstraint(
            "routed_to IN ('agent', 'assistant', 'none')",
            name=op.f("ck_inbound_messages_routed_to"),
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["channel_callbacks.id"],
            name=op.f("fk_inbound_messages_callback_id_channel_callbacks"),
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.id"],
            name=op.f("fk_inbound_messages_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_points.id"],
            name=op.f("fk_inbound_messages_contact_point_id_contact_points"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    op.create_index(
        "ix_inbound_messages_borrower_id_received_at",
        "inbound_messages",
        ["borrower_id", "received_at"],
        unique=False,
    )
    op.create_index(
        "ix_inbound_messages_routed_to_handled_at",
        "inbound_messages",
        ["routed_to", "handled_at"],
        unique=False,
    )
    op.create_index(
        "ix_inbound_messages_sender_bidx", "inbound_messages", ["sender_bidx"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_sender_bidx", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_routed_to_handled_at", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_borrower_id_received_at", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_index("ix_channel_callbacks_received_at", table_name="channel_callbacks")
    op.drop_table("channel_callbacks")
