"""Legal collection on the floor (issue 15, item 7): proof of delivery of demands, case costs.

(Reserved; empty until its change lands.)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
