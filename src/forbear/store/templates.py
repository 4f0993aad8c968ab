"""Message templates (SMS, e-mail, IM, letters, call scripts): versioned, content-checked.

A template is stored only after it passed the content filter
(:mod:`forbear.domain.compliance.content`); ``checked_at`` says when. Editing a template
stores a new ``version`` of the same ``code``; old versions are kept (they are what was
sent) and retired. Queries live in :mod:`forbear.services.templates`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"


class MessageTemplate(Base):
    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("audience IN ('debtor', 'third_party')", name="audience"),
        CheckConstraint("status IN ('draft', 'approved', 'retired')", name="status"),
        CheckConstraint("lang IN ('zh', 'en')", name="lang"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
