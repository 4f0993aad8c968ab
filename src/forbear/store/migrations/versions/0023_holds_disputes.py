"""Holds and disputes on the collection floor (issue 15, item 1): owners, SLA clock, release
reason, dispute evidence.

- ``holds.kind`` may be ``hardship`` (a collector's "经济困难": no written demands, the
  agent may still call to agree a plan; the pack's CN.HOLDS says what it stops);
- ``hold_cases``: one row per hold someone worked (owner, a dispute's status and due
  moment, the answer, how and why it ended, sealed);
- ``dispute_evidence``: files a borrower attached to a dispute (sealed, 0600 on disk).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = (
    "'dispute', 'complaint', 'cease', 'opt_out', 'do_not_contact', 'vulnerable', 'lawyer', "
    "'deceased'"
)
_KINDS = (
    "'dispute', 'complaint', 'cease', 'opt_out', 'do_not_contact', 'vulnerable', 'hardship', "
    "'lawyer', 'deceased'"
)
_STATUSES = "'open', 'verifying', 'answered', 'closed'"
_RESOLUTIONS = "'upheld', 'rejected', 'released'"


def _utc(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.drop_constraint(op.f("ck_holds_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({_KINDS})")
    op.create_table(
        "hold_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        _utc("taken_at"),
        _utc("due_at"),
        _utc("answered_at"),
        sa.Column("answer_enc", sa.LargeBinary(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        _utc("closed_at"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name=op.f("ck_hold_cases_status")),
        sa.CheckConstraint(
            f"resolution IS NULL OR resolution IN ({_RESOLUTIONS})",
            name=op.f("ck_hold_cases_resolution"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["holds.id"], name=op.f("fk_hold_cases_hold_id_holds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_cases")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_hold_cases_hold_id")),
    )
    op.create_table(
        "dispute_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        _utc("uploaded_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["holds.id"], name=op.f("fk_dispute_evidence_hold_id_holds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_evidence")),
    )
    op.create_index("ix_dispute_evidence_hold_id", "dispute_evidence", ["hold_id"])


def downgrade() -> None:
    op.drop_index("ix_dispute_evidence_hold_id", table_name="dispute_evidence")
    op.drop_table("dispute_evidence")
    op.drop_table("hold_cases")
    # a hardship hold becomes the vulnerability hold it was before this revision
    op.execute("UPDATE holds SET kind = 'vulnerable' WHERE kind = 'hardship'")
    with op.batch_alter_table("holds") as batch:
        batch.drop_constraint(op.f("ck_holds_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({_OLD_KINDS})")
