"""Reading a products YAML file: every problem reported, nothing half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from forbear.domain.errors import ImportRejected
from forbear.services.imports import UnreadableFile, load_products_file
from forbear.sim.products import products_yaml


def test_the_shipped_example_catalogue_loads(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text(products_yaml(), encoding="utf-8")
    assert [p.code for p in load_products_file(path)] == ["CASH", "INST", "SHORT"]


def test_every_invalid_field_is_reported_with_its_product(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text(
        "- {code: A, name_zh: 甲, name_en: A, method: balloon, annual_rate_bp: 1800,"
        " penalty_rate_bp: 2700, terms_months: [12]}\n"
        "- {code: B, name_zh: 乙, name_en: B, method: equal_principal, annual_rate_bp: -1,"
        " penalty_rate_bp: 2700, terms_months: [12], day_count: 300}\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as caught:
        load_products_file(path)
    where = {(e.line, e.column) for e in caught.value.errors}
    assert where == {(1, "method"), (2, "annual_rate_bp"), (2, "day_count")}


@pytest.mark.parametrize(
    ("content", "message"),
    [("code: [unclosed", "not valid UTF-8 YAML"), ("{}", "expected a non-empty YAML list")],
)
def test_a_file_that_is_not_a_product_list_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "products.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UnreadableFile, match=message):
        load_products_file(path)
