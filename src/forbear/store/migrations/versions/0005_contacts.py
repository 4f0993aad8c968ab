"""Contacts: contact attempts with their gate decisions, holds, agency assignments,
account notices, logged demands and human-set account flags.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "('call', 'ai_call', 'sms', 'im', 'email', 'app_push', 'letter', 'visit')"
PARTIES = "('debtor', 'guarantor', 'debt_related', 'emergency_contact', 'other_third_party')"
OUTCOMES = (
    "('connected', 'no_answer', 'busy', 'invalid_number', 'refused', 'delivered', 'failed', "
    "'blocked')"
)
HOLD_KINDS = (
    "('dispute', 'complaint', 'cease', 'opt_out', 'do_not_contact', 'vulnerable', 'lawyer', "
    "'deceased')"
)
NOTICE_KINDS = "('agency_notice', 'assignment', 'credit_prenotice')"


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        server_default=sa.text("CURRENT_TIMESTAMP"),
        nullable=False,
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "contact_attempts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        _utc("at"),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("blocked_by", sa.Text(), server_default="[]", nullable=False),
        _utc("earliest_allowed_at", nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("template_code", sa.String(length=64), nullable=True),
        sa.Column("discloses_debt", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_demand", sa.Boolean(), server_default=sa.true(), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f("ck_contact_attempts_channel")),
        sa.CheckConstraint(f"party IN {PARTIES}", name=op.f("ck_contact_attempts_party")),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN {OUTCOMES}", name=op.f("ck_contact_attempts_outcome")
        ),
        sa.CheckConstraint(
            "allowed OR outcome IS NULL OR outcome = 'blocked'",
            name=op.f("ck_contact_attempts_blocked_no_outcome"),
        ),
        _fk("contact_attempts", "loan_id", "loans"),
        _fk("contact_attempts", "borrower_id", "borrowers"),
        _fk("contact_attempts", "contact_point_id", "contact_points"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
    )
    op.create_index("ix_contact_attempts_borrower_id_at", "contact_attempts", ["borrower_id", "at"])
    op.create_index("ix_contact_attempts_loan_id_at", "contact_attempts", ["loan_id", "at"])

    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("contact_point_id", sa.Integer(), nullable=True),
        _utc("since"),
        _utc("until", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"kind IN {HOLD_KINDS}", name=op.f("ck_holds_kind")),
        sa.CheckConstraint(
            f"channel IS NULL OR channel IN {CHANNELS}", name=op.f("ck_holds_channel")
        ),
        _fk("holds", "borrower_id", "borrowers"),
        _fk("holds", "loan_id", "loans"),
        _fk("holds", "contact_point_id", "contact_points"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index("ix_holds_borrower_id", "holds", ["borrower_id"])

    op.create_table(
        "agency_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        _utc("from_at"),
        _utc("to_at", nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "to_at IS NULL OR to_at > from_at", name=op.f("ck_agency_assignments_period")
        ),
        _fk("agency_assignments", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_assignments")),
    )
    op.create_index("ix_agency_assignments_loan_id", "agency_assignments", ["loan_id"])
    op.create_index("ix_agency_assignments_agency_id", "agency_assignments", ["agency_id"])

    op.create_table(
        "account_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        _utc("at"),
        sa.Column("evidence_ref", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"kind IN {NOTICE_KINDS}", name=op.f("ck_account_notices_kind")),
        _fk("account_notices", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_notices")),
    )
    op.create_index("ix_account_notices_loan_id", "account_notices", ["loan_id"])

    op.create_table(
        "demands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        _utc("at"),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("evidence_ref", sa.String(length=200), nullable=False),
        sa.Column("contact_attempt_id", big_id, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f("ck_demands_channel")),
        _fk("demands", "loan_id", "loans"),
        _fk("demands", "contact_attempt_id", "contact_attempts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demands")),
    )
    op.create_index("ix_demands_loan_id", "demands", ["loan_id"])

    op.create_table(
        "account_flags",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        _utc("assigned_at", nullable=True),
        sa.Column("assignee_ref", sa.String(length=100), nullable=True),
        _utc("debtor_unreachable_since", nullable=True),
        _utc("updated_at"),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        _fk("account_flags", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_account_flags")),
    )


def downgrade() -> None:
    op.drop_table("account_flags")
    op.drop_index("ix_demands_loan_id", table_name="demands")
    op.drop_table("demands")
    op.drop_index("ix_account_notices_loan_id", table_name="account_notices")
    op.drop_table("account_notices")
    op.drop_index("ix_agency_assignments_agency_id", table_name="agency_assignments")
    op.drop_index("ix_agency_assignments_loan_id", table_name="agency_assignments")
    op.drop_table("agency_assignments")
    op.drop_index("ix_holds_borrower_id", table_name="holds")
    op.drop_table("holds")
    op.drop_index("ix_contact_attempts_loan_id_at", table_name="contact_attempts")
    op.drop_index("ix_contact_attempts_borrower_id_at", table_name="contact_attempts")
    op.drop_table("contact_attempts")
