"""The collector's workbench (issue 15, items 3 and 5): call notes, callbacks, queue state.

(Reserved; empty until its change lands.)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
