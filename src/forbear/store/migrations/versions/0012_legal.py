"""Legal escalation: configuration versions, review queue, cases, stages, costs, documents.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGES = "('review', 'demand_letter', 'filed', 'judgment', 'enforcement', 'settled', 'closed')"
QUEUE_STATUSES = "('queued', 'case_opened', 'removed')"
COST_KINDS = (
    "('court_fee', 'lawyer_fee', 'preservation_fee', 'notary_fee', 'service_fee', "
    "'enforcement_fee', 'other')"
)
DOCUMENT_KINDS = "('demand_letter', 'litigation_package')"
OPEN_QUEUE = sa.text("status IN ('queued', 'case_opened')")
OPEN_CASE = sa.text("stage NOT IN ('settled', 'closed')")


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


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _by() -> sa.Column[object]:
    return sa.Column("created_by", sa.String(length=100), nullable=False)


def upgrade() -> None:
    op.create_table(
        "legal_config_versions",
        _id(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        _by(),
        _utc("created_at"),
        sa.CheckConstraint("version > 0", name=op.f("ck_legal_config_versions_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_config_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_legal_config_versions_version")),
    )
    op.create_table(
        "legal_queue",
        _id(),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("queued_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removed_because", sa.Text(), nullable=True),
        _by(),
        _created_at(),
        sa.CheckConstraint(f"status IN {QUEUE_STATUSES}", name=op.f("ck_legal_queue_status")),
        _fk("legal_queue", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_queue")),
    )
    op.create_index("ix_legal_queue_loan_id", "legal_queue", ["loan_id"])
    op.create_index(
        "uq_legal_queue_open_loan",
        "legal_queue",
        ["loan_id"],
        unique=True,
        postgresql_where=OPEN_QUEUE,
        sqlite_where=OPEN_QUEUE,
    )
    op.create_table(
        "legal_cases",
        _id(),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("queue_entry_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("stage_on", sa.Date(), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=True),
        sa.Column("case_number", sa.String(length=100), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        _created_at(),
        sa.CheckConstraint(f"stage IN {STAGES}", name=op.f("ck_legal_cases_stage")),
        _fk("legal_cases", "loan_id", "loans"),
        _fk("legal_cases", "queue_entry_id", "legal_queue"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_cases")),
    )
    op.create_index("ix_legal_cases_loan_id", "legal_cases", ["loan_id"])
    op.create_index(
        "uq_legal_cases_open_loan",
        "legal_cases",
        ["loan_id"],
        unique=True,
        postgresql_where=OPEN_CASE,
        sqlite_where=OPEN_CASE,
    )
    op.create_table(
        "legal_case_events",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("stage_on", sa.Date(), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=True),
        sa.Column("case_number", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("demand_id", sa.Integer(), nullable=True),
        _by(),
        _created_at(),
        sa.CheckConstraint(f"stage IN {STAGES}", name=op.f("ck_legal_case_events_stage")),
        sa.CheckConstraint(
            f"from_stage IS NULL OR from_stage IN {STAGES}",
            name=op.f("ck_legal_case_events_from_stage"),
        ),
        _fk("legal_case_events", "case_id", "legal_cases"),
        _fk("legal_case_events", "demand_id", "demands"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_case_events")),
    )
    op.create_index("ix_legal_case_events_case_id", "legal_case_events", ["case_id"])
    op.create_table(
        "legal_case_costs",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        _by(),
        _created_at(),
        sa.CheckConstraint(f"kind IN {COST_KINDS}", name=op.f("ck_legal_case_costs_kind")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_legal_case_costs_amount_positive")),
        _fk("legal_case_costs", "case_id", "legal_cases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_case_costs")),
    )
    op.create_index("ix_legal_case_costs_case_id", "legal_case_costs", ["case_id"])
    op.create_table(
        "legal_documents",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), server_default="[]", nullable=False),
        _by(),
        _created_at(),
        sa.CheckConstraint(f"kind IN {DOCUMENT_KINDS}", name=op.f("ck_legal_documents_kind")),
        _fk("legal_documents", "case_id", "legal_cases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_documents")),
    )
    op.create_index("ix_legal_documents_case_id", "legal_documents", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_legal_documents_case_id", table_name="legal_documents")
    op.drop_table("legal_documents")
    op.drop_index("ix_legal_case_costs_case_id", table_name="legal_case_costs")
    op.drop_table("legal_case_costs")
    op.drop_index("ix_legal_case_events_case_id", table_name="legal_case_events")
    op.drop_table("legal_case_events")
    op.drop_index("uq_legal_cases_open_loan", table_name="legal_cases")
    op.drop_index("ix_legal_cases_loan_id", table_name="legal_cases")
    op.drop_table("legal_cases")
    op.drop_index("uq_legal_queue_open_loan", table_name="legal_queue")
    op.drop_index("ix_legal_queue_loan_id", table_name="legal_queue")
    op.drop_table("legal_queue")
    op.drop_table("legal_config_versions")
