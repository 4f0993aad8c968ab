"""The collector's workbench (issue 15, item 3): call notes (encrypted free text) and
agreed callbacks (约定回电) that land in the agent's queue when due.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "account_notes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", _ID, nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_account_notes_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_account_notes_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempts.id"],
            name=op.f("fk_account_notes_attempt_id_contact_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_notes")),
    )
    op.create_index(
        "ix_account_notes_loan_id_created_at", "account_notes", ["loan_id", "created_at"]
    )
    op.create_index(op.f("ix_account_notes_borrower_id"), "account_notes", ["borrower_id"])
    op.create_table(
        "callbacks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", _ID, nullable=True),
        sa.Column("agent_ref", sa.String(length=64), nullable=True),
        _utc("due_at", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _utc("created_at", nullable=False),
        _utc("closed_at"),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'cancelled')", name=op.f("ck_callbacks_status")
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_callbacks_loan_id_loans")),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_callbacks_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempts.id"],
            name=op.f("fk_callbacks_attempt_id_contact_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    op.create_index(
        "ix_callbacks_agent_ref_status_due_at", "callbacks", ["agent_ref", "status", "due_at"]
    )
    op.create_index("ix_callbacks_loan_id_status", "callbacks", ["loan_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_loan_id_status", table_name="callbacks")
    op.drop_index("ix_callbacks_agent_ref_status_due_at", table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index(op.f("ix_account_notes_borrower_id"), table_name="account_notes")
    op.drop_index("ix_account_notes_loan_id_created_at", table_name="account_notes")
    op.drop_table("account_notes")
