"""Secrets, password rules, signed values (pure: no database)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from forbear.domain.errors import ConfigurationError, ValidationError
from forbear.services import credentials
from forbear.settings import Environment, Settings
from forbear.web import security
from forbear.web.app import safe_path
from forbear.web.pages.auth import safe_next


def test_development_generates_a_private_session_secret_once(tmp_path: Path) -> None:
    settings = Settings(environment=Environment.DEVELOPMENT, data_dir=tmp_path)
    first = security.load_session_secret(settings)
    assert len(first) >= 32 and security.load_session_secret(settings) == first
    mode = (tmp_path / security.SESSION_KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_readable_secret_file_is_refused(tmp_path: Path) -> None:
    settings = Settings(environment=Environment.DEVELOPMENT, data_dir=tmp_path)
    security.load_session_secret(settings)
    (tmp_path / security.SESSION_KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        security.load_session_secret(settings)


@pytest.mark.parametrize("secret", [None, "changeme", "too-short"])
def test_production_needs_a_real_session_secret(tmp_path: Path, secret: str | None) -> None:
    settings = Settings(
        environment=Environment.PRODUCTION, data_dir=tmp_path, session_secret=secret
    )
    with pytest.raises(ConfigurationError, match="FORBEAR_SESSION_SECRET"):
        security.load_session_secret(settings)
    assert not (tmp_path / security.SESSION_KEY_FILE).exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 10"),
        ("aaaaaaaaaaaa", "different characters"),
        ("1234567890", "guess"),
        ("zhang.min-2026!", "guess"),  # holds the username
        ("x" * 300, "at most"),
    ],
)
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        credentials.check_password(password, "zhang.min")


def test_argon2_hashes_verify_and_an_unknown_user_never_matches() -> None:
    stored = credentials.hash_password("a long enough secret")
    assert stored.startswith("$argon2id$")
    assert credentials.verify_password(stored, "a long enough secret")
    assert not credentials.verify_password(stored, "a long enough secreT")
    assert not credentials.verify_password(None, "a long enough secret")
    assert not credentials.verify_password("not a hash", "a long enough secret")


def test_signed_values_refuse_tampering_other_keys_and_age() -> None:
    signer = security.CookieSigner(b"k" * 40)
    signed = signer.sign("token")
    assert signer.unsign(signed, max_age=60) == "token"
    assert signer.unsign(signed[:-2] + "xx", max_age=60) is None
    assert security.CookieSigner(b"j" * 40).unsign(signed, max_age=60) is None
    assert signer.unsign(signed, max_age=-1) is None
    assert signer.key("username", "a") != signer.key("client", "a")


def test_the_log_path_hides_what_could_be_data() -> None:
    assert safe_path("/api/v1/accounts/42/unmask") == "/api/v1/accounts/42/unmask"
    assert "13812345678" not in safe_path("/api/v1/accounts/13812345678")
    assert "张" not in safe_path("/accounts/张三")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/3", "/accounts/3"),
        ("//evil.example", "/workbench"),
        ("https://evil.example", "/workbench"),
        ("/\\evil.example", "/workbench"),
        (None, "/workbench"),
    ],
)
def test_sign_in_only_returns_to_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
