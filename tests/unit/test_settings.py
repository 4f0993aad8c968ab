"""Settings: safe defaults in development, refusals in production."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from forbear.domain.errors import ConfigurationError
from forbear.settings import Environment, Settings, new_key_text


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **overrides)  # type: ignore[call-arg]


def test_development_generates_a_private_key_file_once(tmp_path: Path) -> None:
    first = settings(tmp_path).load_key()
    key_file = tmp_path / "forbear.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings(tmp_path).load_key() == first
    assert len(first) == 32


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings(tmp_path).load_key()
    (tmp_path / "forbear.key").chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        settings(tmp_path).load_key()


def test_production_needs_a_key_and_never_writes_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="FORBEAR_ENCRYPTION_KEY is not set"):
        settings(tmp_path, environment=Environment.PRODUCTION).load_key()
    assert not (tmp_path / "forbear.key").exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("changeme", "default or empty"),
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "must decode to 32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "not random"),
    ],
)
def test_unsafe_keys_are_refused(tmp_path: Path, key: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        settings(tmp_path, environment=Environment.PRODUCTION, encryption_key=key).load_key()


def test_a_generated_key_is_accepted_in_production(tmp_path: Path) -> None:
    text = new_key_text()
    key = settings(tmp_path, environment=Environment.PRODUCTION, encryption_key=text).load_key()
    assert base64.b64encode(key).decode() == text


def test_the_default_database_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    url = settings(tmp_path).resolved_database_url
    assert url == f"sqlite:///{(tmp_path / 'forbear.db').resolve()}"


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        settings(tmp_path, lender_timezone="Mars/Olympus")
