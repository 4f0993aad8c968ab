"""The contract terms registry: products' contract versions, and each loan's contract.

A product's contract is versioned: importing a product whose terms changed stores them as
a new version (``contract_versions``) and makes it the product's current one; loans made
before keep the version they were made under (``loans.contract_version_id``), and the
ledger runs them on that version's terms (:func:`ledger_products`). New loans get the
current version. Every amount claimed from a borrower (a plan, a letter, a legal case) is
checked against the loan's :class:`~forbear.domain.contracts.ContractTerms`
(:func:`check_loan_claim`).

Every function works in the caller's transaction and never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select

from forbear.domain.contracts import (
    DEFAULT_DISPUTE_VENUE,
    Claim,
    ClaimFinding,
    ContractTerms,
    check_claim,
)
from forbear.domain.errors import NotFound
from forbear.domain.ledger import products_frame
from forbear.domain.products import ProductTerms
from forbear.store import audit
from forbear.store.contracts import (
    ContractVersion,
    read_loans_on_older_versions,
    read_version_product_terms,
)
from forbear.store.models import Loan, Product


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    product_code: str
    version: int
    effective_from: date
    sha256: str
    loans: int


def terms_sha256(product_terms: dict[str, Any]) -> str:
    canonical = json.dumps(product_terms, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_version(
    conn: Connection,
    product_id: int,
    product: ProductTerms,
    version: int,
    *,
    effective_from: date,
    actor: str,
    consent_to_collection_contact: bool = True,
    dispute_venue: str = DEFAULT_DISPUTE_VENUE,
) -> int:
    """Store version ``version`` of a product's contract (audited); returns its id."""
    terms = ContractTerms.from_product(
        product,
        version=version,
        effective_from=effective_from,
        consent_to_collection_contact=consent_to_collection_contact,
        dispute_venue=dispute_venue,
    )
    product_terms = product.model_dump(mode="json")
    sha = terms_sha256(product_terms)
    version_id = conn.execute(
        insert(ContractVersion)
        .values(
            product_id=product_id,
            version=version,
            effective_from=effective_from,
            product_terms=product_terms,
            terms=terms.model_dump(mode="json"),
            annual_rate_bp=terms.annual_rate_bp,
            penalty_rate_bp=terms.penalty_rate_bp,
            monthly_fee_bp=terms.monthly_fee_bp,
            late_fee=terms.late_fee,
            grace_days=terms.grace_days,
            consent_to_collection_contact=terms.consent_to_collection_contact,
            dispute_venue=terms.dispute_venue,
            sha256=sha,
        )
        .returning(ContractVersion.id)
    ).scalar_one()
    audit.record(
        conn,
        action="contract.version",
        actor=actor,
        subject_type="contract_version",
        subject_id=int(version_id),
        payload={"product": product.code, "version": version, "sha256": sha},
    )
    return int(version_id)


def current_clauses(conn: Connection, product_id: int) -> dict[str, Any] | None:
    """The contract clauses of a product's current version (None if it has none)."""
    row = conn.execute(
        select(ContractVersion.consent_to_collection_contact, ContractVersion.dispute_venue)
        .join(
            Product,
            (Product.id == ContractVersion.product_id)
            & (Product.version == ContractVersion.version),
        )
        .where(Product.id == product_id)
    ).one_or_none()
    if row is None:
        return None
    return {"consent_to_collection_contact": bool(row[0]), "dispute_venue": str(row[1])}


def current_version_ids(conn: Connection) -> pl.DataFrame:
    """``product_code, contract_version_id`` of every product's current version."""
    rows = conn.execute(
        select(Product.code, ContractVersion.id)
        .join(
            ContractVersion,
            (ContractVersion.product_id == Product.id)
            & (ContractVersion.version == Product.version),
        )
        .order_by(Product.code)
    ).all()
    return pl.DataFrame(
        [(str(r[0]), int(r[1])) for r in rows],
        schema={"product_code": pl.String, "contract_version_id": pl.Int64},
        orient="row",
    )


def contract_for(conn: Connection, loan_id: int) -> ContractTerms:
    """The contract terms ``loan_id`` was made under (its product's current terms for a
    loan that names no version)."""
    row = conn.execute(
        select(Loan.id, ContractVersion.terms, Product.terms, Product.version, Product.created_at)
        .join(Product, Product.id == Loan.product_id)
        .outerjoin(ContractVersion, ContractVersion.id == Loan.contract_version_id)
        .where(Loan.id == loan_id)
    ).one_or_none()
    if row is None:
        raise NotFound("loan", str(loan_id))
    if row[1] is not None:
        return ContractTerms.model_validate(row[1])
    product = ProductTerms.model_validate(row[2])
    return ContractTerms.from_product(product, version=int(row[3]), effective_from=row[4].date())


def check_loan_claim(
    conn: Connection, loan_id: int, claim: Claim, *, owed: Claim | None = None
) -> list[ClaimFinding]:
    """:func:`~forbear.domain.contracts.check_claim` against ``loan_id``'s contract, with the
    loan's own term for the all-in cost."""
    terms = contract_for(conn, loan_id)
    term_months = conn.execute(select(Loan.term_months).where(Loan.id == loan_id)).scalar_one()
    return check_claim(terms, claim, owed=owed, term_months=int(term_months))


def list_versions(conn: Connection, product_code: str | None = None) -> list[VersionInfo]:
    """Every contract version (of one product), with the number of loans made under it."""
    loans = (
        select(Loan.contract_version_id, func.count().label("n"))
        .group_by(Loan.contract_version_id)
        .subquery()
    )
    stmt = (
        select(
            ContractVersion.id,
            Product.code,
            ContractVersion.version,
            ContractVersion.effective_from,
            ContractVersion.sha256,
            func.coalesce(loans.c.n, 0),
        )
        .join(Product, Product.id == ContractVersion.product_id)
        .outerjoin(loans, loans.c.contract_version_id == ContractVersion.id)
        .order_by(Product.code, ContractVersion.version)
    )
    if product_code is not None:
        stmt = stmt.where(Product.code == product_code)
    return [
        VersionInfo(int(r[0]), str(r[1]), int(r[2]), r[3], str(r[4]), int(r[5]))
        for r in conn.execute(stmt).all()
    ]


# ---------------------------------------------------------------------------- the ledger


def version_key(code: str, version: int) -> str:
    """The ledger's product key of an older contract version (``CASH@v1``)."""
    return f"{code}@v{version}"


def ledger_products(
    conn: Connection,
    loans: pl.DataFrame,
    current: list[ProductTerms],
    loan_ids: Sequence[int] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(loans, products)`` for the ledger with every loan on its own contract version.

    Loans on their product's current version keep the product code; loans on an older
    version are keyed ``CODE@vN`` and that version's terms are added to the products.
    """
    versions = read_loans_on_older_versions(conn, loan_ids)
    products = products_frame(current)
    if versions.is_empty():
        return loans, products
    keyed = (
        loans.join(versions.select("loan_id", "version"), on="loan_id", how="left")
        .with_columns(
            product_code=pl.when(pl.col("version").is_not_null())
            .then(pl.col("product_code") + "@v" + pl.col("version").cast(pl.String))
            .otherwise(pl.col("product_code"))
        )
        .drop("version")
    )
    wanted = set(keyed["product_code"].unique().to_list())
    older: list[tuple[str, ProductTerms]] = []
    for version, raw in read_version_product_terms(conn):
        key = version_key(str(raw["code"]), version)
        if key in wanted:
            older.append((key, ProductTerms.model_validate(raw)))
    extra = products_frame([terms for _, terms in older]).with_columns(
        product_code=pl.Series([key for key, _ in older], dtype=pl.String)
    )
    return keyed, pl.concat([products, extra])
