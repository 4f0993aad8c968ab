"""Shared test factories only; database fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from forbear.domain.products import ProductTerms, RepaymentMethod


def make_product_terms(**overrides: Any) -> ProductTerms:
    """A valid product (等额本息, 12/24 months); override any field."""
    fields: dict[str, Any] = {
        "code": "CASH12",
        "name_zh": "现金贷",
        "name_en": "Cash loan",
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "annual_rate_bp": 1_800,
        "penalty_rate_bp": 2_700,
        "grace_days": 3,
        "terms_months": (12, 24),
    }
    fields.update(overrides)
    return ProductTerms(**fields)


@pytest.fixture
def product_terms_factory() -> Callable[..., ProductTerms]:
    return make_product_terms
