"""Importing product definitions (YAML) into the products table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.errors import Conflict, ImportRejected, RowError
from forbear.domain.products import ProductTerms
from forbear.services.imports.files import UnreadableFile
from forbear.services.imports.report import ImportReport
from forbear.store import models


def load_products_file(path: Path) -> list[ProductTerms]:
    """Read and validate a YAML list of products; every problem is reported at once."""
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
            products.append(ProductTerms.model_validate(item))
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


def import_products(conn: Connection, products: list[ProductTerms], source: str) -> ImportReport:
    """Store products; an identical product is skipped, a changed one becomes a new version."""
    table = models.Base.metadata.tables["products"]
    report = ImportReport(kind="products", source=source, rows_total=len(products))
    stored = {row.code: row for row in conn.execute(select(table))}
    for product in products:
        terms = product.model_dump(mode="json")
        current = stored.get(product.code)
        if current is None:
            conn.execute(
                insert(table).values(
                    code=product.code,
                    version=1,
                    name_zh=product.name_zh,
                    name_en=product.name_en,
                    terms=terms,
                )
            )
            report.rows_imported += 1
        elif current.terms == terms:
            report.rows_skipped_existing += 1
        else:
            # Loans keep the terms they were made under: changing the terms of a product
            # that already has loans would silently re-price them.
            loans = models.Base.metadata.tables["loans"]
            in_use = conn.execute(
                select(func.count()).select_from(loans).where(loans.c.product_id == current.id)
            ).scalar_one()
            if in_use:
                raise Conflict(
                    f"product {product.code} already has {in_use} loan(s); its terms cannot "
                    "change under them: give the new terms a new product code"
                )
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
            report.rows_updated += 1
    return report
