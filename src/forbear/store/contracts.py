"""Tables of the contract terms registry (issue 6); imported by :mod:`forbear.store.area_models`.

``contract_versions`` holds one row per version of a product's contract: the full product
terms of that version (what the ledger needs for the loans made under it), the key terms
as columns (what a collector, a letter or a legal case cites) and the
:class:`~forbear.domain.contracts.ContractTerms` as JSON. Rows are never updated: a product
whose terms change gets a new version (``forbear.services.contracts``). Each loan names the
version it was made under in ``loans.contract_version_id`` (null only for rows older than
migration 0010 that had no product version to point to).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.bulk import read_frame
from forbear.store.models import Base, Loan, Product, UTCDateTime, utcnow


class ContractVersion(Base):
    __tablename__ = "contract_versions"
    __table_args__ = (
        UniqueConstraint("product_id", "version"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    # ProductTerms.model_dump(mode="json") of this version: the ledger's terms for its loans
    product_terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    # ContractTerms.model_dump(mode="json")
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    annual_rate_bp: Mapped[int] = mapped_column(Integer)
    penalty_rate_bp: Mapped[int] = mapped_column(Integer)
    monthly_fee_bp: Mapped[int] = mapped_column(Integer)
    late_fee: Mapped[int] = mapped_column(BigInteger)
    grace_days: Mapped[int] = mapped_column(Integer)
    consent_to_collection_contact: Mapped[bool] = mapped_column(Boolean)
    dispute_venue: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))  # of the canonical product terms JSON
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


# ---------------------------------------------------------------------------- readers


def read_loans_on_older_versions(
    conn: Connection, loan_ids: Sequence[int] | None = None
) -> pl.DataFrame:
    """``loan_id, version`` of the loans (of ``loan_ids`` if given) made under a contract
    version that is no longer their product's current one; every other loan runs on its
    product's current terms. Filtered in the database: a book's loans are mostly current."""
    stmt = (
        select(Loan.id.label("loan_id"), ContractVersion.version)
        .join(Product, Product.id == Loan.product_id)
        .join(ContractVersion, ContractVersion.id == Loan.contract_version_id)
        .where(ContractVersion.version != Product.version)
        .order_by(Loan.id)
    )
    if loan_ids is not None:
        stmt = stmt.where(Loan.id.in_([int(i) for i in loan_ids]))
    return read_frame(conn, stmt, {"loan_id": pl.Int64(), "version": pl.Int32()})


def read_version_product_terms(conn: Connection) -> list[tuple[int, dict[str, Any]]]:
    """``(version, product terms JSON)`` of every contract version, by product and version."""
    rows = conn.execute(
        select(ContractVersion.version, ContractVersion.product_terms).order_by(
            ContractVersion.product_id, ContractVersion.version
        )
    ).all()
    return [(int(r.version), dict(r.product_terms)) for r in rows]
