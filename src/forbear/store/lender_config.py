"""The lender's compliance configuration, stored as versions of its YAML text.

The newest version is the one in force; versions are never edited, so every decision can
be traced to the configuration it was made under, and every change is an audit event
(``config.change``). Use cases live in :mod:`forbear.services.lender`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime


class LenderConfigVersion(Base):
    __tablename__ = "lender_config_versions"
    __table_args__ = (CheckConstraint("version > 0", name="version_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    pack: Mapped[str] = mapped_column(String(16))
    yaml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
