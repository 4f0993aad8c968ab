"""Importing product definitions (YAML) into the products table."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, insert, select, update

from forbear.domain.contracts import ContractedProduct, ContractTerms
from forbear.domain.errors import ImportRejected, RowError
from forbear.domain.products import ProductTerms
from forbear.services.contracts import current_clauses, record_version
from forbear.services.imports.files import UnreadableFile
from forbear.services.imports.report import ImportReport
from forbear.store import models


def load_products_file(path: Path) -> list[ProductTerms]:
    """Read and validate a YAML list of products; every problem is reported at once.

    Besides the fields of :class:`ProductTerms` an entry may carry the contract clauses
    ``consent_to_collection_contact`` and ``dispute_venue``
    (:class:`~forbear.domain.contracts.ContractedProduct`)."""
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UnreadableFile(
            f"{path.name}: not valid UTF-8 YAML ({exc.__class__.__name__})"
        ) from None
    if not isinstance(raw, list) or not raw:
        raise UnreadableFile(f"{path.name}: expected a non-empty YAML list of products")
    products: list[ProductTerms] = []
    errors: list[RowError] = []
    for index, item in enumerate(raw, start=1):
        try:
            products.append(ContractedProduct.model_validate(item))
        except PydanticValidationError as exc:
            for problem in exc.errors():
                where = ".".join(str(p) for p in problem["loc"]) or "(product)"
                errors.append(RowError(index, where, problem["msg"]))
    codes = [p.code for p in products]
    for code in {c for c in codes if codes.count(c) > 1}:
        errors.append(RowError(codes.index(code) + 1, "code", f"product {code} is listed twice"))
    if errors:
        raise ImportRejected(path.name, sorted(errors, key=lambda e: e.line))
    return products


def import_products(
    conn: Connection,
    products: list[ProductTerms],
    source: str,
    *,
    effective_from: date,
    actor: str = "system:import",
) -> ImportReport:
    """Store products; an identical product is skipped, a changed one becomes a new version.

    Each version is also a contract version (:mod:`forbear.services.contracts`): loans made
    before a change keep the version they were made under, new loans get the new one.
    ``effective_from`` is when a new version takes effect: the front end passes its
    business day (``app.today()``); callers that pass nothing get the clock's UTC day.
    """
    table = models.Base.metadata.tables["products"]
    report = ImportReport(kind="products", source=source, rows_total=len(products))
    stored = {row.code: row for row in conn.execute(select(table))}
    effective = effective_from
    for entry in products:
        product = entry.product_terms() if isinstance(entry, ContractedProduct) else entry
        clauses = _clauses(entry)
        terms = product.model_dump(mode="json")
        current = stored.get(product.code)
        if current is None:
            product_id = conn.execute(
                insert(table)
                .values(
                    code=product.code,
                    version=1,
                    name_zh=product.name_zh,
                    name_en=product.name_en,
                    terms=terms,
                )
                .returning(table.c.id)
            ).scalar_one()
            record_version(
                conn, product_id, product, 1, effective_from=effective, actor=actor, **clauses
            )
            report.rows_imported += 1
        elif current.terms == terms and current_clauses(conn, current.id) == clauses:
            report.rows_skipped_existing += 1
        else:
            # A new contract version: the loans made under the old one keep it.
            conn.execute(
                update(table)
                .where(table.c.id == current.id)
                .values(
                    version=current.version + 1,
                    name_zh=product.name_zh,
                    name_en=product.name_en,
                    terms=terms,
                )
            )
            record_version(
                conn,
                current.id,
                product,
                current.version + 1,
                effective_from=effective,
                actor=actor,
                **clauses,
            )
            report.rows_updated += 1
    return report


def _clauses(entry: ProductTerms) -> dict[str, Any]:
    contract = ContractTerms.from_product(entry, version=1, effective_from=date.min)
    return {
        "consent_to_collection_contact": contract.consent_to_collection_contact,
        "dispute_venue": contract.dispute_venue,
    }
