"""Beyond-authority plan approvals (issue 15, item 2): submission, reason, decision.

(Reserved; empty until its change lands.)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
