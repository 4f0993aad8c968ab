"""Complaints, satisfaction surveys and the case library (issue 7).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "('portal', 'agent', 'regulator')"
CATEGORIES = "('harassment', 'third_party', 'privacy', 'amount', 'attitude', 'other')"
STATUSES = "('open', 'in_progress', 'extended', 'extended_approved', 'resolved', 'closed')"
ROOT_CAUSES = (
    "('agent_conduct', 'contact_rules', 'data_error', 'process', 'product', 'no_fault', 'other')"
)
SUBJECTS = "('plan', 'promise', 'complaint')"
OUTCOMES = "('success', 'failure')"


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created_at(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("CURRENT_TIMESTAMP"),
        nullable=False,
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _ck(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _utc("received_at"),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extended_by", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.String(length=20), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        _created_at(),
        _created_at("updated_at"),
        _ck("complaints", "source", f"source IN {SOURCES}"),
        _ck("complaints", "category", f"category IN {CATEGORIES}"),
        _ck("complaints", "status", f"status IN {STATUSES}"),
        _ck("complaints", "root_cause", f"root_cause IS NULL OR root_cause IN {ROOT_CAUSES}"),
        _ck("complaints", "due_after_received", "due_on >= received_on"),
        _fk("complaints", "borrower_id", "borrowers"),
        _fk("complaints", "loan_id", "loans"),
        _fk("complaints", "hold_id", "holds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_borrower_id"), "complaints", ["borrower_id"])
    op.create_index(op.f("ix_complaints_loan_id"), "complaints", ["loan_id"])
    op.create_index("ix_complaints_status_due_on", "complaints", ["status", "due_on"])
    op.create_index("ix_complaints_received_on", "complaints", ["received_on"])
    op.create_table(
        "complaint_contacts",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("contact_attempt_id", big_id, nullable=False),
        _fk("complaint_contacts", "complaint_id", "complaints"),
        _fk("complaint_contacts", "contact_attempt_id", "contact_attempts"),
        sa.PrimaryKeyConstraint(
            "complaint_id", "contact_attempt_id", name=op.f("pk_complaint_contacts")
        ),
    )
    op.create_table(
        "satisfaction_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        _utc("answered_at"),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        _created_at(),
        _ck("satisfaction_responses", "subject_type", f"subject_type IN {SUBJECTS}"),
        _ck("satisfaction_responses", "score_range", "score BETWEEN 1 AND 5"),
        _fk("satisfaction_responses", "borrower_id", "borrowers"),
        _fk("satisfaction_responses", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction_responses")),
        sa.UniqueConstraint(
            "subject_type",
            "subject_id",
            name=op.f("uq_satisfaction_responses_subject_type_subject_id"),
        ),
    )
    op.create_index(
        op.f("ix_satisfaction_responses_borrower_id"), "satisfaction_responses", ["borrower_id"]
    )
    op.create_index(
        "ix_satisfaction_responses_answered_on", "satisfaction_responses", ["answered_on"]
    )
    op.create_table(
        "case_library",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("lesson", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=100), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        _created_at(),
        _ck("case_library", "outcome", f"outcome IN {OUTCOMES}"),
        _fk("case_library", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_library")),
        sa.UniqueConstraint("loan_id", name=op.f("uq_case_library_loan_id")),
    )


def downgrade() -> None:
    op.drop_table("case_library")
    op.drop_index("ix_satisfaction_responses_answered_on", table_name="satisfaction_responses")
    op.drop_index(
        op.f("ix_satisfaction_responses_borrower_id"), table_name="satisfaction_responses"
    )
    op.drop_table("satisfaction_responses")
    op.drop_table("complaint_contacts")
    op.drop_index("ix_complaints_received_on", table_name="complaints")
    op.drop_index("ix_complaints_status_due_on", table_name="complaints")
    op.drop_index(op.f("ix_complaints_loan_id"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_borrower_id"), table_name="complaints")
    op.drop_table("complaints")
