"""Tables of the borrower portal (issue 7); imported by :mod:`forbear.store.area_models`.

- ``portal_codes``: every request for a one-time sign-in code, known number or not (the
  rate limits count them): the phone's blind index (the same keyed hash as
  ``borrowers.mobile_bidx``), a keyed hash of the client address, the borrower when the
  number is a borrower's mobile, the code's keyed hash (never the code), expiry, attempts
  and when it was used.
- ``portal_sessions``: borrower sessions, separate from the staff's: the sha256 of the
  cookie's token, a CSRF token, idle and absolute expiry, revocation.
- ``portal_outbox``: messages the portal sends (the sign-in code by SMS), the code
  encrypted with the PII vault, for the SMS sender to pick up. The daily run's
  ``outbox`` is per loan and per strategy action; a sign-in code belongs to a person.
- ``payment_intents``: "I will pay this much this way" from the portal (not a payment:
  the ledger only knows payments imported from the lender's books).
- ``article_views``: one row per view of a financial-education article.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime, _created_at

PAYMENT_METHODS = ("bank_transfer", "alipay", "wechat_pay", "union_pay")


class PortalCode(Base):
    __tablename__ = "portal_codes"
    __table_args__ = (
        Index("ix_portal_codes_phone_key_created_at", "phone_key", "created_at"),
        Index("ix_portal_codes_client_key_created_at", "client_key", "created_at"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PortalSession(Base):
    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_borrower_id", "borrower_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PortalOutbox(Base):
    __tablename__ = "portal_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status"),
        CheckConstraint("channel IN ('sms')", name="channel"),
        Index("ix_portal_outbox_borrower_id", "borrower_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)  # JSON, encrypted (the code)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentIntent(Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "method IN (" + ", ".join(f"'{m}'" for m in PAYMENT_METHODS) + ")", name="method"
        ),
        Index("ix_payment_intents_loan_id", "loan_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()


class ArticleView(Base):
    __tablename__ = "article_views"
    __table_args__ = (Index("ix_article_views_slug_viewed_at", "slug", "viewed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"))
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = [
    "PAYMENT_METHODS",
    "ArticleView",
    "PaymentIntent",
    "PortalCode",
    "PortalOutbox",
    "PortalSession",
]
