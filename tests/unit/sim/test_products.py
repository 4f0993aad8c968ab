"""The demo product catalogue."""

from __future__ import annotations

from pathlib import Path

from forbear.domain.products import RepaymentMethod
from forbear.sim.products import load_products, products_yaml

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "products.yaml"


def test_the_example_file_is_the_packaged_catalogue() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == products_yaml()


def test_three_products_with_their_methods() -> None:
    by_code = {p.code: p for p in load_products()}
    assert by_code["CASH"].method is RepaymentMethod.EQUAL_INSTALMENT
    assert by_code["INST"].method is RepaymentMethod.EQUAL_PRINCIPAL
    assert by_code["SHORT"].method is RepaymentMethod.INTEREST_ONLY
    assert by_code["CASH"].penalty_rate_bp * 2 == by_code["CASH"].annual_rate_bp * 3
    assert load_products(EXAMPLE) == load_products()
