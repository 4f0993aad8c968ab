"""Collection strategies stored as versions of their YAML text; one is active at a time.

A strategy is added as a ``candidate`` (version = 1 + the highest version of the same
name), activated (the previous active one is ``retired``), and never edited: the YAML
text and its sha256 are what decisions cite. A partial unique index keeps one active row.
Use cases live in :mod:`forbear.services.strategies`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime


class StrategyStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class StrategyVersion(Base):
    __tablename__ = "strategy_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("status IN ('candidate', 'active', 'retired')", name="status"),
        CheckConstraint("version > 0", name="version_positive"),
        Index(
            "ux_strategy_versions_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    yaml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
