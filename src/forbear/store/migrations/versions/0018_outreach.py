"""Outreach (issue 13): the outbox learns who queued a message, when it is due, its tries,
lease, provider, outcome and the text as sent (encrypted), so that a dispatcher can claim,
send and record it.

Rows already there (queued by earlier runs) become due at their creation time.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "dead", "cancelled")
_OLD_STATUSES = ("queued", "sent", "failed")


def _in(values: Sequence[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{v}'" for v in values))


def _utc(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="run")
        )
        batch.add_column(sa.Column("actor", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("article", sa.String(length=64), nullable=True))
        batch.add_column(_utc("due_at"))
        batch.add_column(_utc("next_attempt_at"))
        batch.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(_utc("lease_until"))
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("provider", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("provider_ref", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reason_rules", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("contact_attempt_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("body_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(_utc("sent_at"))
        batch.add_column(_utc("delivered_at"))
        batch.add_column(_utc("updated_at"))
    op.execute("UPDATE outbox SET due_at = created_at, next_attempt_at = created_at")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", _in(_STATUSES))
        batch.create_check_constraint("origin", "origin IN ('run', 'agent', 'system')")
        batch.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch.create_index("ix_outbox_borrower_id_status", ["borrower_id", "status"], unique=False)


def downgrade() -> None:
    op.execute(
        "UPDATE outbox SET status = CASE WHEN status IN ('delivered', 'sending') THEN 'sent' "
        "WHEN status IN ('dead', 'cancelled') THEN 'failed' ELSE status END"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_borrower_id_status")
        batch.drop_index("ix_outbox_status_next_attempt_at")
        batch.drop_constraint(op.f("ck_outbox_origin"), type_="check")
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", _in(_OLD_STATUSES))
        for column in (
            "updated_at",
            "delivered_at",
            "sent_at",
            "body_enc",
            "contact_attempt_id",
            "reason_rules",
            "last_error",
            "provider_ref",
            "provider",
            "claimed_by",
            "lease_until",
            "tries",
            "next_attempt_at",
            "due_at",
            "article",
            "actor",
            "origin",
        ):
            batch.drop_column(column)
