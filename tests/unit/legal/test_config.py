"""The legal configuration: validated, and a lender's copy may only tighten it."""

from __future__ import annotations

import pytest
import yaml

from forbear.domain.errors import ConfigurationError
from forbear.domain.legal.config import default_config, default_text, load_config


def _with(**eligibility: object) -> str:
    data = yaml.safe_load(default_text())
    data["eligibility"].update(eligibility)
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_shipped_defaults_are_the_issue_s() -> None:
    rules = default_config().eligibility
    assert (rules.min_dpd, rules.min_broken_promises, rules.no_contact_days) == (90, 2, 30)
    assert rules.min_balance == 300_000
    assert rules.require_no_hold and rules.require_no_active_plan
    assert rules.require_limitation_not_expired and rules.exclude_vulnerable


def test_a_lender_may_tighten_every_threshold() -> None:
    config = load_config(
        _with(min_dpd=120, min_broken_promises=3, no_contact_days=45, min_balance=500_000)
    )
    assert config.eligibility.min_dpd == 120 and config.eligibility.min_balance == 500_000


@pytest.mark.parametrize(
    ("key", "value"),
    [("min_dpd", 60), ("min_broken_promises", 1), ("no_contact_days", 20), ("min_balance", 0)],
)
def test_loosening_a_threshold_is_refused_naming_the_key(key: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=f"eligibility.{key}: .* below the default"):
        load_config(_with(**{key: value}), source="lender-legal.yaml")


@pytest.mark.parametrize(
    "key",
    [
        "require_no_hold",
        "exclude_vulnerable",
        "require_no_active_plan",
        "require_limitation_not_expired",
    ],
)
def test_a_safeguard_cannot_be_switched_off(key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"eligibility.{key}: a safeguard"):
        load_config(_with(**{key: False}))


def test_unknown_keys_and_bad_values_are_refused_with_their_place() -> None:
    with pytest.raises(ConfigurationError, match=r"legal.yaml: eligibility.min_dpdd"):
        load_config(_with(min_dpdd=100), source="legal.yaml")
    with pytest.raises(ConfigurationError, match=r"eligibility.min_dpd: .*integer"):
        load_config(_with(min_dpd="ninety"))
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config("eligibility: [")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        load_config("- 1")
