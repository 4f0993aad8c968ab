"""Shared test factories, and the run's template databases (tests/databases.py) dropped
at its end; database fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from databases import drop_run_templates
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's template databases (tests/databases.py) go when the whole run ends: in
    the main process, after every xdist worker has finished with them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        drop_run_templates(factory.getbasetemp())
