"""The demo product catalogue (``products.yaml``, shipped as package data).

``examples/products.yaml`` is a byte-for-byte copy kept for people reading the import
docs; the packaged file is the one source of truth.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from forbear.domain.products import ProductTerms

PRODUCTS_RESOURCE = "products.yaml"


def products_yaml() -> str:
    """The text of the packaged demo catalogue."""
    return resources.files("forbear.sim").joinpath(PRODUCTS_RESOURCE).read_text(encoding="utf-8")


def load_products(path: Path | None = None) -> list[ProductTerms]:
    """Parse a product YAML file (default: the packaged demo catalogue) into terms."""
    text = products_yaml() if path is None else path.read_text(encoding="utf-8")
    entries = yaml.safe_load(text)
    if not isinstance(entries, list):
        raise ValueError("a product file must hold a YAML list of products")
    return [ProductTerms.model_validate(entry) for entry in entries]
