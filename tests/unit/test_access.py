"""Roles and permissions as data: least privilege, purpose-bound unmasking, role masking."""

from __future__ import annotations

import pytest

from forbear.domain.access import (
    AccessPolicy,
    Role,
    apply_style,
    can,
    default_policy,
    mask_for,
    may_unmask,
    parse_policy,
)
from forbear.domain.errors import ConfigurationError, ValidationError


def test_the_shipped_policy_defines_every_role() -> None:
    policy = default_policy()
    assert isinstance(policy, AccessPolicy)
    assert set(policy.roles) == set(Role)


def test_an_agent_may_unmask_only_the_mobile_and_only_to_call() -> None:
    assert may_unmask("agent", "mobile", "contact")
    assert not may_unmask("agent", "name", "contact")
    assert not may_unmask("agent", "national_id", "contact")
    assert not may_unmask("agent", "mobile", "litigation")


def test_legal_unmasks_name_id_and_address_for_litigation() -> None:
    for field in ("name", "national_id", "address"):
        assert may_unmask(Role.LEGAL, field, "litigation")
    assert not may_unmask(Role.LEGAL, "mobile", "litigation")
    assert not may_unmask(Role.LEGAL, "name", "contact")


def test_compliance_unmasks_for_complaints_and_privacy_requests() -> None:
    assert may_unmask("compliance_officer", "mobile", "complaint")
    assert may_unmask("compliance_officer", "national_id", "privacy_request")
    assert can("compliance_officer", "privacy.export")


def test_admin_has_no_access_to_personal_data_by_default() -> None:
    assert can("admin", "config.change") and can("admin", "retention.purge")
    assert not can("admin", "pii.view_masked")
    assert not can("admin", "pii.unmask")
    for field in ("name", "national_id", "mobile", "email", "address"):
        for purpose in ("contact", "litigation", "complaint", "privacy_request"):
            assert not may_unmask("admin", field, purpose)
    assert mask_for("admin", "mobile", "13812345678") == "******"


def test_only_supervisors_approve_plans_and_only_legal_manages_legal() -> None:
    assert [r.value for r in Role if can(r, "plan.approve")] == ["supervisor"]
    assert [r.value for r in Role if can(r, "legal.manage")] == ["legal"]


def test_role_masking() -> None:
    assert mask_for("agent", "mobile", "13812345678") == "138****5678"
    assert mask_for("agent", "mobile", "+86 138-1234-5678") == "138****5678"
    assert mask_for("agent", "national_id", "410105199001011234") == "410***********1234"
    assert mask_for("agent", "name", "张三") == "张*"
    assert mask_for("legal", "email", "zhangsan@example.com") == "z*******@example.com"
    assert mask_for("agency_agent", "national_id", "410105199001011234") == "******"
    assert mask_for("agency_agent", "address", "广东省深圳市南山区") == "广东省******"


def test_unknown_roles_and_permissions_are_refused_loudly() -> None:
    with pytest.raises(ValidationError, match="role"):
        can("janitor", "account.view")
    with pytest.raises(ValidationError, match="permission"):
        can("agent", "pii.everything")
    assert not may_unmask("agent", "password", "contact")


def test_a_bad_roles_file_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid roles file"):
        parse_policy("version: 1\nroles: {}\n")
    with pytest.raises(ValueError, match="masking style"):
        apply_style("keep:x", "abc")


def test_a_role_that_lists_purposes_must_hold_pii_unmask() -> None:
    from importlib import resources

    text = resources.files("forbear.domain").joinpath("access_roles.yaml").read_text("utf-8")
    broken = text.replace(
        "permissions: [account.view, pii.view_masked, pii.unmask, legal.manage]",
        "permissions: [account.view, pii.view_masked, legal.manage]",
    )
    with pytest.raises(ConfigurationError, match=r"without pii\.unmask"):
        parse_policy(broken)
