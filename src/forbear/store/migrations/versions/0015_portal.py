"""The borrower portal: one-time codes, sessions, payment intents, education views.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METHODS = "'bank_transfer', 'alipay', 'wechat_pay', 'union_pay'"


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _borrower_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["borrower_id"], ["borrowers.id"], name=op.f(f"fk_{table}_borrower_id_borrowers")
    )


def upgrade() -> None:
    op.create_table(
        "portal_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_key", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        _utc("created_at"),
        _utc("expires_at"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _utc("used_at", nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_portal_codes_attempts_non_negative")),
        _borrower_fk("portal_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_codes")),
    )
    op.create_index(
        "ix_portal_codes_phone_key_created_at", "portal_codes", ["phone_key", "created_at"]
    )
    op.create_index(
        "ix_portal_codes_client_key_created_at", "portal_codes", ["client_key", "created_at"]
    )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _utc("created_at"),
        _utc("last_seen_at"),
        _utc("expires_at"),
        _utc("revoked_at", nullable=True),
        _borrower_fk("portal_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_portal_sessions_token_sha256")),
    )
    op.create_index("ix_portal_sessions_borrower_id", "portal_sessions", ["borrower_id"])
    op.create_table(
        "portal_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("created_at"),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')", name=op.f("ck_portal_outbox_status")
        ),
        sa.CheckConstraint("channel IN ('sms')", name=op.f("ck_portal_outbox_channel")),
        _borrower_fk("portal_outbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_outbox")),
    )
    op.create_index("ix_portal_outbox_borrower_id", "portal_outbox", ["borrower_id"])
    op.create_table(
        "payment_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_intents_amount_positive")),
        sa.CheckConstraint(f"method IN ({METHODS})", name=op.f("ck_payment_intents_method")),
        _borrower_fk("payment_intents"),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_payment_intents_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_intents")),
    )
    op.create_index("ix_payment_intents_loan_id", "payment_intents", ["loan_id"])
    op.create_table(
        "article_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=True),
        _utc("viewed_at"),
        _borrower_fk("article_views"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_views")),
    )
    op.create_index("ix_article_views_slug_viewed_at", "article_views", ["slug", "viewed_at"])


def downgrade() -> None:
    op.drop_index("ix_article_views_slug_viewed_at", table_name="article_views")
    op.drop_table("article_views")
    op.drop_index("ix_payment_intents_loan_id", table_name="payment_intents")
    op.drop_table("payment_intents")
    op.drop_index("ix_portal_outbox_borrower_id", table_name="portal_outbox")
    op.drop_table("portal_outbox")
    op.drop_index("ix_portal_sessions_borrower_id", table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_portal_codes_client_key_created_at", table_name="portal_codes")
    op.drop_index("ix_portal_codes_phone_key_created_at", table_name="portal_codes")
    op.drop_table("portal_codes")
