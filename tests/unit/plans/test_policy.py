"""The plan policy file: validation naming the key, limits by role/product/tier, authority."""

from __future__ import annotations

import pytest

from forbear.domain.errors import ConfigurationError, PermissionDenied
from forbear.domain.plans import PlanRequest, PlanType, check_authority
from forbear.domain.plans.policy import BeyondAuthority, default_policy, parse_policy

POLICY = default_policy().policy


def test_the_default_policy_loads_with_a_hash() -> None:
    loaded = default_policy()
    assert len(loaded.sha256) == 64
    assert loaded.policy.roles == ("agent", "supervisor")


def test_limits_resolve_by_role_then_product_and_tier_overrides() -> None:
    agent = POLICY.limits_for("agent", "CASH", None)
    assert (agent.max_deferral_months, agent.max_settlement_discount_pct) == (2, 10)
    assert POLICY.limits_for("agent", "CASH", "E").max_settlement_discount_pct == 15
    assert POLICY.limits_for("supervisor", "CASH", "D").max_restructure_instalments == 18
    short = POLICY.limits_for("supervisor", "SHORT", "D")
    assert (short.max_restructure_instalments, short.max_settlement_discount_pct) == (6, 30)


def test_a_role_without_plan_authority_is_refused() -> None:
    with pytest.raises(PermissionDenied, match="legal"):
        POLICY.limits_for("legal", "CASH", None)


def test_an_offer_beyond_the_agents_limit_names_the_limit_and_who_may_approve() -> None:
    agent = POLICY.limits_for("agent", "CASH", None)
    supervisor = POLICY.limits_for("supervisor", "CASH", None)
    with pytest.raises(BeyondAuthority) as caught:
        check_authority(PlanRequest(PlanType.DEFERRAL, months=3), agent, supervisor)
    message = str(caught.value)
    assert "limit is 2 months" in message and "supervisor may approve up to 3 months" in message
    assert isinstance(caught.value, PermissionDenied)
    with pytest.raises(BeyondAuthority, match="beyond a supervisor's limit too"):
        check_authority(PlanRequest(PlanType.DEFERRAL, months=4), agent, supervisor)
    with pytest.raises(BeyondAuthority, match="limit is 50%"):
        check_authority(
            PlanRequest(PlanType.HARDSHIP, months=2, payment_share_pct=40), agent, supervisor
        )
    with pytest.raises(BeyondAuthority, match="penalty waiver of 60%"):
        check_authority(
            PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=60), agent
        )
    check_authority(PlanRequest(PlanType.DEFERRAL, months=3), supervisor)
    check_authority(PlanRequest(PlanType.SETTLEMENT, discount_pct=10), agent)


def policy_text() -> str:
    from importlib import resources

    return resources.files("forbear.domain").joinpath("plan_policy_default.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("offer_valid_days: 7", "offer_valid_days: 0", "offer_valid_days"),
        ("  days_late: 10", "  days_late: -1", "broken.days_late"),
        ("    max_deferral_months: 2\n", "", "limits.0: the first rule of a role sets every"),
        (
            "  - role: agent\n    max_deferral_months: 2",
            "  - role: legal\n    max_deferral_months: 2",
            "limits.0.role",
        ),
        ('  "*": {deferral_interest: accrue, restructure_interest: contract}\n', "", "treatment"),
        (
            "deferral_interest: accrue, restructure_interest: contract",
            "deferral_interest: maybe, restructure_interest: contract",
            "treatment.*.deferral",
        ),
        ("version: 1", "version: 1\ncolour: blue", "colour"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_key(old: str, new: str, key: str) -> None:
    text = policy_text()
    assert old in text
    with pytest.raises(ConfigurationError, match=key.replace("*", r"\*")):
        parse_policy(text.replace(old, new, 1), source="mine.yaml")


def test_a_policy_file_that_is_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"mine\.yaml: not valid YAML"):
        parse_policy("a: [", source="mine.yaml")
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        parse_policy("- 1", source="mine.yaml")
