"""Holds and disputes on the collection floor (issue 15, item 1): owners, SLA clock, release
reason, dispute evidence.

(Reserved; empty until its change lands.)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
