"""SQLAlchemy 2 typed declarative models of the loan book.

Conventions:

- Money columns are ``BigInteger`` fen; rates are integer basis points.
- Timestamps are UTC and timezone-aware (:class:`UTCDateTime`); business dates are ``Date``
  in the lender's zone.
- Personal data is stored only encrypted (``*_enc``, ``LargeBinary``, see
  :class:`forbear.store.crypto.PiiVault`) with an HMAC blind index (``*_bidx``) where it is
  looked up. ``province`` and ``city`` stay plain for analytics.
- Closed vocabularies are ``String`` columns with a CHECK constraint generated from the
  ``StrEnum`` below, so both backends enforce them the same way.
- Constraint and index names follow :data:`NAMING_CONVENTION` so migrations are stable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forbear.domain.scoring.artefact import ModelKind, ModelStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are converted to
    UTC on the way in and given ``tzinfo=UTC`` on the way out. Naive datetimes are refused:
    their zone is unknowable.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if moment.tzinfo is None:  # SQLite: stored as UTC without a zone
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class OwnerType(StrEnum):
    DEBTOR = "debtor"
    GUARANTOR = "guarantor"
    EMERGENCY_CONTACT = "emergency_contact"


class Provenance(StrEnum):
    """Lawful source of a contact point (REGULATIONS.md CN.DATA.CONTACT_SOURCE).

    Harvested address books have no value here on purpose: they cannot be stored.
    """

    CONTRACT = "contract"
    SUPPLIED_BY_DEBTOR = "supplied_by_debtor"
    DEBTOR_AUTHORISATION = "debtor_authorisation"
    PUBLIC_SOURCE = "public_source"
    REGISTERED_CONTACT_PERSON = "registered_contact_person"
    AUTHORISED_BUREAU = "authorised_bureau"


class BatchKind(StrEnum):
    LOANS = "loans"
    PAYMENTS = "payments"
    PRODUCTS = "products"


class BatchStatus(StrEnum):
    COMMITTED = "committed"
    REJECTED = "rejected"
    PARTIAL = "partial"


class LoanStatus(StrEnum):
    ACTIVE = "active"
    PAID_OFF = "paid_off"
    WRITTEN_OFF = "written_off"


def _one_of(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # ProductTerms.model_dump(mode="json"); validated again on every read.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created_at()


class ImportBatch(Base):
    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint(_one_of("kind", BatchKind), name="kind"),
        CheckConstraint(_one_of("status", BatchStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped_existing: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Borrower(Base):
    __tablename__ = "borrowers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Nullable since 0004: erased when the borrower is anonymised (CN.RECORD.RETAIN).
    national_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    national_id_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    mobile_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    mobile_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    province: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(
        String(64), default="Asia/Shanghai", server_default="Asia/Shanghai"
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ContactPoint(Base):
    __tablename__ = "contact_points"
    __table_args__ = (
        UniqueConstraint("borrower_id", "kind", "value_bidx", "owner_type"),
        CheckConstraint(_one_of("kind", ContactKind), name="kind"),
        CheckConstraint(_one_of("owner_type", OwnerType), name="owner_type"),
        CheckConstraint(_one_of("provenance", Provenance), name="provenance"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value_enc: Mapped[bytes] = mapped_column(LargeBinary)
    value_bidx: Mapped[str] = mapped_column(String(64), index=True)
    owner_type: Mapped[str] = mapped_column(String(32))
    owner_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    relation: Mapped[str | None] = mapped_column(String(32))  # spouse, parent, friend, ...
    provenance: Mapped[str] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = _created_at()


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("principal > 0", name="principal_positive"),
        CheckConstraint("term_months > 0", name="term_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    principal: Mapped[int] = mapped_column(BigInteger)
    term_months: Mapped[int] = mapped_column(Integer)
    annual_rate_bp: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    first_due_date: Mapped[date] = mapped_column(Date)
    written_off_on: Mapped[date | None] = mapped_column(Date)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[datetime] = _created_at()
    # The contract version the loan was made under (forbear.store.contracts, migration 0010).
    contract_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("contract_versions.id"), index=True
    )


class Instalment(Base):
    __tablename__ = "instalments"

    loan_id: Mapped[int] = mapped_column(
        ForeignKey("loans.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # covering: the daily run reads (loan_id, paid_on, id, amount) from the index alone
        Index("ix_payments_loan_id_paid_on_id_amount", "loan_id", "paid_on", "id", "amount"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    paid_on: Mapped[date] = mapped_column(Date)  # business date in the lender's zone
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    amount: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(32))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[datetime] = _created_at()


class AccountState(Base):
    """One row per loan and date: ``forbear.domain.ledger.schema.STATES``."""

    __tablename__ = "account_states"
    __table_args__ = (
        Index("ix_account_states_as_of_bucket", "as_of", "bucket"),
        CheckConstraint(_one_of("status", LoanStatus), name="status"),
    )

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(
        ForeignKey("loans.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    overdue_principal: Mapped[int] = mapped_column(BigInteger)
    overdue_interest: Mapped[int] = mapped_column(BigInteger)
    overdue_fee: Mapped[int] = mapped_column(BigInteger)
    overdue_penalty: Mapped[int] = mapped_column(BigInteger)
    overdue_total: Mapped[int] = mapped_column(BigInteger)
    outstanding_principal: Mapped[int] = mapped_column(BigInteger)
    oldest_unpaid_due_date: Mapped[date | None] = mapped_column(Date)
    next_due_date: Mapped[date | None] = mapped_column(Date)
    next_due_amount: Mapped[int | None] = mapped_column(BigInteger)
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    paid_total: Mapped[int] = mapped_column(BigInteger)
    # paid beyond payoff, owed back to the borrower
    credit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ModelVersion(Base):
    """One trained model (artefact JSON, ``forbear.domain.scoring.artefact``) and its life:
    candidate -> active -> retired. At most one active version per kind: the services
    enforce it, and a partial unique index does too (PostgreSQL and SQLite both have them)."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("kind", "version"),
        CheckConstraint(_one_of("kind", ModelKind), name="kind"),
        CheckConstraint(_one_of("status", ModelStatus), name="status"),
        CheckConstraint("version > 0", name="version_positive"),
        Index(
            "uq_model_versions_active_kind",
            "kind",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    artefact: Mapped[str] = mapped_column(Text)  # Artefact.to_json(), hashed as stored
    artefact_sha256: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the training frame
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountScore(Base):
    """One score per loan, date and model kind. For scorecards ``score`` is points and
    ``pd`` the probability of the bad event; for propensity ``score`` is the probability
    of paying (``score_int`` per mille), with no tier or pd."""

    __tablename__ = "account_scores"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ModelKind), name="kind"),
        Index("ix_account_scores_as_of_kind_tier", "as_of", "kind", "tier"),
    )

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(
        ForeignKey("loans.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    score_int: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(8))
    pd: Mapped[float | None] = mapped_column(Float)
    reason_codes: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
